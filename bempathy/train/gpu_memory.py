"""GPU memory of the 8B presets from first principles: training, evaluation (perplexity) and generation.

    python -m bempathy.memory --config configs/llama31-8b-qlora.yaml [--tokens 4500]

These are **estimates**, not measurements (no GPU has run these presets yet). Each term is a formula on the
published Llama-3.1-8B shape and the preset's settings, so the README's table can be recomputed and a preset
change that would not fit the GPU it names fails a test on a CPU machine:

- weights: the decoder's Linear layers in NF4 (0.5 byte per weight plus double-quantised block constants),
  embeddings, ``lm_head`` and norms in 16 bit: ~5.3 GiB (``bench/lora_params_8b.py`` gives ~5.2 without the
  quantisation constants);
- LoRA: fp32 weights and gradients plus paged 8-bit Adam (2 bytes of state) per trainable parameter;
- training activations with gradient checkpointing: each layer's 16-bit input is kept (L x tokens x hidden x 2),
  plus one layer recomputed during backward with its gradients (~15 hidden-sized and ~7 MLP-sized values per token);
- logits: TRL 1.15's fused LM head and Unsloth's chunked cross-entropy never hold batch x length x 128,256
  logits in training; bempathy's perplexity runs the head on answer positions in 64 MiB fp32 chunks
  (:data:`bempathy.model.lm_head.LOGITS_CHUNK_BYTES`); generation needs last-token logits only;
- generation: the KV cache (2 x layers x 8 KV heads x 128 x 2 bytes = 128 KiB per token) for every row of a
  batch, left-padded to its longest prompt, plus the prefill's activations;
- +10% for allocator fragmentation. The CUDA context (~0.4 GiB) is taken off the GPU's memory instead.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

GIB = 2**30
# The longest prepared example of the Kaggle corpus (answer-heavy multi-turn dialogues), in Llama 3 tokens.
CORPUS_LONGEST_TOKENS = 4500
FRAGMENTATION = 1.10
PERPLEXITY_CHUNK_BYTES = 64 * 2**20  # bempathy.model.lm_head.LOGITS_CHUNK_BYTES (not imported: no torch here)


@dataclass(frozen=True)
class Architecture:
    layers: int = 32
    hidden: int = 4096
    intermediate: int = 14336
    heads: int = 32
    kv_heads: int = 8
    head_dim: int = 128
    vocab: int = 128256

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each decoder projection."""
        h, i, kv = self.hidden, self.intermediate, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }


LLAMA31_8B = Architecture()


@dataclass(frozen=True)
class Gpu:
    name: str
    total_gib: float  # what torch.cuda.get_device_properties(0).total_memory reports
    context_gib: float = 0.4

    @property
    def usable_bytes(self) -> float:
        return (self.total_gib - self.context_gib) * GIB


GPUS = {
    "T4": Gpu("T4 16 GB (Colab, Kaggle)", 14.75),
    "RTX 3060": Gpu("RTX 3060 12 GB", 11.76),
    "A100 40GB": Gpu("A100 40 GB", 39.4),
}
# The GPUs each preset is sized for (its header comment and the README say the same).
PRESET_GPUS = {
    "llama31-8b-qlora.yaml": ("T4", "RTX 3060"),
    "llama31-8b-unsloth.yaml": ("T4", "RTX 3060"),
}


def weights_bytes(arch: Architecture = LLAMA31_8B, load_in_4bit: bool = True) -> float:
    linear = arch.layers * sum(a * b for a, b in arch.linear_shapes().values())
    other = 2 * arch.vocab * arch.hidden + (2 * arch.layers + 1) * arch.hidden
    if not load_in_4bit:
        return 2 * (linear + other)
    # NF4: half a byte per weight; one 8-bit absmax per 64 weights, and one fp32 per 256 of those (double quant).
    return linear * 0.5 + linear / 64 * (1 + 4 / 256) + 2 * other


def lora_parameters(r: int, modules: list[str], arch: Architecture = LLAMA31_8B) -> int:
    shapes = arch.linear_shapes()
    return arch.layers * sum(r * (shapes[m][0] + shapes[m][1]) for m in modules if m in shapes)


def _per_token_inference_bytes(arch: Architecture) -> float:
    """Live activations of one decoder layer in a forward without gradients (the MLP's peak), per token."""
    return (2 * arch.hidden + 3 * arch.intermediate) * 2


def training_bytes(
    batch: int, tokens: int, lora_params: int, arch: Architecture = LLAMA31_8B, checkpointing: bool = True
) -> dict[str, float]:
    n = batch * tokens
    h, i = arch.hidden, arch.intermediate
    per_layer_token = (15 * h + 7 * i) * 2  # saved forward values + backward transients of one layer
    parts = {
        "weights (NF4)": weights_bytes(arch),
        "LoRA weights, grads, 8-bit Adam": lora_params * (4 + 4 + 2),
        "checkpointed layer inputs": (arch.layers if checkpointing else 0) * n * h * 2,
        "activations of the recomputed layer": (1 if checkpointing else arch.layers) * n * per_layer_token,
        "fused LM head + loss": n * h * 6 + 0.25 * GIB,
        "dequantised weight buffers": 2 * h * i * 2,
    }
    return parts


def evaluation_bytes(batch: int, tokens: int, lora_params: int, arch: Architecture = LLAMA31_8B) -> dict[str, float]:
    """Perplexity with bempathy's chunked LM head (answer positions only, fp32 per chunk)."""
    n = batch * tokens
    return {
        "weights (NF4)": weights_bytes(arch),
        "adapter (fp32)": lora_params * 4,
        "forward activations": n * _per_token_inference_bytes(arch) + n * arch.hidden * 2,
        "LM head chunk (fp32 logits, log-softmax)": PERPLEXITY_CHUNK_BYTES * 2.5,
    }


def full_logits_bytes(batch: int, tokens: int, arch: Architecture = LLAMA31_8B) -> float:
    """What the earlier perplexity held on top: 16-bit logits for the batch, one row upcast, its log-softmax."""
    return batch * tokens * arch.vocab * 2 + 2 * tokens * arch.vocab * 4


def generation_bytes(
    rows: int, prompt_tokens: int, new_tokens: int, lora_params: int, arch: Architecture = LLAMA31_8B
) -> dict[str, float]:
    kv_per_token = 2 * arch.layers * arch.kv_heads * arch.head_dim * 2
    return {
        "weights (NF4)": weights_bytes(arch),
        "adapter (fp32)": lora_params * 4,
        "KV cache": rows * (prompt_tokens + new_tokens) * kv_per_token,
        "prefill activations": rows * prompt_tokens * _per_token_inference_bytes(arch),
        "last-token logits (fp32)": rows * arch.vocab * 4 * 2,
    }


def total(parts: dict[str, float]) -> float:
    return sum(parts.values()) * FRAGMENTATION


def preset_estimates(config: Any, tokens: int = CORPUS_LONGEST_TOKENS) -> dict[str, dict[str, float]]:
    """Training, evaluation and generation estimates (bytes, by part) for a parsed 8B preset at ``tokens``."""
    lora = lora_parameters(config.model.lora_r, list(config.model.lora_target_modules or []))
    train = config.train
    return {
        "training": training_bytes(
            train.per_device_train_batch_size, tokens, lora, checkpointing=bool(train.gradient_checkpointing)
        ),
        "evaluation": evaluation_bytes(train.per_device_eval_batch_size, tokens, lora),
        "generation": generation_bytes(config.eval.generation_batch_size, tokens, config.eval.max_new_tokens, lora),
    }


def format_estimates(config: Any, tokens: int = CORPUS_LONGEST_TOKENS) -> str:
    estimates = preset_estimates(config, tokens)
    train = config.train
    settings = {
        "training": f"batch {train.per_device_train_batch_size} x {tokens} tokens",
        "evaluation": f"perplexity batch {train.per_device_eval_batch_size} x {tokens} tokens",
        "generation": f"{config.eval.generation_batch_size} rows x ({tokens} + {config.eval.max_new_tokens}) tokens",
    }
    lines = [f"{config.preset}: estimated GPU memory (first principles, not measured)"]
    for stage, parts in estimates.items():
        lines.append(f"  {stage:<11}{total(parts) / GIB:5.1f} GiB   {settings[stage]}")
        lines += [f"      {name:<42}{value / GIB:6.2f} GiB" for name, value in parts.items()]
    for gpu in GPUS.values():
        fits = all(total(parts) <= gpu.usable_bytes for parts in estimates.values())
        lines.append(f"  {gpu.name:<26}{'fits' if fits else 'does NOT fit'} ({gpu.usable_bytes / GIB:.1f} GiB usable)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bempathy.config import parse_config

    parser = argparse.ArgumentParser(
        prog="python -m bempathy.memory", description="Estimated GPU memory of an 8B preset (not a measurement)."
    )
    parser.add_argument("--config", default="configs/llama31-8b-qlora.yaml")
    parser.add_argument("--tokens", type=int, default=CORPUS_LONGEST_TOKENS, help="longest example, in tokens")
    args, rest = parser.parse_known_args(argv)
    print(format_estimates(parse_config(["--config", args.config, *rest]), args.tokens))
    return 0

"""GPU memory of the 8B presets from first principles: training, evaluation (perplexity), generation, preference.

    python -m bempathy.memory --config configs/llama31-8b-qlora.yaml [--tokens 4500]
    python -m bempathy.memory --config configs/llama31-8b-qlora.yaml --stage preference [--tokens 2285]

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

The preference stage (:func:`preference_bytes`) reuses the training terms; what TRL does there is in its docstring.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GIB = 2**30
# The longest prepared example of the Kaggle corpus (answer-heavy multi-turn dialogues), in Llama 3 tokens.
CORPUS_LONGEST_TOKENS = 4500
FRAGMENTATION = 1.10
PERPLEXITY_CHUNK_BYTES = 64 * 2**20  # bempathy.model.lm_head.LOGITS_CHUNK_BYTES (not imported: no torch here)
# TRL's fused LM head (trl/kernels/chunked_logprob.py, the same in 1.15 and 1.16) projects one 16-bit tile of
# TOKEN_CHUNK_SIZE (4,096) tokens x _CHUNKED_LOGPROB_CHUNK_SIZE (32,768, trl/trainer/utils.py) vocabulary entries.
FUSED_HEAD_TILE_BYTES = 4096 * 32768 * 2
# 99% of the corpus's prepared examples (system + question + answer, Llama 3 tokens; DESIGN.md) are this long or less.
CORPUS_P99_TOKENS = 1900
PREFERENCE_LOSSES = ("dpo", "kto")
# TRL (1.15 and 1.16) refuses per_device_train_batch_size 1 for KTO: its KL sample pairs each prompt with the
# completion of a neighbour in the same device batch ("Actual (not effective) batch size must be > 1").
KTO_MIN_BATCH = 2


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


def weights_bytes(arch: Architecture = LLAMA31_8B, load_in_4bit: bool = True, nested_quant: bool = True) -> float:
    linear = arch.layers * sum(a * b for a, b in arch.linear_shapes().values())
    other = 2 * arch.vocab * arch.hidden + (2 * arch.layers + 1) * arch.hidden
    if not load_in_4bit:
        return 2 * (linear + other)
    # NF4: half a byte per weight; one 8-bit absmax per 64 weights, and one fp32 per 256 of those (double quant);
    # without double quantisation (use_bnb_nested_quant false) one fp32 absmax per 64 weights.
    constants = (1 + 4 / 256) if nested_quant else 4
    return linear * 0.5 + linear / 64 * constants + 2 * other


def lora_parameters(r: int, modules: list[str], arch: Architecture = LLAMA31_8B) -> int:
    shapes = arch.linear_shapes()
    return arch.layers * sum(r * (shapes[m][0] + shapes[m][1]) for m in modules if m in shapes)


def _per_token_inference_bytes(arch: Architecture) -> float:
    """Live activations of one decoder layer in a forward without gradients (the MLP's peak), per token."""
    return (2 * arch.hidden + 3 * arch.intermediate) * 2


def no_grad_forward_bytes(n: int, arch: Architecture = LLAMA31_8B) -> float:
    """A forward of ``n`` tokens without gradients: one layer's transients plus the 16-bit hidden states."""
    return n * _per_token_inference_bytes(arch) + n * arch.hidden * 2


def training_bytes(
    batch: int,
    tokens: int,
    lora_params: int,
    arch: Architecture = LLAMA31_8B,
    checkpointing: bool = True,
    nested_quant: bool = True,
) -> dict[str, float]:
    n = batch * tokens
    h, i = arch.hidden, arch.intermediate
    per_layer_token = (15 * h + 7 * i) * 2  # saved forward values + backward transients of one layer
    parts = {
        "weights (NF4)": weights_bytes(arch, nested_quant=nested_quant),
        "LoRA weights, grads, 8-bit Adam": lora_params * (4 + 4 + 2),
        "checkpointed layer inputs": (arch.layers if checkpointing else 0) * n * h * 2,
        "activations of the recomputed layer": (1 if checkpointing else arch.layers) * n * per_layer_token,
        "fused LM head + loss": n * h * 6 + FUSED_HEAD_TILE_BYTES,
        "dequantised weight buffers": 2 * h * i * 2,
    }
    return parts


def evaluation_bytes(batch: int, tokens: int, lora_params: int, arch: Architecture = LLAMA31_8B) -> dict[str, float]:
    """Perplexity with bempathy's chunked LM head (answer positions only, fp32 per chunk)."""
    n = batch * tokens
    return {
        "weights (NF4)": weights_bytes(arch),
        "adapter (fp32)": lora_params * 4,
        "forward activations": no_grad_forward_bytes(n, arch),
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


def preference_rows(loss: str, batch: int) -> int:
    """Sequences in the forward that gets gradients: a DPO pair is two (chosen, rejected), a KTO row one."""
    if loss not in PREFERENCE_LOSSES:
        raise ValueError(f"unknown preference loss {loss!r}; expected one of {', '.join(PREFERENCE_LOSSES)}")
    return 2 * batch if loss == "dpo" else batch


def preference_bytes(
    loss: str,
    batch: int,
    tokens: int,
    lora_params: int,
    arch: Architecture = LLAMA31_8B,
    checkpointing: bool = True,
    precompute_ref: bool = False,
    nested_quant: bool = True,
) -> dict[str, float]:
    """One step of TRL's DPO or KTO on a run's adapter (bytes, by part): an estimate, never a measurement.

    What TRL does, read in trl 1.16.0 (the CPU pins) and 1.15.0 (the GPU pins; the same code on these points):
    - two adapters on one 4-bit base: given a PEFT model and no ``peft_config``, ``DPOTrainer``/``KTOTrainer.__init__``
      add a ``ref`` adapter and copy the trained one into it (``model.add_adapter("ref", ...)``); only ``default``
      is trainable and in the optimiser, so ``ref`` costs its fp32 weights only;
    - DPO: ``DataCollatorForPreference`` puts the chosen and the rejected rows of a batch into one tensor
      (``input_ids = prompt_chosen_ids + prompt_rejected_ids``, right-padded together), so the policy's forward and
      backward run over 2 x batch rows: the SFT training terms at twice the rows (:func:`training_bytes`);
    - the reference: the same model under ``torch.no_grad()`` with ``use_adapter(model, "ref")``, after the policy's
      forward, while its graph is alive (``_compute_loss``). Nothing is kept for backward, so it costs one layer's
      transients and an LM-head tile, which the backward's recomputed layer and tile exceed: the part is what it
      adds above them (0 here). ``precompute_ref_log_probs`` moves these forwards into one pass before training
      (``_precompute_ref_logps``, with no optimiser state or graph yet), leaving the step none. bempathy leaves it
      off (TRL's default);
    - KTO: one completion row per example plus a KL row (a neighbour's completion with this prompt); the KL rows run
      under ``no_grad`` only (policy before its forward, reference after), so the trained forward has batch rows;
      TRL refuses batch 1 (:data:`KTO_MIN_BATCH`);
    - logits: both trainers call ``add_fused_lm_head`` and ``model(..., fused_lm_head=True)`` for policy and reference
      (trl/trainer/utils.py, trl/kernels/chunked_logprob.py): log-probabilities over completion positions, one
      4,096 x 32,768 tile at a time (:data:`FUSED_HEAD_TILE_BYTES`); never batch x length x 128,256 logits.
    """
    rows = preference_rows(loss, batch)
    parts = training_bytes(rows, tokens, lora_params, arch, checkpointing, nested_quant)
    parts["frozen ref adapter (fp32, no grads)"] = lora_params * 4
    # The reference forward and the backward's transients are never live together, and both use one LM-head tile:
    # it adds only what its layer transients exceed the recomputed layer's by.
    reference = 0.0 if precompute_ref else no_grad_forward_bytes(rows * tokens, arch)
    recomputed = parts["activations of the recomputed layer"]
    parts["ref forward, no_grad (over the backward)"] = max(0.0, reference - recomputed)
    return parts


def total(parts: dict[str, float]) -> float:
    return sum(parts.values()) * FRAGMENTATION


def _preset_lora(config: Any) -> int:
    return lora_parameters(config.model.lora_r, list(config.model.lora_target_modules or []))


def preset_estimates(config: Any, tokens: int = CORPUS_LONGEST_TOKENS) -> dict[str, dict[str, float]]:
    """Training, evaluation and generation estimates (bytes, by part) for a parsed 8B preset at ``tokens``."""
    lora = _preset_lora(config)
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


def preference_row_tokens(config: Any) -> int:
    """A realistic preference row: a rated item's prompt (system + corpus question) and its generated answer.

    A corpus question is part of a prepared example, and 99% of those (question and reference answer together) are
    at most :data:`CORPUS_P99_TOKENS`; the rated answer is at most ``max_new_tokens`` plus its ``<|eot_id|>``.
    """
    return CORPUS_P99_TOKENS + config.eval.max_new_tokens + 1


def preference_batch(loss: str, batch: int) -> int:
    """The per-device batch a preference loss can run with: the training one, raised to TRL's minimum for KTO."""
    return max(batch, KTO_MIN_BATCH) if loss == "kto" else batch


def preference_estimates(config: Any, tokens: int, precompute_ref: bool = False) -> dict[str, dict[str, float]]:
    """DPO and KTO estimates (bytes, by part) for a parsed preset at ``tokens`` per row.

    The preference stage carries the training batch and checkpointing (bempathy.train.preference) and always loads
    with PEFT + bitsandbytes, never Unsloth, so an Unsloth preset's 4-bit options decide its weights here.
    """
    lora, train, model = _preset_lora(config), config.train, config.model
    return {
        loss: preference_bytes(
            loss,
            preference_batch(loss, train.per_device_train_batch_size),
            tokens,
            lora,
            checkpointing=bool(train.gradient_checkpointing),
            precompute_ref=precompute_ref,
            nested_quant=bool(model.use_bnb_nested_quant),
        )
        for loss in PREFERENCE_LOSSES
    }


def longest_fitting_tokens(estimate: Callable[[int], dict[str, float]], gpu: Gpu, limit: int = 1 << 17) -> int:
    """The longest row (tokens) whose estimate fits ``gpu`` (0: none does); the estimate grows with tokens."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if total(estimate(mid)) <= gpu.usable_bytes else (low, mid - 1)
    return low


def format_preference(config: Any, tokens: int) -> str:
    estimates = preference_estimates(config, tokens)
    batch = config.train.per_device_train_batch_size
    lines = [
        f"{config.preset}: estimated GPU memory of --stage preference (first principles, not measured)",
        f"  rows of {tokens} tokens; PEFT on one 4-bit base with two adapters (the run's, trained, and TRL's frozen "
        f"`ref` copy); gradient accumulation {config.train.gradient_accumulation_steps}",
    ]
    for loss, parts in estimates.items():
        rows, used = preference_rows(loss, preference_batch(loss, batch)), preference_batch(loss, batch)
        dpo, pairs = loss == "dpo", f"{used} pair{'s' if used > 1 else ''}"
        what = f"{pairs} = {rows} rows (chosen + rejected, one forward)" if dpo else f"{rows} rows"
        extra = "" if dpo else " (+ as many KL rows, no_grad)"
        chosen = "  <- preference_loss" if loss == config.preference.preference_loss else ""
        lines.append(f"  {loss:<11}{total(parts) / GIB:5.1f} GiB   batch {what} x {tokens} tokens{extra}{chosen}")
        if used != batch:
            lines.append(
                f"      TRL refuses KTO at batch {batch}: run it with --per_device_train_batch_size {used} "
                f"--gradient_accumulation_steps {max(1, config.train.gradient_accumulation_steps * batch // used)}"
            )
        lines += [f"      {name:<42}{value / GIB:6.2f} GiB" for name, value in parts.items()]
    for gpu in GPUS.values():
        verdicts = []
        for loss in PREFERENCE_LOSSES:
            fits = total(estimates[loss]) <= gpu.usable_bytes
            longest = longest_fitting_tokens(lambda n, loss=loss: preference_estimates(config, n)[loss], gpu)
            verdicts.append(f"{loss} {'fits' if fits else 'does NOT fit'} (rows up to ~{longest:,} tokens)")
        lines.append(f"  {gpu.name:<26}{'; '.join(verdicts)} ({gpu.usable_bytes / GIB:.1f} GiB usable)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bempathy.config import parse_config

    parser = argparse.ArgumentParser(
        prog="python -m bempathy.memory",
        description="Estimated GPU memory of an 8B preset (first principles, not a measurement). Other options "
        "(e.g. --per_device_train_batch_size 2) are the preset's own and override it, as in train.py.",
    )
    parser.add_argument("--config", default="configs/llama31-8b-qlora.yaml")
    parser.add_argument(
        "--stage",
        choices=["sft", "preference"],
        default="sft",
        help="sft: training, perplexity and generation (train.py --stage train/evaluate/all); preference: DPO and "
        "KTO on a trained run's adapter (train.py --stage preference)",
    )
    parser.add_argument(
        "--tokens",
        type=int,
        default=None,
        help=f"sft: the longest example (default {CORPUS_LONGEST_TOKENS}); preference: the longest row, prompt + "
        f"answer (default {CORPUS_P99_TOKENS} + max_new_tokens + 1: a rated item's prompt and generated answer)",
    )
    args, rest = parser.parse_known_args(argv)
    config = parse_config(["--config", args.config, *rest])
    if args.stage == "preference":
        print(format_preference(config, args.tokens or preference_row_tokens(config)))
    else:
        print(format_estimates(config, args.tokens or CORPUS_LONGEST_TOKENS))
    return 0

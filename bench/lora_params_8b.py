"""Check the 8B presets' LoRA set-up against the real LLaMA 3.1-8B architecture, without a GPU or weights.

    python bench/lora_params_8b.py [--config configs/llama31-8b-qlora.yaml]

Builds LlamaForCausalLM from the published Llama-3.1-8B shape on PyTorch's `meta` device (no memory is
allocated, nothing is downloaded), applies the preset's LoRA config through TRL exactly as training does, and
prints the trainable and total parameter counts and which modules were adapted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from peft import get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM
from trl import get_peft_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing
from bempathy.config import parse_config

# Llama-3.1-8B-Instruct's config.json (architecture fields only).
LLAMA31_8B = LlamaConfig(
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=131072,
    rope_theta=500000.0,
    tie_word_embeddings=False,
)


def main(argv: list[str]) -> int:
    config = parse_config(argv or ["--config", "configs/llama31-8b-qlora.yaml"])
    with torch.device("meta"):
        model = LlamaForCausalLM(LLAMA31_8B)
    model = get_peft_model(model, get_peft_config(config.model))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    adapted = sorted({name.split(".")[-2] for name, _ in model.named_modules() if name.endswith("lora_A")})
    print(f"preset          {config.preset}")
    print(f"LoRA            r={config.model.lora_r} alpha={config.model.lora_alpha} modules={adapted}")
    print(f"trainable       {trainable:,} ({trainable / total:.3%} of {total:,})")
    # bitsandbytes quantises the decoder's Linear layers; embeddings, lm_head and norms stay in bf16.
    linear = sum(
        m.base_layer.weight.numel() if hasattr(m, "base_layer") else m.weight.numel()
        for name, m in model.named_modules()
        if ".layers." in name and name.endswith(("_proj",))
    )
    base = total - trainable
    nf4 = linear * 0.5 + (base - linear) * 2
    print(f"base weights    bf16 {base * 2 / 2**30:.1f} GiB; NF4 (decoder Linear layers 4-bit) ~{nf4 / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

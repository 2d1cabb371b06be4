"""The model benchmarks train and generate with: Llama 3.1's architecture family at a size the machine can run.

On a CPU: a small Llama (2 layers, hidden 64) with the **real vocabulary size** (128,256), so the embedding and
the LM head, a large share of the cost of a real step on short Bengali examples, cost what they cost. On a GPU
(``bench/gpu.sh``): the real 8B shape. Weights are random (seeded): speed does not depend on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LLAMA31_VOCAB = 128256

# Small: a CPU can run an epoch of corpus-shaped data at full length in a minute or two.
SMALL = {
    "hidden_size": 64,
    "intermediate_size": 172,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
}
# meta-llama/Llama-3.1-8B-Instruct's config.json (the parts that set the shape).
LLAMA31_8B = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
}
SHAPES = {"small": SMALL, "8b": LLAMA31_8B}


def llama_config(shape: str = "small", tokenizer: Any | None = None) -> Any:
    """A LlamaConfig of the named shape with Llama 3.1's vocabulary and special-token ids (from ``tokenizer``
    when given, so a tiny tokenizer's pad and eos ids are valid)."""
    from transformers import LlamaConfig

    ids: dict[str, int] = {"bos_token_id": 128000, "eos_token_id": 128009, "pad_token_id": 128004}
    if tokenizer is not None:
        ids = {
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.convert_tokens_to_ids("<|eot_id|>"),
            "pad_token_id": tokenizer.pad_token_id,
        }
    return LlamaConfig(
        vocab_size=LLAMA31_VOCAB,
        max_position_embeddings=131072,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        use_cache=False,
        **ids,
        **SHAPES[shape],
    )


def build_model(
    shape: str = "small", tokenizer: Any | None = None, seed: int = 0, dtype: Any = None, device: Any = None
) -> Any:
    """A seeded random-weight LlamaForCausalLM of the named shape, created directly on ``device`` in ``dtype``
    (the 8B shape in fp32 on a CPU would need 32 GB; on ``"meta"`` it allocates nothing)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    if dtype is not None:
        torch.set_default_dtype(dtype)
    try:
        with torch.device(device or "cpu"):
            model = LlamaForCausalLM(llama_config(shape, tokenizer))
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def save_model(path: Path, shape: str = "small", tokenizer: Any | None = None, seed: int = 0) -> Path:
    """Save a seeded random model (and the tokenizer) where ``from_pretrained`` can load it."""
    model = build_model(shape, tokenizer, seed)
    model.save_pretrained(path)
    if tokenizer is not None:
        tokenizer.save_pretrained(path)
    return path


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())

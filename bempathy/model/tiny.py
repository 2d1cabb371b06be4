"""Tiny Llama 3.1 look-alikes, built locally, for tests, the ``tiny-cpu`` preset and the demo.

Tests and the CPU demo must run the real pipeline (chat template, assistant-only loss, padding, generation,
saving) without downloading 16 GB or touching the Hub. So we train a small byte-level BPE on our own sample
data and wrap it exactly the way Llama 3.1 Instruct's tokenizer is wrapped (same special tokens, BOS added by
the post-processor, eos = ``<|eot_id|>``, a dedicated pad token), and save it next to a ~1.8M-parameter
``LlamaForCausalLM`` with Llama 3.1's shape choices (GQA, rope theta 500k, untied head, two eos ids).
The result is a normal model directory: ``from_pretrained(tiny_model_dir())`` works like a hub id.

Two models, two names:
- ``tiny``: random weights, built in well under a second. Unit tests use it for everything that checks the
  plumbing (tokenizer, masks, padding, saving), where what the model says does not matter.
- ``tiny-bn`` (the ``tiny-cpu`` preset, so the demo and the app): the same model after a short plain-torch
  pre-training on the sample data's *questions* and titles (the system prompt as context only; never the
  answers), cached like the other. A random model answers with one token repeated, so base and fine-tuned would be
  noise against noise; this base writes Bengali in the askers' voice, and the LoRA fine-tune on the answers
  is what moves it towards the counsellor's.
Every directory built here carries ``bempathy_tiny.json`` (name, recipe, timings), which is how
:func:`is_tiny_model` recognises a demo model from its path alone.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import tokenizers
import torch
import transformers
from filelock import FileLock
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from bempathy import prompts
from bempathy.paths import SAMPLE_DIR, cache_root
from bempathy.text import normalize_text

logger = logging.getLogger(__name__)

TINY_MODEL_NAME = "tiny"  # random weights: fast to build, for tests of the plumbing
TINY_BN_MODEL_NAME = "tiny-bn"  # pre-trained on the sample questions: the demo's base model
TINY_MODEL_NAMES = (TINY_MODEL_NAME, TINY_BN_MODEL_NAME)
MARKER_FILE = "bempathy_tiny.json"
# Bump when the build code changes, so every cached copy is rebuilt (the model shape and the pre-training
# recipe's fields are hashed into the cache key by themselves).
TINY_VERSION = "2"
VOCAB_SIZE = 4096
TEXT_COLUMNS = ("Questions", "Answers", "Question-Title")
# Llama 3's own pre-tokenizer split (from its tokenizer.json). Note that \p{L} excludes Bengali vowel signs
# and the hasanta (category M), so words split at them exactly as they do under the real tokenizer.
# Llama 3.1's proportions (GQA, SwiGLU width ~2.75x hidden), scaled down; the embeddings and head are most of it.
MODEL_SHAPE = {
    "hidden_size": 128,
    "intermediate_size": 352,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
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
        **MODEL_SHAPE,
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


@dataclass(frozen=True)
class PretrainRecipe:
    """How ``tiny-bn`` learns to write Bengali: causal-LM training on the questions alone, never the answers.

    Each conversation of the sample data (consecutive rows sharing topic and title, as the prepare stage
    groups them) is rendered with the chat template as its user turns (the title opens the first, as in
    ``title_and_question``), one in ``system_prompt_every`` after the system prompt; the renderings are
    shuffled and packed into ``block_size``-token blocks each epoch. The system prompt is context only (no
    loss on it), so the base does not learn to recite its counselling phrases. The base thus writes like
    the people asking (first person, their worries), and only the fine-tune shows it how the answers
    sound. Every field is part of the cache key.
    """

    steps: int = 450
    batch_size: int = 4
    block_size: int = 256
    learning_rate: float = 3e-3
    warmup_steps: int = 45
    min_lr_ratio: float = 0.1  # cosine decay down to this share of the peak
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    # The system prompt opens one conversation in this many: it is context only, and 219 tokens of context per
    # ~130 tokens of questions would spend most of the budget on it.
    system_prompt_every: int = 4
    seed: int = 0
    text: str = "questions (titles first) as user turns, some after the system prompt as context; no answers"


PRETRAIN_RECIPE = PretrainRecipe()


def _fingerprint(files: dict[str, bytes], recipe: PretrainRecipe | None = None) -> str:
    """Short hash of everything the build depends on: edit the data, the template or the recipe and it rebuilds."""
    digest = hashlib.sha256()
    parts = [TINY_VERSION, transformers.__version__, tokenizers.__version__]
    parts += [prompts.SYSTEM_PROMPT, prompts.LLAMA31_CHAT_TEMPLATE, json.dumps(MODEL_SHAPE, sort_keys=True)]
    if recipe is not None:
        parts += [torch.__version__, json.dumps(asdict(recipe), sort_keys=True)]
    for part in parts:
        digest.update(part.encode() + b"\0")
    for name, raw in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(raw).digest())
    return digest.hexdigest()[:12]


def _question_conversations(files: dict[str, bytes]) -> list[list[str]]:
    """The user turns of every conversation, grouped and cleaned the way the prepare stage does it."""
    conversations: list[list[str]] = []
    for raw in files.values():
        text = raw.decode("utf-8-sig", errors="replace")
        previous = None
        for row in csv.DictReader(io.StringIO(text, newline="")):
            topic = (row.get("Topics") or "").strip()
            title = normalize_text(row.get("Question-Title") or "")
            question = normalize_text(row.get("Questions") or "")
            key = (topic, title)
            if not question:  # dropped by the prepare stage too; the conversation goes on without it
                continue
            if key != previous or not any(key):
                conversations.append([f"{title}\n\n{question}" if title else question])
            else:
                conversations[-1].append(question)
            previous = key
    return conversations


def _pretraining_documents(
    tokenizer: PreTrainedTokenizerFast, files: dict[str, bytes], system_prompt_every: int
) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per conversation: [system prompt,] its user turns; the system part unlabelled."""
    system = [{"role": "system", "content": prompts.SYSTEM_PROMPT}]
    system_ids = tokenizer.apply_chat_template(system, tokenize=True, return_dict=False)
    documents = []
    for number, turns in enumerate(_question_conversations(files)):
        with_system = system_prompt_every > 0 and number % system_prompt_every == 0
        messages = (system if with_system else []) + [{"role": "user", "content": turn} for turn in turns]
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
        labels = list(ids)
        if with_system:
            if ids[: len(system_ids)] != system_ids:  # the template renders turns independently; checked anyway
                raise RuntimeError("the chat template does not render the system turn as a prefix")
            # BOS stays labelled (packing puts document starts mid-block); the system prompt is context only.
            labels[1 : len(system_ids)] = [-100] * (len(system_ids) - 1)
        documents.append((ids, labels))
    if not documents:
        raise ValueError("the sample data has no questions to pre-train on")
    return documents


def _blocks(documents, block_size: int, generator: torch.Generator) -> Iterator[tuple[list[int], list[int]]]:
    """Endless full-length blocks: every epoch shuffles the documents, concatenates and cuts them."""
    ids: list[int] = []
    labels: list[int] = []
    while True:
        for index in torch.randperm(len(documents), generator=generator).tolist():
            ids += documents[index][0]
            labels += documents[index][1]
            while len(ids) >= block_size:
                yield ids[:block_size], labels[:block_size]
                del ids[:block_size], labels[:block_size]


def pretrain_tiny_model(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    files: dict[str, bytes],
    recipe: PretrainRecipe = PRETRAIN_RECIPE,
) -> dict[str, float]:
    """Train ``model`` in place on the sample questions (AdamW, warm-up then cosine); returns a summary.

    Plain torch, no Trainer: the app imports this module and must start fast. Seeded locally (the caller's
    RNG is untouched), so a rebuild on the same machine gives the same weights.
    """
    documents = _pretraining_documents(tokenizer, files, recipe.system_prompt_every)
    n_tokens = sum(len(ids) for ids, _ in documents)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.learning_rate,
        betas=(0.9, 0.95),
    )

    def lr_factor(step: int) -> float:
        if step < recipe.warmup_steps:
            return (step + 1) / recipe.warmup_steps
        progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
        return recipe.min_lr_ratio + (1 - recipe.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    started = time.perf_counter()
    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        blocks = _blocks(documents, recipe.block_size, torch.Generator().manual_seed(recipe.seed))
        model.train()
        for _ in range(recipe.steps):
            batch = [next(blocks) for _ in range(recipe.batch_size)]
            input_ids = torch.tensor([ids for ids, _ in batch])
            labels = torch.tensor([lab for _, lab in batch])
            loss = model(input_ids=input_ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
    model.eval()
    tail = losses[-10:]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "documents": len(documents),
        "tokens_per_epoch": n_tokens,
        "epochs": round(recipe.steps * recipe.batch_size * recipe.block_size / n_tokens, 1),
        "first_loss": round(losses[0], 3),
        "final_loss": round(sum(tail) / len(tail), 3),
    }


def _n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def tiny_model_dir(
    cache_dir: Path | str | None = None, data_dir: Path | str | None = None, *, pretrained: bool = False
) -> Path:
    """Directory holding a tiny model and its tokenizer, built on first use and cached.

    ``pretrained=False`` is ``tiny`` (random weights); ``pretrained=True`` is ``tiny-bn`` (the same start,
    then :func:`pretrain_tiny_model`). Cache root: ``cache_dir``, else ``$BEMPATHY_CACHE``, else
    ``~/.cache/bempathy``. The build goes to a temp dir that is renamed into place under a file lock, so
    concurrent processes (multi-process training tests) never see a half-written model: the first builds,
    the others wait and reuse it.
    """
    root = cache_root(cache_dir)
    files = _read_sample_csvs(Path(data_dir) if data_dir else SAMPLE_DIR)
    recipe = PRETRAIN_RECIPE if pretrained else None
    name = TINY_BN_MODEL_NAME if pretrained else TINY_MODEL_NAME
    target = root / f"{name}-llama31-{_fingerprint(files, recipe)}"
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
            model = build_tiny_model(tokenizer)
            marker: dict = {"name": name, "version": TINY_VERSION, "parameters": _n_parameters(model)}
            if recipe is None:
                marker["description"] = "random weights (no training): for tests of the pipeline's plumbing"
            else:
                marker["description"] = _describe_pretrained(recipe)
                marker["pretraining"] = {**asdict(recipe), **pretrain_tiny_model(model, tokenizer, files, recipe)}
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            marker["build_seconds"] = round(time.perf_counter() - started, 1)
            (tmp / MARKER_FILE).write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("Built %s model in %s (%.1f s)", name, target, time.perf_counter() - started)
    return target


def resolve_model_name(name: str, cache_dir: Path | str | None = None) -> str:
    """Map ``"tiny"``/``"tiny-bn"`` to their local model directories; any other name passes through."""
    if name == TINY_MODEL_NAME:
        return str(tiny_model_dir(cache_dir))
    if name == TINY_BN_MODEL_NAME:
        return str(tiny_model_dir(cache_dir, pretrained=True))
    return name


def is_tiny_model(name_or_path: str | os.PathLike) -> bool:
    """True for the tiny names and for any directory built here (it holds ``bempathy_tiny.json``).

    Directories from before the marker (``tiny-llama31-<hash>``, still named in old adapters' configs) count
    too. A hub id or any other model is False; nothing is built or downloaded to decide.
    """
    text = str(name_or_path)
    if text in TINY_MODEL_NAMES:
        return True
    path = Path(text).expanduser()
    try:
        if (path / MARKER_FILE).is_file():
            return True
        return path.name.startswith("tiny-llama31-") and (path / "config.json").is_file()
    except OSError:  # e.g. a name too long for the file system
        return False


def _describe_pretrained(recipe: PretrainRecipe, took: str = "") -> str:
    return (
        f"The demo model is a 1.8M-parameter Llama pre-trained for {recipe.steps} steps{took} on the sample data's "
        "questions alone, then LoRA-tuned on its answers: it shows the pipeline at work, not real empathy."
    )


# What the app and the report say about the demo model (its pre-training time: bench/RESULTS.md, "The demo model").
DEMO_MODEL_NOTE = _describe_pretrained(PRETRAIN_RECIPE, " (about a minute on two CPU cores)")

"""DatasetProcessor: corpus -> cleaned, chat-formatted, group-split examples, with a report of every drop.

The Bengali Empathetic Conversations Corpus mixes long counselling Q&A with short multi-turn dialogues
whose consecutive rows share ``Topics`` + ``Question-Title``. Splitting by row would leak a conversation's
context from train into test, so rows are grouped into conversations (in file order) *before* cleaning and
whole groups are assigned to a split. Nothing is cut for length: a length cap (``max_length``) is explicit
and drops, counts and names the rows it would cut.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bempathy.config import DataArguments
from bempathy.prompts import SYSTEM_PROMPT
from bempathy.text import dedup_key, language_of, normalize_text

CORPUS_COLUMNS = ("Topics", "Question-Title", "Questions", "Answers")
ROLES = ("system", "user", "assistant")
# ShareGPT-style exports name the roles differently.
ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}
SPLITS = ("train", "val", "test")
# EmpatheticDialogues' emotion labels: rows whose topic is one of these belong to the dialogue sub-corpus.
EMOTION_LABELS = frozenset(
    [
        "afraid",
        "angry",
        "annoyed",
        "anticipating",
        "anxious",
        "apprehensive",
        "ashamed",
        "caring",
        "confident",
        "content",
        "devastated",
        "disappointed",
        "disgusted",
        "embarrassed",
        "excited",
        "faithful",
        "furious",
        "grateful",
        "guilty",
        "hopeful",
        "impressed",
        "jealous",
        "joyful",
        "lonely",
        "nostalgic",
        "prepared",
        "proud",
        "sad",
        "sentimental",
        "surprised",
        "terrified",
        "trusting",
    ]
)


class DataError(ValueError):
    """A problem with the input data; the CLI prints it as one line and exits non-zero."""


@dataclass
class Row:
    """One source record before cleaning: a question/answer pair or a ready conversation."""

    id: str
    topic: str
    group: str
    messages: list[dict[str, str]]
    title: str = ""  # corpus Question-Title; joined to the first user turn after cleaning (by policy)


@dataclass
class Example:
    """One chat-formatted training example, as written to ``train/val/test.jsonl``."""

    id: str
    topic: str
    subcorpus: str
    group: str
    language: str
    messages: list[dict[str, str]]
    split: str = ""
    n_tokens: int | None = None
    row_ids: list[str] = field(default_factory=list)  # source rows (several for a rebuilt dialogue)
    title: str = ""


@dataclass
class PreparedData:
    examples: dict[str, list[Example]]
    report: dict[str, Any]


@dataclass
class _Drops:
    counts: Counter = field(default_factory=Counter)
    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, row_id: str) -> None:
        self.counts[reason] += 1
        self.ids.setdefault(reason, []).append(row_id)


# --------------------------------------------------------------------------------------------- reading
def _decode(raw: bytes, path: Path) -> str:
    """Decode what Excel or pandas write: UTF-8 with or without BOM, or UTF-16 (with BOM, or without one
    when the header still reads as text)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if b"\x00" in raw[:4096]:
        for encoding in ("utf-16-le", "utf-16-be"):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            if text[:200].isprintable() or "\n" in text[:4096]:
                return text
        raise DataError(f"{path}: not a CSV file (binary content)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: unreadable encoding (expected UTF-8 or UTF-16): {error.reason}") from None


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.strip()).strip("_") or "data"


def _read_corpus_csv(path: Path) -> list[dict[str, str]]:
    import pandas as pd

    text = _decode(path.read_bytes(), path)
    header = text.split("\n", 1)[0]
    sep = "\t" if "\t" in header and "," not in header else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise DataError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in CORPUS_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(repr(c) for c in frame.columns[:8])
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {found})")
    return frame[list(CORPUS_COLUMNS)].to_dict("records")


def _group_rows(records: Iterable[dict[str, str]], prefix: str) -> list[Row]:
    """Corpus rows -> Rows; consecutive rows with the same topic and title form one conversation group."""
    rows: list[Row] = []
    previous_key = None
    group = ""
    for number, record in enumerate(records):
        topic, title = (record.get("Topics") or "").strip(), record.get("Question-Title") or ""
        key = (dedup_key(topic), dedup_key(normalize_text(title)))
        if key != previous_key or not any(key):
            group = f"{prefix}-g{number}"
        previous_key = key
        rows.append(
            Row(
                id=f"{prefix}-{number}",
                topic=topic or "unknown",
                group=group,
                messages=[
                    {"role": "user", "content": record.get("Questions") or ""},
                    {"role": "assistant", "content": record.get("Answers") or ""},
                ],
                title=title,
            )
        )
    return rows


def _rows_from_messages(records: Iterable[dict[str, Any]], prefix: str) -> list[Row]:
    rows = []
    for number, record in enumerate(records):
        messages = record.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise DataError(f"{prefix}: record {number} has no `messages` list of {{role, content}} objects")
        row_id = str(record.get("id", f"{prefix}-{number}"))
        rows.append(
            Row(
                id=row_id,
                topic=str(record.get("topic") or "unknown"),
                group=str(record.get("group") or row_id),
                messages=[
                    {
                        "role": ROLE_ALIASES.get(str(m.get("role", "")), str(m.get("role", ""))),
                        "content": str(m.get("content") or ""),
                    }
                    for m in messages
                ],
            )
        )
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    text = _decode(path.read_bytes(), path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: line {number} is not valid JSON ({error.msg})") from None
        if not isinstance(records[-1], dict):
            raise DataError(f"{path}: line {number} is not a JSON object")
    return records


def _read_hf_dataset(source: str) -> list[dict[str, Any]]:
    import datasets

    path = Path(source)
    try:
        loaded = datasets.load_from_disk(str(path)) if path.is_dir() else datasets.load_dataset(source)
    except Exception as error:  # datasets raises many types; the user needs the one line
        raise DataError(f"{source}: could not load as a `datasets` dataset ({error})") from None
    if isinstance(loaded, datasets.DatasetDict):
        return [record for split in loaded.values() for record in split]
    return list(loaded)


def source_files(source: str) -> list[Path]:
    """The files a data source consists of (for hashing and reading)."""
    path = Path(source)
    if path.is_dir():
        csvs = sorted(path.glob("*.csv"))
        return csvs or sorted(path.glob("*.jsonl"))
    return [path] if path.exists() else []


def source_digest(source: str) -> str:
    """sha256 over the source's files, so a changed corpus is never mistaken for the prepared one."""
    digest = hashlib.sha256()
    for file in source_files(source):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def preparation_settings(args: DataArguments, max_length: int | None, tokenizer_name: str | None) -> dict[str, Any]:
    """Everything that shapes the prepared examples; prepared data is reused only when this matches."""
    return {**asdict(args), "max_length": max_length, "tokenizer": tokenizer_name}


# -------------------------------------------------------------------------------------------- processing
class DatasetProcessor:
    """Read a corpus, clean it, format chat examples, split by conversation group and report on all of it."""

    def __init__(
        self,
        args: DataArguments,
        tokenizer: Any | None = None,
        max_length: int | None = None,
        tokenizer_name: str | None = None,
    ):
        self.args = args
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.tokenizer_name = tokenizer_name or getattr(tokenizer, "name_or_path", None)
        self.system_prompt = args.system_prompt or SYSTEM_PROMPT

    # -- reading
    def read(self, source: str) -> tuple[list[Row], str]:
        """Rows in file order and the detected format."""
        path = Path(source)
        if not path.exists():
            if path.suffix:
                raise DataError(f"{source}: no such file or folder")
            return self._rows_from_records(_read_hf_dataset(source), _slug(source)), "datasets"  # a hub name
        files = source_files(source)
        if path.is_dir() and not files:
            if not any((path / name).exists() for name in ("dataset_info.json", "dataset_dict.json", "state.json")):
                raise DataError(f"{source}: folder has no .csv or .jsonl files and is not a saved dataset")
            return self._rows_from_records(_read_hf_dataset(source), _slug(path.name)), "datasets"
        rows: list[Row] = []
        kind = "csv"
        for file in files:
            prefix = _slug(file.stem) if path.is_dir() else "row"
            if file.suffix.lower() == ".jsonl":
                rows.extend(_rows_from_messages(_read_jsonl(file), prefix))
                kind = "jsonl"
            else:
                rows.extend(_group_rows(_read_corpus_csv(file), prefix))
        return rows, kind

    def _rows_from_records(self, records: list[dict[str, Any]], prefix: str) -> list[Row]:
        if not records:
            return []
        if "messages" in records[0]:
            return _rows_from_messages(records, prefix)
        missing = [c for c in CORPUS_COLUMNS if c not in records[0]]
        if missing:
            raise DataError(f"{prefix}: dataset has neither `messages` nor the corpus columns {missing}")
        return _group_rows(records, prefix)

    # -- cleaning
    def clean(self, rows: Sequence[Row]) -> tuple[list[Example], _Drops, Counter]:
        """Normalise every text; drop empty, duplicate and (by policy) English-only rows, with a reason each."""
        drops, flags = _Drops(), Counter()
        seen_exact: set[tuple[str, ...]] = set()
        seen_normalised: set[str] = set()
        examples: list[Example] = []
        for row in tqdm(rows, desc="cleaning", unit="row", disable=len(rows) < 5000, mininterval=1.0):
            exact = (row.title, *(m["content"] for m in row.messages))
            messages = [{"role": m["role"], "content": normalize_text(m["content"])} for m in row.messages]
            roles = [m["role"] for m in messages]
            if any(role not in ROLES for role in roles):
                drops.add("unsupported_role", row.id)
                continue
            if roles and roles[-1] != "assistant":
                drops.add("no_final_answer", row.id)  # nothing to learn or to score against
                continue
            users = [m for m in messages if m["role"] == "user"]
            answers = [m for m in messages if m["role"] == "assistant"]
            if not users or not all(m["content"] for m in users):
                drops.add("empty_question", row.id)
                continue
            if not answers or not all(m["content"] for m in answers):
                drops.add("empty_answer", row.id)
                continue
            if exact in seen_exact:
                drops.add("duplicate_exact", row.id)
                continue
            seen_exact.add(exact)
            key = "\x1f".join(dedup_key(text) for text in (row.title, *(m["content"] for m in messages)))
            if key in seen_normalised:
                drops.add("duplicate_normalised", row.id)
                continue
            seen_normalised.add(key)
            language = language_of(" ".join(m["content"] for m in messages))
            if language == "en":
                if self.args.english_policy == "drop":
                    drops.add("english_only", row.id)
                    continue
                flags["english_only"] += 1
            elif language == "mixed":
                flags["code_mixed"] += 1
            if messages[0]["role"] != "system":
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            subcorpus = "dialogue" if row.topic.casefold() in EMOTION_LABELS else "counselling"
            examples.append(
                Example(
                    row.id,
                    row.topic,
                    subcorpus,
                    row.group,
                    language,
                    messages,
                    row_ids=[row.id],
                    title=normalize_text(row.title),
                )
            )
        return examples, drops, flags

    def merge_dialogues(self, examples: Sequence[Example]) -> list[Example]:
        """Rebuild each dialogue conversation into one multi-turn example (counselling rows stay single).

        Consecutive dialogue rows of one group are turns of one conversation; alone, a later turn has no
        context. Merged, every answer is trained once with the turns before it.
        """
        merged: list[Example] = []
        for example in examples:
            last = merged[-1] if merged else None
            if (
                example.subcorpus == "dialogue"
                and last is not None
                and last.subcorpus == "dialogue"
                and last.group == example.group
            ):
                last.messages.extend(m for m in example.messages if m["role"] != "system")
                last.row_ids.extend(example.row_ids)
                if last.language != example.language:
                    last.language = "mixed"
            else:
                merged.append(example)
        return merged

    # -- splitting
    def split(self, examples: Sequence[Example]) -> None:
        """Assign whole conversation groups to splits, each by its own seeded hash of its content.

        A group's split depends on nothing else in the file, so re-reading, adding rows or dropping others
        (a length cap, a language policy) never moves it; each topic gets the fractions in expectation.
        """
        groups: dict[str, list[Example]] = {}
        for example in examples:
            groups.setdefault(example.group, []).append(example)

        def draw(members: list[Example]) -> float:
            first = members[0]
            key = "\x1f".join(
                [str(self.args.split_seed), dedup_key(first.topic), dedup_key(first.messages[1]["content"])]
            )
            return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16) / 16**15

        draws = {group: draw(members) for group, members in groups.items()}
        test, val = self.args.test_fraction, self.args.val_fraction
        split_of = {g: "test" if u < test else "val" if u < test + val else "train" for g, u in draws.items()}
        # Tiny corpora: make sure a wanted split is not empty by chance (the train group drawn closest to it).
        for name, wanted in (("test", test), ("val", val)):
            train_groups = [g for g in split_of if split_of[g] == "train"]
            if wanted > 0 and name not in split_of.values() and len(train_groups) >= 3:
                split_of[min(train_groups, key=draws.get)] = name
        for group, members in groups.items():
            for example in members:
                example.split = split_of[group]

    # -- lengths
    def measure(self, examples: Sequence[Example]) -> None:
        """Token count of each full chat-formatted example under the run's tokenizer."""
        if self.tokenizer is None:
            return
        batch = 2048
        for start in range(0, len(examples), batch):
            chunk = examples[start : start + batch]
            texts = self.tokenizer.apply_chat_template([e.messages for e in chunk], tokenize=False)
            encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
            for example, ids in zip(chunk, encoded, strict=True):
                example.n_tokens = len(ids)

    # -- the whole thing
    def process(self, source: str | None = None) -> PreparedData:
        source = source or self.args.data
        if not 0 <= self.args.val_fraction < 1 or not 0 <= self.args.test_fraction < 1:
            raise DataError("val_fraction and test_fraction must each lie in [0, 1)")
        if self.args.val_fraction + self.args.test_fraction >= 1:
            raise DataError("val_fraction + test_fraction must leave some data for training")
        rows, kind = self.read(source)
        if not rows:
            raise DataError(f"{source}: no data rows")
        examples, drops, flags = self.clean(rows)
        if self.args.dialogue_turns == "multi_turn":
            examples = self.merge_dialogues(examples)
        if self.args.user_fields == "title_and_question":
            for example in examples:  # the title introduces the conversation: first user turn only
                first_user = next(m for m in example.messages if m["role"] == "user")
                if example.title:
                    first_user["content"] = f"{example.title}\n\n{first_user['content']}"
        self.measure(examples)
        if self.max_length is not None:
            kept = []
            for example in examples:
                if example.n_tokens is not None and example.n_tokens > self.max_length:
                    for row_id in example.row_ids:
                        drops.add("too_long", row_id)
                else:
                    kept.append(example)
            examples = kept
        if not examples:
            raise DataError(f"{source}: nothing left after cleaning ({dict(drops.counts)})")
        self.split(examples)
        by_split = {name: [e for e in examples if e.split == name] for name in SPLITS}
        report = self._report(source, kind, rows, examples, by_split, drops, flags)
        return PreparedData(by_split, report)

    def _report(self, source, kind, rows, examples, by_split, drops, flags) -> dict[str, Any]:
        lengths = sorted(e.n_tokens for e in examples if e.n_tokens is not None)
        files = source_files(source)
        longest = lengths[-1] if lengths else None
        if self.max_length is None:
            action = f"keep every example whole; training length follows the data (longest: {longest} tokens)"
        else:
            action = f"cap {self.max_length} tokens: {drops.counts['too_long']} example(s) longer were dropped"
        return {
            "source": {
                "path": str(source),
                "format": kind,
                "files": [str(f) for f in files],
                "sha256": source_digest(source),
            },
            "settings": preparation_settings(self.args, self.max_length, self.tokenizer_name),
            "rows_in": len(rows),
            "rows_kept": sum(len(e.row_ids) for e in examples),
            "examples": len(examples),
            "dialogue_turns": self.args.dialogue_turns,
            "dropped": dict(sorted(drops.counts.items())),
            "dropped_ids": {reason: ids for reason, ids in sorted(drops.ids.items())},
            "flagged": {"english_only": flags["english_only"], "code_mixed": flags["code_mixed"]},
            "english_policy": self.args.english_policy,
            "splits": {name: len(items) for name, items in by_split.items()},
            "groups": {name: len({e.group for e in items}) for name, items in by_split.items()},
            "subcorpora": dict(Counter(e.subcorpus for e in examples)),
            "topics": dict(Counter(e.topic for e in examples).most_common()),
            "token_lengths": _length_stats(lengths),
            "tokenizer": self.tokenizer_name,
            "length_policy": {"max_length": self.max_length, "action": action, "longest": longest},
        }


def _length_stats(lengths: Sequence[int]) -> dict[str, float] | None:
    if not lengths:
        return None

    def percentile(q: float) -> int:
        return lengths[min(len(lengths) - 1, math.ceil(q * len(lengths)) - 1)]

    return {
        "min": lengths[0],
        "median": percentile(0.5),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "max": lengths[-1],
        "mean": round(sum(lengths) / len(lengths), 1),
        "total": sum(lengths),
    }


# ---------------------------------------------------------------------------------------------- output
def _write_jsonl(path: Path, examples: Iterable[Example]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(asdict(example), ensure_ascii=False) + "\n")


def write_prepared(prepared: PreparedData, output_dir: str | Path) -> Path:
    """Write DIR/data/{train,val,test}.jsonl and DIR/data_report.json all at once, or not at all."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".prepare-", dir=output_dir))
    try:
        (staging / "data").mkdir()
        for name, examples in prepared.examples.items():
            _write_jsonl(staging / "data" / f"{name}.jsonl", examples)
        report_text = json.dumps(prepared.report, ensure_ascii=False, indent=2)
        (staging / "data_report.json").write_text(report_text + "\n", encoding="utf-8")
        target = output_dir / "data"
        if target.exists():
            target.rename(staging / "data.old")
        (staging / "data").rename(target)
        os.replace(staging / "data_report.json", output_dir / "data_report.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


def load_split(output_dir: str | Path, split: str) -> list[dict[str, Any]]:
    """Read one prepared split back (the trainer and evaluator use this)."""
    path = Path(output_dir) / "data" / f"{split}.jsonl"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def format_report(report: dict[str, Any]) -> str:
    """The data report as a short table for the terminal."""
    lines = [
        f"rows read            {report['rows_in']:>8}",
        f"rows kept            {report['rows_kept']:>8}",
        f"chat examples        {report['examples']:>8}   (dialogues: {report['dialogue_turns'].replace('_', '-')})",
    ]
    lines += [f"  dropped: {reason:<22}{count:>6}" for reason, count in report["dropped"].items()]
    lines.append(
        f"flagged              english-only {report['flagged']['english_only']}, "
        f"code-mixed {report['flagged']['code_mixed']} (policy: {report['english_policy']})"
    )
    splits = report["splits"]
    groups = report["groups"]
    lines.append("splits (examples/groups) " + ", ".join(f"{name} {splits[name]}/{groups[name]}" for name in SPLITS))
    lines.append("sub-corpora          " + ", ".join(f"{k} {v}" for k, v in report["subcorpora"].items()))
    stats = report["token_lengths"]
    if stats:
        lines.append(
            "tokens per example   " + ", ".join(f"{key} {stats[key]}" for key in ("min", "median", "p95", "p99", "max"))
        )
    lines.append(f"length policy        {report['length_policy']['action']}")
    return "\n".join(lines)

"""Reading a corpus into Rows: the Kaggle CSV (and Excel's exports of it), a folder of CSVs, JSONL or `datasets`.

Split out of ``bempathy.data.processor`` (which re-exports what other modules use) so each file stays readable.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bempathy.text import dedup_key, normalize_text

CORPUS_COLUMNS = ("Topics", "Question-Title", "Questions", "Answers")
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
# ShareGPT-style exports name the roles differently.
ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}


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
    clean_title: str | None = None  # normalize_text(title), when reading already computed it


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
    previous_raw, key, clean_title = None, ("", ""), ""
    group = ""
    for number, record in enumerate(records):
        topic, title = (record.get("Topics") or "").strip(), record.get("Question-Title") or ""
        if (topic, title) != previous_raw:  # a dialogue's turns repeat both: clean them once per conversation
            clean_title = normalize_text(title)
            key = (dedup_key(topic), dedup_key(clean_title))
        if key != previous_key or not any(key):
            group = f"{prefix}-g{number}"
        previous_key, previous_raw = key, (topic, title)
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
                clean_title=clean_title,
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


def read_source(source: str) -> tuple[list[Row], str]:
    """Rows in file order and the detected format (``csv``, ``jsonl`` or ``datasets``)."""
    path = Path(source)
    if not path.exists():
        if path.suffix:
            raise DataError(f"{source}: no such file or folder")
        return _rows_from_records(_read_hf_dataset(source), _slug(source)), "datasets"  # a hub name
    files = source_files(source)
    if path.is_dir() and not files:
        if not any((path / name).exists() for name in ("dataset_info.json", "dataset_dict.json", "state.json")):
            raise DataError(f"{source}: folder has no .csv or .jsonl files and is not a saved dataset")
        return _rows_from_records(_read_hf_dataset(source), _slug(path.name)), "datasets"
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


def _rows_from_records(records: list[dict[str, Any]], prefix: str) -> list[Row]:
    if not records:
        return []
    if "messages" in records[0]:
        return _rows_from_messages(records, prefix)
    missing = [c for c in CORPUS_COLUMNS if c not in records[0]]
    if missing:
        raise DataError(f"{prefix}: dataset has neither `messages` nor the corpus columns {missing}")
    return _group_rows(records, prefix)

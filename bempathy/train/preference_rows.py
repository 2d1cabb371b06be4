"""Preference rows for the DPO/KTO stage: read, checked against the loss's schema and the run's corpus, measured.

Checked before any model loads, each failure one line naming the file and line: the schema TRL's conversational
trainers take (what ``python -m bempathy.human_eval export`` writes), a non-empty file, and for DPO that every user turn
is one of the run's own prepared prompts (a preference model must train on prompts from the corpus it was tuned on).
The length that truncates nothing is measured here with the chat template, as TRL tokenises.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bempathy.data.read import DataError
from bempathy.runs import SPLITS, RunFolder

# The preference rows' keys per loss (bempathy.rating.preferences writes them; TRL's conversational formats).
ROW_KEYS = {"dpo": ("prompt", "chosen", "rejected"), "kto": ("prompt", "completion", "label")}


@dataclass
class PreferenceRows:
    """The checked rows of a preference file, and what the experiment records about them."""

    path: Path
    loss: str
    rows: list[dict[str, Any]]
    sha256: str
    lines: list[int] = field(default_factory=list)  # each row's line number in the file
    prompt_splits: dict[str, int] = field(default_factory=dict)  # rows whose user turn is in each split
    raw: bytes = field(default=b"", repr=False)  # the file as read (the run folder keeps a copy)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"path": str(self.path), "sha256": self.sha256, "rows": len(self.rows)}
        if self.loss == "kto":
            desirable = sum(row["label"] for row in self.rows)
            summary.update(desirable=desirable, undesirable=len(self.rows) - desirable)
        if self.prompt_splits:
            summary["prompt_splits"] = self.prompt_splits
        return summary


def _is_messages(value: Any, roles: tuple[str, ...]) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(m, dict)
            and m.get("role") in roles
            and isinstance(m.get("content"), str)
            and m["content"].strip()
            for m in value
        )
    )


def _check_row(row: Any, loss: str, where: str) -> dict[str, Any]:
    """The row's schema keys, or a one-line DataError saying what is wrong with it."""
    keys = ROW_KEYS[loss]
    if not isinstance(row, dict):
        raise DataError(f"{where}: not a {loss.upper()} row: expected a JSON object, got {type(row).__name__}")
    if not set(keys) <= row.keys():
        other = next((name for name, need in ROW_KEYS.items() if name != loss and set(need) <= row.keys()), None)
        hint = f" (a {other.upper()} row: use --preference_loss {other})" if other else ""
        has = ", ".join(sorted(row)) or "no keys"
        raise DataError(f"{where}: not a {loss.upper()} row: needs {', '.join(keys)}; has {has}{hint}")
    prompt = row["prompt"]
    if not _is_messages(prompt, ("system", "user", "assistant")) or prompt[-1]["role"] != "user":
        raise DataError(f"{where}: 'prompt' must be a list of chat messages that ends with the user's turn")
    for key in keys[1:]:
        if key == "label":
            if not isinstance(row[key], bool):
                raise DataError(f"{where}: 'label' must be true or false, got {row[key]!r}")
        elif not _is_messages(row[key], ("assistant",)) or len(row[key]) != 1:
            raise DataError(f"{where}: '{key}' must be a list of one assistant message with text")
    if loss == "dpo" and row["chosen"][0]["content"].strip() == row["rejected"][0]["content"].strip():
        raise DataError(f"{where}: 'chosen' and 'rejected' are the same answer: the pair teaches nothing")
    return {key: row[key] for key in keys}


def read_preferences(path: str | Path, loss: str) -> PreferenceRows:
    """Read and check a preference JSONL for ``loss``; DataError naming the file (and line) otherwise."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"preferences file not found: {path}") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
    rows, numbers = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        rows.append(_check_row(row, loss, f"{path}:{number}"))
        numbers.append(number)
    if not rows:
        raise DataError(f"{path}: no preference rows (the file is empty)")
    return PreferenceRows(
        path=path, loss=loss, rows=rows, sha256=hashlib.sha256(raw).hexdigest(), lines=numbers, raw=raw
    )


def corpus_user_turns(run: RunFolder) -> dict[str, set[str]]:
    """Every user turn of the run's prepared data -> the splits it appears in."""
    if not all(run.split_path(split).is_file() for split in SPLITS):
        raise DataError(
            f"{run.data_dir} has no prepared data ({', '.join(f'{s}.jsonl' for s in SPLITS)}): the preference "
            "prompts cannot be checked against the run's own corpus"
        )
    turns: dict[str, set[str]] = {}
    for split in SPLITS:
        for row in run.read_split(split):
            for message in row["messages"]:
                if message["role"] == "user":
                    turns.setdefault(message["content"].strip(), set()).add(split)
    return turns


def check_prompts_in_corpus(data: PreferenceRows, run: RunFolder) -> None:
    """A preference model must train on prompts from the run's own corpus; also count the splits they come from."""
    turns = corpus_user_turns(run)
    outside = []
    for index, row in enumerate(data.rows):
        users = [m["content"].strip() for m in row["prompt"] if m["role"] == "user"]
        if not all(text in turns for text in users):
            outside.append(index)
        else:
            for split in set().union(*(turns[text] for text in users)):
                data.prompt_splits[split] = data.prompt_splits.get(split, 0) + 1
    if outside:
        raise DataError(
            f"{data.path}:{data.lines[outside[0]]}: the user turn is not in {run.data_dir}/*.jsonl: a preference "
            f"stage trains on prompts from the run's own corpus ({len(outside)} of {len(data.rows)} rows are not)"
        )


def _token_count(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool = False) -> int:
    """Tokens of a conversation as TRL tokenises it (``trl.data_utils._tokenize``: the chat template)."""
    encoded = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, add_generation_prompt=generation_prompt
    )
    return len(encoded["input_ids"])


def longest_row(data: PreferenceRows, tokenizer: Any) -> int:
    """The training length that truncates nothing.

    DPO: the longest prompt + answer of any row (chosen or rejected). KTO also scores each prompt with a neighbour's
    completion for its KL estimate, so: the longest prompt + the longest completion.
    """
    if data.loss == "dpo":
        return max(
            _token_count(tokenizer, row["prompt"] + row[key]) for row in data.rows for key in ("chosen", "rejected")
        )
    prompts = [_token_count(tokenizer, row["prompt"], generation_prompt=True) for row in data.rows]
    whole = [_token_count(tokenizer, row["prompt"] + row["completion"]) for row in data.rows]
    return max(prompts) + max(w - p for w, p in zip(whole, prompts, strict=True))


def user_turns_key(row: dict[str, Any]) -> str:
    """A row's prompt as the evaluation matches it: its user turns."""
    return "\n".join(m["content"].strip() for m in row["prompt"] if m["role"] == "user")


def hold_out(data: PreferenceRows, share: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows to train on, held-out rows): ``share`` of the distinct prompts, the same ones on every run.

    Whole prompts, never single rows: a held-out pair whose prompt was trained on in another pair would not be
    unseen. Prompts are ordered by a hash of their text, so the choice depends on the prompts, not the file order.
    At least one prompt is always trained on; a file with one prompt holds none out.
    """
    prompts = sorted(
        {user_turns_key(row) for row in data.rows}, key=lambda text: hashlib.sha256(text.encode()).digest()
    )
    count = min(round(share * len(prompts)), len(prompts) - 1) if share > 0 else 0
    held = set(prompts[:count])
    train = [row for row in data.rows if user_turns_key(row) not in held]
    return train, [row for row in data.rows if user_turns_key(row) in held]

"""DatasetProcessor: corpus -> cleaned, chat-formatted, group-split examples, with a report of every drop.

The Bengali Empathetic Conversations Corpus mixes long counselling Q&A with short multi-turn dialogues
whose consecutive rows share ``Topics`` + ``Question-Title``. Splitting by row would leak a conversation's
context from train into test, so rows are grouped into conversations (in file order) *before* cleaning and
whole groups are assigned to a split. Nothing is cut for length: a length cap (``max_length``) is explicit
and drops, counts and names the rows it would cut.

Every example is measured under the run's tokenizer; that is most of the work on the real corpus, so it runs
in a worker thread while later rows are still being cleaned (the tokenizer releases the GIL), and it counts
the pieces of the chat template instead of re-tokenising the fixed system prompt each time
(``bempathy.data.tokens``: exact, checked against a full render). Reading lives in ``bempathy.data.read``,
the report's figures and table in ``bempathy.data.summary``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bempathy.config import DataArguments
from bempathy.data.read import CORPUS_COLUMNS, EMOTION_LABELS, DataError, Row, read_source, source_digest, source_files
from bempathy.data.summary import format_report, length_stats, token_budget
from bempathy.data.tokens import TokenCounter
from bempathy.prompts import system_prompt_or_default
from bempathy.runs import DATA_DIR, SPLITS, RunFolder
from bempathy.text import dedup_key, language_of, normalize_text

# Other modules import these from here.
__all__ = ["DatasetProcessor", "Example", "PreparedData", "preparation_settings", "write_prepared"]

ROLES = ("system", "user", "assistant")
MEASURE_BATCH = 2048  # examples per tokenizer hand-over: small enough to start early, large enough to batch


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
    # Measured with n_tokens for the report, not written to the jsonl (see JSONL_FIELDS).
    system_tokens: int | None = field(default=None, repr=False)
    answer_tokens: int | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The example as one jsonl record (lists shared, not copied: it is serialised at once)."""
        return {name: getattr(self, name) for name in JSONL_FIELDS}


JSONL_FIELDS = ("id", "topic", "subcorpus", "group", "language", "messages", "split", "n_tokens", "row_ids", "title")


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


def _merged(examples: Iterable[Example]) -> Iterator[Example]:
    """Consecutive dialogue examples of one group as one; each is yielded once no later row can extend it."""
    last = None
    for example in examples:
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
            continue
        if last is not None:
            yield last
        last = example
    if last is not None:
        yield last


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
        self.system_prompt = system_prompt_or_default(args.system_prompt)
        self.counter = TokenCounter(tokenizer) if tokenizer is not None else None

    # -- reading
    def read(self, source: str) -> tuple[list[Row], str]:
        """Rows in file order and the detected format."""
        return read_source(source)

    # -- cleaning
    def clean(self, rows: Sequence[Row]) -> tuple[list[Example], _Drops, Counter]:
        """Normalise every text; drop empty, duplicate and (by policy) English-only rows, with a reason each."""
        drops, flags = _Drops(), Counter()
        return list(self._cleaned(rows, drops, flags)), drops, flags

    def _cleaned(self, rows: Sequence[Row], drops: _Drops, flags: Counter) -> Iterator[Example]:
        """``clean`` one row at a time, so that measuring can start before the last row is cleaned."""
        seen_exact: set[tuple[str, ...]] = set()
        seen_normalised: set[str] = set()
        raw_title, title_key = None, ""
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
            if row.title != raw_title:  # consecutive dialogue turns share it
                raw_title, title_key = row.title, dedup_key(row.title)
            key = "\x1f".join([title_key, *(dedup_key(m["content"]) for m in messages)])
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
            yield Example(
                row.id,
                row.topic,
                subcorpus,
                row.group,
                language,
                messages,
                row_ids=[row.id],
                title=normalize_text(row.title) if row.clean_title is None else row.clean_title,
            )

    def merge_dialogues(self, examples: Iterable[Example]) -> list[Example]:
        """Rebuild each dialogue conversation into one multi-turn example (counselling rows stay single).

        Consecutive dialogue rows of one group are turns of one conversation; alone, a later turn has no
        context. Merged, every answer is trained once with the turns before it.
        """
        return list(_merged(examples))

    def join_title(self, example: Example) -> Example:
        """By policy, the title introduces the conversation: it goes before the first user turn only."""
        if self.args.user_fields == "title_and_question" and example.title:
            first_user = next(m for m in example.messages if m["role"] == "user")
            first_user["content"] = f"{example.title}\n\n{first_user['content']}"
        return example

    # -- splitting
    def split(self, examples: Sequence[Example]) -> None:
        """Assign whole conversation groups to splits, each by its own seeded hash of its content.

        A group's split depends on nothing else in the file, so re-reading, adding rows or dropping others
        (a length cap, a language policy) never moves it; each topic gets the fractions in expectation.
        """
        groups: dict[str, list[Example]] = {}
        for example in examples:
            groups.setdefault(example.group, []).append(example)

        topic_keys: dict[str, str] = {}

        def draw(members: list[Example]) -> float:
            first = members[0]
            if first.topic not in topic_keys:
                topic_keys[first.topic] = dedup_key(first.topic)
            key = "\x1f".join(
                [str(self.args.split_seed), topic_keys[first.topic], dedup_key(first.messages[1]["content"])]
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
        """Token count of each full chat-formatted example under the run's tokenizer (exactly what
        ``apply_chat_template`` + tokenising gives; ``TokenCounter`` says why it is faster), and the system
        turn's and the answers' share of it for the report."""
        if self.counter is None:
            return
        counts = self.counter.count([e.messages for e in examples])
        for example, count in zip(examples, counts, strict=True):
            example.n_tokens, example.system_tokens, example.answer_tokens = count.total, count.system, count.answer

    def _measured(self, examples: Iterable[Example]) -> list[Example]:
        """Collect finished examples, measuring each batch in a worker thread while the next ones are cleaned.

        The tokenizer releases the GIL, so on 2 cores cleaning and tokenising overlap. An example is handed
        over only when nothing will change it any more (its conversation is complete, its title joined).
        """
        if self.counter is None:
            return list(examples)
        done: list[Example] = []
        batch: list[Example] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="measure") as worker:
            pending = []
            for example in examples:
                done.append(example)
                batch.append(example)
                if len(batch) == MEASURE_BATCH:
                    pending.append(worker.submit(self.measure, batch))
                    batch = []
            pending.append(worker.submit(self.measure, batch))
            for future in pending:
                future.result()  # re-raises a tokenizer error here
        return done

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
        drops, flags = _Drops(), Counter()
        stream = self._cleaned(rows, drops, flags)  # clean -> merge -> title -> measure, one example at a time
        if self.args.dialogue_turns == "multi_turn":
            stream = _merged(stream)
        examples = self._measured(self.join_title(example) for example in stream)
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
        prompt_tokens = self.counter.system_turn_tokens(self.system_prompt) if self.counter else None
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
            "token_lengths": length_stats(lengths),
            "token_budget": token_budget(by_split, prompt_tokens),
            "tokenizer": self.tokenizer_name,
            "length_policy": {"max_length": self.max_length, "action": action, "longest": longest},
        }


# ---------------------------------------------------------------------------------------------- output
def _write_jsonl(path: Path, examples: Iterable[Example]) -> None:
    encoder = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(..., ensure_ascii=False) builds per call
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(encoder.encode(example.to_json()) + "\n")


def write_prepared(prepared: PreparedData, output_dir: str | Path) -> Path:
    """Write the run folder's data/{train,val,test}.jsonl and data_report.json all at once, or not at all."""
    run = RunFolder(Path(output_dir))
    run.path.mkdir(parents=True, exist_ok=True)
    # A staging folder laid out like the run folder, renamed into place once every file is written.
    staging = RunFolder(Path(tempfile.mkdtemp(prefix=".prepare-", dir=run.path)))
    try:
        staging.data_dir.mkdir()
        for name, examples in prepared.examples.items():
            _write_jsonl(staging.split_path(name), examples)
        report_text = json.dumps(prepared.report, ensure_ascii=False, indent=2)
        staging.data_report_path.write_text(report_text + "\n", encoding="utf-8")
        if run.data_dir.exists():
            run.data_dir.rename(staging.path / f"{DATA_DIR}.old")
        staging.data_dir.rename(run.data_dir)
        os.replace(staging.data_report_path, run.data_report_path)
    finally:
        shutil.rmtree(staging.path, ignore_errors=True)
    return run.path

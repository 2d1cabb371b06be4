"""Tests for bempathy.storage.journal: durable O(1) appends, torn tails, folds that survive crashes, many writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tinydb import TinyDB

from bempathy.storage.journal import RatingJournal
from bempathy.storage.log import StoreCorruptError
from bempathy.storage.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
KEY = ("item_id", "rater_id")
BENGALI = "উত্তরটা খুব আন্তরিক লাগল, র\u200d্যাব"


def _journal(logs: Path, fold_interval: float | None = None, truncate_on_fold: bool = True) -> RatingJournal:
    return Store(logs, ratings_fold_interval=fold_interval, ratings_truncate_on_fold=truncate_on_fold).ratings


def _rating(item: str, rater: str, **extra) -> dict:
    return {"item_id": item, "rater_id": rater, "comment": BENGALI, **extra}


def _folded(logs: Path) -> list[dict]:
    """What plain TinyDB (no locks, no journal) sees in the log of record."""
    with TinyDB(logs / "HumanEvaluations.json") as db:
        return [dict(doc) for doc in db.table("HumanEvaluations").all()]


def _journal_lines(logs: Path) -> list[dict]:
    raw = (logs / "HumanEvaluations.journal.jsonl").read_bytes()
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def test_append_read_fold_and_plain_tinydb_sees_everything(tmp_path: Path) -> None:
    ratings = _journal(tmp_path)
    ids = [ratings.insert_unique(_rating(f"i{n}", "r1"), KEY) for n in range(5)]
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in ids)
    assert [r["id"] for r in _journal_lines(tmp_path)] == ids  # on disk before any fold
    raw = (tmp_path / "HumanEvaluations.journal.jsonl").read_text(encoding="utf-8")
    assert BENGALI in raw and "\\u" not in raw
    assert [r["id"] for r in ratings.all()] == ids and len(ratings) == 5
    assert ratings.get(ids[2])["item_id"] == "i2" and ratings.get("nope") is None
    assert [r["item_id"] for r in ratings.find(rater_id="r1", item_id="i3")] == ["i3"]
    assert ratings.find(gold=None) == []  # absent fields match nothing, as in JsonLog

    assert ratings.fold() == 5
    assert (tmp_path / "HumanEvaluations.journal.jsonl").read_bytes() == b""
    assert [r["id"] for r in _folded(tmp_path)] == ids
    assert ratings.fold() == 0 and [r["id"] for r in _folded(tmp_path)] == ids  # idempotent
    copy = ratings.all()[0]
    copy["item_id"] = "changed"
    assert ratings.all()[0]["item_id"] == "i0"  # readers get copies
    ratings.close()
    assert [r["id"] for r in _journal(tmp_path).all()] == ids


def test_insert_unique_is_one_per_key_across_journal_and_folded_file(tmp_path: Path) -> None:
    ratings = _journal(tmp_path)
    assert ratings.insert_unique(_rating("i1", "r1"), KEY) is not None
    ratings.fold()
    assert ratings.insert_unique(_rating("i1", "r1"), KEY) is None  # the first now lives in the JSON file
    assert _journal(tmp_path).insert_unique(_rating("i1", "r1"), KEY) is None  # a fresh process agrees
    assert ratings.insert_unique(_rating("i1", "r2"), KEY) is not None
    first = ratings.insert({"id": "fixed", "item_id": "x"})
    assert first == "fixed" and ratings.insert_unique({"id": "fixed", "item_id": "y"}, ("item_id",)) is None
    with pytest.raises(ValueError, match="duplicate"):
        ratings.insert({"id": "fixed"})
    before = (tmp_path / "HumanEvaluations.journal.jsonl").read_bytes()
    with pytest.raises(TypeError):
        ratings.insert_unique({"item_id": "i9", "rater_id": "r", "bad": object()}, KEY)
    with pytest.raises(ValueError):
        ratings.insert_unique({"item_id": "i9"}, ())
    assert (tmp_path / "HumanEvaluations.journal.jsonl").read_bytes() == before
    assert len(ratings) == 3


def test_a_torn_last_line_is_ignored_then_truncated(tmp_path: Path) -> None:
    ratings = _journal(tmp_path, truncate_on_fold=False)
    kept = ratings.insert_unique(_rating("i1", "r1"), KEY)
    ratings.close()
    journal = tmp_path / "HumanEvaluations.journal.jsonl"
    journal.write_bytes(journal.read_bytes() + b'{"id": "torn", "item_id": "i2", "rat')  # killed mid-write
    reopened = _journal(tmp_path, truncate_on_fold=False)
    assert [r["id"] for r in reopened.all()] == [kept]
    assert reopened.insert_unique(_rating("i2", "r1"), KEY) is not None
    assert [r["item_id"] for r in _journal_lines(tmp_path)] == ["i1", "i2"]  # every line parses again
    assert journal.read_bytes().endswith(b"\n")


def test_a_corrupt_line_inside_the_journal_is_quarantined_not_fatal(tmp_path: Path) -> None:
    """Was: a StoreCorruptError that stopped start-up. Now the line is copied aside and reading goes on."""
    ratings = _journal(tmp_path, truncate_on_fold=False)
    first = ratings.insert_unique(_rating("i1", "r1"), KEY)
    ratings.close()
    journal = tmp_path / "HumanEvaluations.journal.jsonl"
    journal.write_bytes(
        journal.read_bytes() + b"not json\n" + json.dumps({"id": "z", "item_id": "i3"}).encode() + b"\n"
    )
    content = journal.read_bytes()
    broken = _journal(tmp_path, truncate_on_fold=False)
    assert [r["id"] for r in broken.all()] == [first, "z"] and len(broken) == 2
    assert broken.insert_unique(_rating("i4", "r"), KEY) is not None
    assert journal.read_bytes().startswith(content)  # append-only mode: the line stays, already quarantined
    [entry] = [json.loads(line) for line in (tmp_path / "HumanEvaluations.journal.quarantine.jsonl").open("rb")]
    assert (entry["line_number"], entry["text"]) == (2, "not json")


@pytest.mark.parametrize(
    "content",
    [b'{"HumanEvaluations": {"1": {"id": "a"', b"\xff\xfe", b"[1]", b'{"HumanEvaluations": {"x": {}}}'],
    ids=["truncated", "binary", "list", "bad-doc-id"],
)
def test_a_corrupt_json_log_raises_and_is_never_overwritten(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "HumanEvaluations.json"
    path.write_bytes(content)
    journal = tmp_path / "HumanEvaluations.journal.jsonl"
    journal.write_bytes(json.dumps({"id": "j1", "item_id": "i", "rater_id": "r"}).encode() + b"\n")
    ratings = _journal(tmp_path)
    operations = [ratings.all, ratings.fold, lambda: ratings.insert_unique(_rating("i2", "r"), KEY), ratings.close]
    for operation in operations[:-1]:
        with pytest.raises(StoreCorruptError, match=re.escape(str(path))):
            operation()
    operations[-1]()  # closing a journal that never opened is a no-op
    assert path.read_bytes() == content
    assert journal.read_bytes() == json.dumps({"id": "j1", "item_id": "i", "rater_id": "r"}).encode() + b"\n"


def test_another_instance_sees_appends_and_survives_the_others_fold(tmp_path: Path) -> None:
    """Two instances = two processes' worth of state: offsets, inodes and indexes are per instance."""
    first, second = _journal(tmp_path), _journal(tmp_path)
    assert len(first) == len(second) == 0  # both open (and fold at open) before anything is written
    a = first.insert_unique(_rating("i1", "r1"), KEY)
    assert [r["id"] for r in second.all()] == [a]
    b = second.insert_unique(_rating("i2", "r1"), KEY)
    assert second.fold() == 2  # replaces the journal file under first's feet
    assert first.insert_unique(_rating("i2", "r1"), KEY) is None  # first reloads and still sees b
    c = first.insert_unique(_rating("i3", "r1"), KEY)
    assert [r["id"] for r in first.all()] == [r["id"] for r in second.all()] == [a, b, c]
    records, cursor, reset = first.changes()
    assert reset and [r["id"] for r in records] == [a, b, c]
    d = second.insert_unique(_rating("i4", "r1"), KEY)
    records, cursor, reset = first.changes(cursor)
    assert not reset and [r["id"] for r in records] == [d]
    assert first.changes(cursor)[0] == []


def test_fold_without_truncation_keeps_the_journal_append_only(tmp_path: Path) -> None:
    """CommitScheduler mode: the journal only ever grows, so a partial upload is always a prefix."""
    ratings = _journal(tmp_path, truncate_on_fold=False)
    journal = tmp_path / "HumanEvaluations.journal.jsonl"
    ratings.insert_unique(_rating("i1", "r1"), KEY)
    before = journal.read_bytes()
    assert ratings.fold() == 1
    ratings.insert_unique(_rating("i2", "r1"), KEY)
    assert ratings.fold() == 1 and ratings.fold() == 0
    assert journal.read_bytes().startswith(before) and len(_journal_lines(tmp_path)) == 2
    assert [r["item_id"] for r in _folded(tmp_path)] == ["i1", "i2"]
    ratings.close()
    assert len(_journal(tmp_path, truncate_on_fold=False)) == 2  # each once, though in both files


def test_the_background_thread_folds(tmp_path: Path) -> None:
    ratings = _journal(tmp_path, fold_interval=0.05)
    ratings.insert_unique(_rating("i1", "r1"), KEY)
    deadline = time.monotonic() + 10
    while not (tmp_path / "HumanEvaluations.json").exists() or not _folded(tmp_path):
        assert time.monotonic() < deadline, "no background fold"
        time.sleep(0.02)
    assert [r["item_id"] for r in _folded(tmp_path)] == ["i1"]
    ratings.close()


HALF_LINE_CHILD = """
import os, signal, sys
from bempathy.storage import journal
from bempathy.storage.store import Store
ratings = Store(sys.argv[1], ratings_fold_interval=None, ratings_truncate_on_fold=False).ratings
ratings.insert_unique({"item_id": "before", "rater_id": "r"}, ("item_id", "rater_id"))
real_write = os.write

def half_then_die(fd, data):
    real_write(fd, bytes(data[: len(data) // 2]))
    os.kill(os.getpid(), signal.SIGKILL)

journal.os.write = half_then_die  # the next append dies with half its line on disk, before any fsync
print(ratings.insert_unique({"item_id": "lost", "rater_id": "r"}, ("item_id", "rater_id")), flush=True)
"""


@pytest.mark.multiprocess
def test_a_writer_killed_halfway_through_a_line_never_acknowledged_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", HALF_LINE_CHILD, str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -signal.SIGKILL and result.stdout == ""  # no id was ever printed
    journal = tmp_path / "HumanEvaluations.journal.jsonl"
    assert not journal.read_bytes().endswith(b"\n")  # the torn half line is there
    ratings = _journal(tmp_path)
    assert [r["item_id"] for r in ratings.all()] == ["before"]
    assert ratings.insert_unique(_rating("lost", "r"), KEY) is not None  # the key was never taken
    ratings.close()
    assert [r["item_id"] for r in _folded(tmp_path)] == ["before", "lost"]


CRASH_BETWEEN_FOLD_AND_TRUNCATE = """
import os, signal, sys
from bempathy.storage.journal import RatingJournal
from bempathy.storage.store import Store
ratings = Store(sys.argv[1], ratings_fold_interval=None).ratings
for n in range(10):
    ratings.insert_unique({"item_id": f"i{n}", "rater_id": "r"}, ("item_id", "rater_id"))
RatingJournal._rotate = lambda self, tail: os.kill(os.getpid(), signal.SIGKILL)  # JSON written, journal not yet
ratings.fold()
"""


@pytest.mark.multiprocess
def test_a_kill_between_writing_the_fold_and_truncating_the_journal_duplicates_nothing(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", CRASH_BETWEEN_FOLD_AND_TRUNCATE, str(tmp_path)], env=ENV, timeout=60)
    assert result.returncode == -signal.SIGKILL
    assert len(_folded(tmp_path)) == 10 and len(_journal_lines(tmp_path)) == 10  # in both files
    ratings = _journal(tmp_path)  # start-up fold: dedupes by id, then truncates
    assert sorted(r["item_id"] for r in ratings.all()) == [f"i{n}" for n in range(10)]
    assert ratings.insert_unique({"item_id": "i3", "rater_id": "r"}, KEY) is None
    assert len(_folded(tmp_path)) == 10 and _journal_lines(tmp_path) == []
    assert len({r["id"] for r in _folded(tmp_path)}) == 10


def _contend(logs: str, keys: list[tuple[str, str]], threads: int, seed: int) -> list[str]:
    """Every thread tries every key; returns the ids this process got acknowledged."""
    ratings = Store(logs, ratings_fold_interval=0.02).ratings  # folds race the appends on purpose

    def work(thread: int) -> list[str]:
        order = list(keys)
        random.Random(seed * 100 + thread).shuffle(order)
        got = [ratings.insert_unique({"item_id": i, "rater_id": r, "t": thread}, KEY) for i, r in order]
        return [g for g in got if g]

    with ThreadPoolExecutor(threads) as pool:
        acked = [rid for part in pool.map(work, range(threads)) for rid in part]
    ratings.close()
    return acked


def _contend_to_file(logs: str, keys: list, threads: int, seed: int, out: str) -> None:
    Path(out).write_text(json.dumps(_contend(logs, [tuple(k) for k in keys], threads, seed)))


@pytest.mark.multiprocess
def test_two_processes_times_threads_store_each_rating_exactly_once(tmp_path: Path) -> None:
    keys = [(f"item{i}", f"rater{r}") for i in range(10) for r in range(4)]
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"acked{p}.json" for p in range(2)]
    procs = [
        ctx.Process(target=_contend_to_file, args=(str(tmp_path / "logs"), keys, 4, p, str(outs[p]))) for p in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    acked = [rid for out in outs for rid in json.loads(out.read_text())]
    assert len(acked) == len(set(acked)) == len(keys)  # exactly one writer won each key
    folded = _folded(tmp_path / "logs")  # both closed, so everything is folded
    assert sorted((r["item_id"], r["rater_id"]) for r in folded) == sorted(keys)
    assert sorted(r["id"] for r in folded) == sorted(acked)
    assert _journal_lines(tmp_path / "logs") == []


BURST_CHILD = """
import sys
from bempathy.rating.service import RatingService
from bempathy.storage.store import Store
service = RatingService(Store(sys.argv[1], ratings_fold_interval=float(sys.argv[2]) or None), ratings_per_item=50)
rater = sys.argv[3]
while (item := service.next_item(rater))["item_id"] is not None:
    result = service.rate(rater, item["item_id"], (4, 4, 4), (2, 2, 2), "A", "আমি শুনছি। " * 20)
    if result["ok"]:
        print(result["rating_id"], flush=True)  # acknowledged: rate() said ok, so it is fsynced
"""


def _evaluated_run(logs: Path, examples: int) -> None:
    store = Store(logs, ratings_fold_interval=None)
    experiment_id = store.experiments.insert({"status": "completed", "metrics": {"evaluation_id": "ev"}})
    store.responses.insert_many(
        [
            {"experiment_id": experiment_id, "evaluation_id": "ev", "variant": variant, "example_id": str(i),
             "input_text": f"প্রশ্ন {i}", "response_text": f"{variant} উত্তর {i}"}
            for i in range(examples)
            for variant in ("base", "tuned")
        ]
    )  # fmt: skip


@pytest.mark.multiprocess
def test_sigkill_during_a_burst_of_ratings_loses_no_acknowledged_one(tmp_path: Path) -> None:
    _evaluated_run(tmp_path, examples=300)
    rng = random.Random(7)
    acked: list[str] = []
    for round_no in range(10):
        interval = "0.01" if round_no % 2 else "0"  # odd rounds: background folds run while we kill
        child = subprocess.Popen(
            [sys.executable, "-c", BURST_CHILD, str(tmp_path), interval, f"rater{round_no}"],
            env=ENV,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            for _ in range(rng.randint(5, 40)):
                line = child.stdout.readline()
                assert line, "rater process died on its own"
                acked.append(line.strip())
        finally:
            child.send_signal(signal.SIGKILL)
            rest, _ = child.communicate()
        acked.extend(line for line in rest.split() if line)  # printed before the kill: acknowledged too
        ratings = _journal(tmp_path)  # restart: start-up fold, torn tail dropped
        stored = [r["id"] for r in ratings.all()]
        assert len(stored) == len(set(stored))
        assert set(acked) <= set(stored), "an acknowledged rating was lost"
        ratings.close()
        assert sorted(r["id"] for r in _folded(tmp_path)) == sorted(stored)  # and the log of record parses
    assert len(acked) >= 50


SIGNAL_CHILD = """
import os, signal, sys
from bempathy.storage.journal import install_signal_handlers
from bempathy.storage.store import Store
ratings = Store(sys.argv[1], ratings_fold_interval=None).ratings
install_signal_handlers()
for n in range(3):
    ratings.insert_unique({"item_id": f"i{n}", "rater_id": "r"}, ("item_id", "rater_id"))
if sys.argv[2] == "term":
    os.kill(os.getpid(), signal.SIGTERM)
    raise SystemExit("still alive after SIGTERM")
"""


@pytest.mark.multiprocess
@pytest.mark.parametrize("how", ["term", "exit"])
def test_sigterm_and_normal_exit_fold_the_journal(tmp_path: Path, how: str) -> None:
    result = subprocess.run([sys.executable, "-c", SIGNAL_CHILD, str(tmp_path), how], env=ENV, timeout=60)
    assert result.returncode == (-signal.SIGTERM if how == "term" else 0)
    assert sorted(r["item_id"] for r in _folded(tmp_path)) == ["i0", "i1", "i2"]
    assert _journal_lines(tmp_path) == []

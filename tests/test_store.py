"""Tests for bempathy.storage.store: round trip, semantics, concurrency, crash safety, corruption, config."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import portalocker
import pytest

from bempathy.storage import log as log_module
from bempathy.storage.log import JsonLog, StoreCorruptError, default_logs_dir
from bempathy.storage.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
BENGALI = "আমি তোমার কষ্টটা বুঝতে পারছি। র‍্যাব"  # contains a zero-width joiner (U+200D)
THREADS, PER_THREAD, APPENDS = 8, 25, 5


def _insert_worker(logs_dir: str, tag: str) -> None:
    """Spawned process: THREADS threads insert PER_THREAD tagged responses and append to one experiment."""
    store = Store(logs_dir)
    (experiment,) = store.experiments.find(name="shared")

    def work(thread: int) -> None:
        for i in range(PER_THREAD):
            store.responses.insert({"tag": f"{tag}-{thread}-{i}", "input_text": BENGALI})
            if i < APPENDS:
                store.experiments.append(experiment["id"], "loss_history", [f"{tag}-{thread}-{i}"])

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work, t) for t in range(THREADS)]:
            future.result()  # re-raise any thread's exception so the exit code shows it


def _expected_tags(tags: list[str], count: int) -> list[str]:
    return sorted(f"{tag}-{t}-{i}" for tag in tags for t in range(THREADS) for i in range(count))


def _check_concurrent_result(logs_dir: Path, tags: list[str]) -> None:
    raw = json.loads((logs_dir / "GeneratedResponses.json").read_text(encoding="utf-8"))
    records = list(raw["GeneratedResponses"].values())
    assert sorted(r["tag"] for r in records) == _expected_tags(tags, PER_THREAD)
    assert len({r["id"] for r in records}) == len(records)
    (experiment,) = Store(logs_dir).experiments.find(name="shared")
    assert sorted(experiment["loss_history"]) == _expected_tags(tags, APPENDS)


def test_round_trip_keeps_bengali_literal_and_names_tables_after_files(tmp_path: Path) -> None:
    record = {"input_text": BENGALI, "decoding": {"temperature": 0.7, "stop": ["।"]}, "latency_s": 1.5}
    record_id = Store(tmp_path).responses.insert(record)

    reopened = Store(tmp_path)
    got = reopened.responses.get(record_id)
    assert got == {**record, "id": record_id, "timestamp": got["timestamp"]}
    assert got["input_text"] == BENGALI and "\u200d" in got["input_text"]
    raw = (tmp_path / "GeneratedResponses.json").read_text(encoding="utf-8")
    assert BENGALI in raw and "\\u" not in raw
    for log in (reopened.experiments, reopened.responses, reopened.ratings):
        log.insert({})
        if log is reopened.ratings:
            log.fold()  # ratings reach their JSON file through the journal
        assert list(json.loads(log.path.read_text(encoding="utf-8"))) == [log.path.stem] == [log.table]
    assert [p.name for p in sorted(tmp_path.glob("*.json"))] == [
        "GeneratedResponses.json",
        "HumanEvaluations.json",
        "LLAMAExperiments.json",
    ]


def test_insert_assigns_id_and_utc_timestamp_without_touching_the_callers_dict(tmp_path: Path) -> None:
    log = Store(tmp_path).experiments
    record = {"model_name": "tiny", "status": "running"}
    record_id = log.insert(record)
    assert record == {"model_name": "tiny", "status": "running"}
    assert re.fullmatch(r"[0-9a-f]{12}", record_id)
    stored = log.get(record_id)
    assert type(stored) is dict and stored["id"] == record_id
    assert datetime.fromisoformat(stored["timestamp"]).utcoffset() == UTC.utcoffset(None)
    assert log.insert({"id": "mine", "timestamp": "2024-01-01T00:00:00+00:00"}) == "mine"
    assert log.get("mine")["timestamp"] == "2024-01-01T00:00:00+00:00"
    before = log.path.read_bytes()
    with pytest.raises(ValueError, match="duplicate"):
        log.insert({"id": "mine"})
    with pytest.raises(TypeError):  # not JSON: refused before the file is touched
        log.insert({"config": object()})
    assert log.path.read_bytes() == before and len(log) == 2


def test_update_append_find_get_all(tmp_path: Path) -> None:
    log = Store(tmp_path).experiments
    ids = log.insert_many([{"n": n, "strategy": "lora" if n % 2 else "qlora"} for n in range(12)])
    assert len(ids) == len(set(ids)) == len(log) == 12
    assert [r["n"] for r in log.all()] == list(range(12))  # insertion order survives doc ids "10", "11"

    log.update(ids[3], {"status": "completed", "val_loss": 1.25})
    assert log.get(ids[3])["status"] == "completed" and log.get(ids[3])["n"] == 3
    with pytest.raises(KeyError):
        log.update("no-such-id", {"status": "failed"})
    with pytest.raises(ValueError):
        log.update(ids[3], {"id": "other"})

    log.append(ids[3], "loss_history", [{"step": 1, "loss": 2.0}])
    log.append(ids[3], "loss_history", [{"step": 2, "loss": 1.5}, {"step": 3, "loss": 1.2}])
    assert [p["step"] for p in log.get(ids[3])["loss_history"]] == [1, 2, 3]
    with pytest.raises(KeyError):
        log.append("no-such-id", "loss_history", [1])

    assert [r["n"] for r in log.find(strategy="lora")] == [1, 3, 5, 7, 9, 11]
    assert [r["id"] for r in log.find(strategy="lora", n=3)] == [ids[3]]
    assert log.find(status=None) == []  # absent fields match nothing
    assert log.find() == log.all()
    assert log.get("no-such-id") is None

    copy = log.get(ids[0])
    copy["n"] = 99
    assert log.get(ids[0])["n"] == 0  # results are copies
    assert len(Store(tmp_path).experiments) == 12


def test_insert_many_writes_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    original = log_module.AtomicJSONStorage.write
    monkeypatch.setattr(
        log_module.AtomicJSONStorage, "write", lambda self, data: (writes.append(1), original(self, data))
    )
    log = Store(tmp_path).responses
    assert len(log.insert_many([{"k": i} for i in range(5)])) == 5
    assert len(writes) == 1 and len(log) == 5


def test_insert_unique_is_one_rating_per_rater_per_item(tmp_path: Path) -> None:
    log = Store(tmp_path).ratings
    key = ("item_id", "rater_id")
    first = log.insert_unique({"item_id": "i1", "rater_id": "r1", "preference": "A"}, key)
    assert first is not None
    before = (tmp_path / "HumanEvaluations.journal.jsonl").read_bytes()
    assert log.insert_unique({"item_id": "i1", "rater_id": "r1", "preference": "B"}, key) is None
    assert (tmp_path / "HumanEvaluations.journal.jsonl").read_bytes() == before  # nothing written
    assert log.insert_unique({"item_id": "i1", "rater_id": "r2", "preference": "B"}, key) is not None
    assert log.insert_unique({"item_id": "i2", "rater_id": "r1", "preference": "tie"}, key) is not None
    assert [r["preference"] for r in log.find(item_id="i1")] == ["A", "B"]
    assert len(log) == 3
    with pytest.raises(ValueError):
        log.insert_unique({"item_id": "i3"}, ())


def test_logs_on_the_same_file_share_one_thread_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = JsonLog(Path("logs/HumanEvaluations.json"), "HumanEvaluations")
    assert relative._lock is Store(tmp_path / "logs").ratings._log._lock  # the journal folds under this lock
    assert relative._lock is not Store(tmp_path / "logs").responses._lock


def test_threads_in_one_process_lose_nothing(tmp_path: Path) -> None:
    Store(tmp_path).experiments.insert({"name": "shared", "loss_history": []})
    _insert_worker(str(tmp_path), "solo")
    _check_concurrent_result(tmp_path, ["solo"])


@pytest.mark.multiprocess
def test_threads_in_two_processes_lose_nothing(tmp_path: Path) -> None:
    Store(tmp_path).experiments.insert({"name": "shared", "loss_history": []})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_insert_worker, args=(str(tmp_path), tag)) for tag in ("p0", "p1")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    _check_concurrent_result(tmp_path, ["p0", "p1"])


CRASH_CHILD = """
import sys
from bempathy.storage.store import Store
log = Store(sys.argv[1]).experiments
text = "আমি তোমার কথা শুনছি, র‍্যাব। " * 700  # about 50 KB of UTF-8
while True:
    log.insert({"text": text})
"""


def _count_records(path: Path) -> int:
    """Reads without the lock on purpose: with atomic replace, readers never see a half-written file."""
    if not path.exists():
        return 0
    return len(json.loads(path.read_text(encoding="utf-8"))["LLAMAExperiments"])


def _insert_with_timeout(logs_dir: Path, timeout: float) -> str | None:
    """Insert from a daemon thread so a stuck lock fails the test instead of hanging it."""
    inserted: list[str] = []
    writer = threading.Thread(target=lambda: inserted.append(Store(logs_dir).experiments.insert({})), daemon=True)
    writer.start()
    writer.join(timeout)
    return inserted[0] if inserted else None


@pytest.mark.multiprocess
def test_sigkill_mid_write_leaves_a_valid_file_and_no_stuck_lock(tmp_path: Path) -> None:
    """Chosen behaviour: a kill may leave ``LLAMAExperiments.json.tmp``; it is never the log itself,
    and the next write replaces it. The log always parses and the lock dies with its holder."""
    log_path = tmp_path / "LLAMAExperiments.json"
    tmp_file = tmp_path / "LLAMAExperiments.json.tmp"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    rng = random.Random(1234)
    for _round in range(5):
        start = _count_records(log_path)
        child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(tmp_path)], env=env)
        try:
            deadline = time.monotonic() + 20
            while _count_records(log_path) < start + 2:
                assert child.poll() is None, "writer died on its own"
                assert time.monotonic() < deadline, "writer made no progress"
                time.sleep(0.005)
            kill_at = time.monotonic() + rng.uniform(0, 0.05)
            while time.monotonic() < kill_at:  # keep reading: no reader may ever see a half-written log
                _count_records(log_path)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()

        raw = json.loads(log_path.read_text(encoding="utf-8"))
        assert list(raw) == ["LLAMAExperiments"]
        ids = [doc["id"] for doc in raw["LLAMAExperiments"].values()]
        assert len(ids) == len(set(ids)) >= start + 2
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] in ([], [tmp_file.name])

        with open(tmp_path / "LLAMAExperiments.json.lock", "a") as fh:  # lock is free after the kill
            portalocker.lock(fh, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
            portalocker.unlock(fh)
        inserted = _insert_with_timeout(tmp_path, timeout=10)
        assert inserted is not None and Store(tmp_path).experiments.get(inserted) is not None
        assert not tmp_file.exists()  # a successful write consumes any leftover temp file


CRASH_MID_WRITE_CHILD = """
import builtins, os, signal, sys
from bempathy.storage import log, store

class WriteHalfThenDie:
    def __init__(self, fh):
        self.fh = fh
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.fh.__exit__(*exc)
    def __getattr__(self, name):
        return getattr(self.fh, name)
    def write(self, text):
        self.fh.write(text[: len(text) // 2])
        self.fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)

def crashing_open(file, mode="r", *args, **kwargs):
    fh = builtins.open(file, mode, *args, **kwargs)
    return WriteHalfThenDie(fh) if "w" in mode or "+" in mode else fh

experiments = store.Store(sys.argv[1]).experiments
experiments.insert({"id": "before", "text": "আগের লেখা"})
log.open = crashing_open  # the log module's own writes now die halfway through
experiments.insert({"id": "lost", "text": "নতুন লেখা" * 1000})
"""


@pytest.mark.multiprocess
def test_sigkill_exactly_halfway_through_a_write_keeps_the_old_file(tmp_path: Path) -> None:
    """Deterministic version of the random kill above: the writer dies with half its bytes on disk.
    The hook wraps ``open`` in the log module; if the store stops writing through it, the child
    exits normally and the returncode check fails instead of the test passing vacuously."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", CRASH_MID_WRITE_CHILD, str(tmp_path)], env=env, timeout=30)
    assert result.returncode == -signal.SIGKILL
    assert _count_records(tmp_path / "LLAMAExperiments.json") == 1
    assert [r["id"] for r in Store(tmp_path).experiments.all()] == ["before"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == ["LLAMAExperiments.json.tmp"]
    assert _insert_with_timeout(tmp_path, timeout=10) is not None
    assert not (tmp_path / "LLAMAExperiments.json.tmp").exists()
    assert len(Store(tmp_path).experiments) == 2


@pytest.mark.parametrize(
    "content",
    [
        b'{"LLAMAExperiments": {"1": {"id": "abc", "model_name": "tiny"',  # truncated
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'{"LLAMAExperiments": {"1": "not a document"}}',
        b'{"LLAMAExperiments": {"first": {"id": "abc"}}}',
    ],
    ids=["truncated", "binary", "list", "doc-not-object", "bad-doc-id"],
)
def test_corrupt_file_raises_and_is_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "LLAMAExperiments.json"
    path.write_bytes(content)
    log = Store(tmp_path).experiments
    operations = [
        lambda: log.insert({"model_name": "tiny"}),
        lambda: log.insert_many([{"a": 1}]),
        lambda: log.insert_unique({"a": 1}, ("a",)),
        lambda: log.update("abc", {"status": "failed"}),
        lambda: log.append("abc", "loss_history", [1.0]),
        lambda: log.get("abc"),
        log.all,
        lambda: log.find(model_name="tiny"),
        lambda: len(log),
    ]
    for operation in operations:
        with pytest.raises(StoreCorruptError, match=re.escape(str(path))) as info:
            operation()
        assert "left untouched" in str(info.value)
        assert isinstance(info.value, RuntimeError)
    assert path.read_bytes() == content
    assert not (tmp_path / "LLAMAExperiments.json.tmp").exists()


def test_logs_dir_from_env_var_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = tmp_path.resolve()  # the store resolves symlinks (e.g. /tmp on macOS)
    monkeypatch.setenv("BEMPATHY_LOGS_DIR", str(tmp_path / "from_env"))
    store = Store()
    assert store.logs_dir == default_logs_dir() == tmp_path / "from_env"
    store.ratings.insert({"rater_id": "r1"})
    assert (tmp_path / "from_env" / "HumanEvaluations.journal.jsonl").exists()
    store.ratings.close()
    assert (tmp_path / "from_env" / "HumanEvaluations.json").exists()
    assert Store(tmp_path / "explicit").logs_dir == tmp_path / "explicit"  # argument beats env var

    monkeypatch.delenv("BEMPATHY_LOGS_DIR")
    monkeypatch.chdir(tmp_path)
    assert Store().logs_dir == tmp_path / "logs" and (tmp_path / "logs").is_dir()

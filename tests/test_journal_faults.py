"""Hostile-crowd faults in the ratings storage: one bad line never stops the app and no byte is deleted without
a copy (quarantine), multi-key uniqueness under threads and processes, and the admin's ``check`` / ``repair``."""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from tinydb import TinyDB

from bempathy.human_eval import main
from bempathy.storage import quarantine as quarantine_module
from bempathy.storage import repair
from bempathy.storage.journal import RatingJournal
from bempathy.storage.log import JsonLog
from bempathy.storage.quarantine import QUARANTINE_SUFFIX, scan_journal
from bempathy.storage.repair import salvage_tinydb
from bempathy.storage.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
KEY = ("item_id", "rater_id")
SLOT = ("item_id", "slot")
JOURNAL = "HumanEvaluations.journal.jsonl"
QUARANTINE = "HumanEvaluations" + QUARANTINE_SUFFIX
GARBAGE = b"\x00not a record \xff\xfe"


def _journal(logs: Path, truncate_on_fold: bool = False) -> RatingJournal:
    return Store(logs, ratings_fold_interval=None, ratings_truncate_on_fold=truncate_on_fold).ratings


def _line(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8") + b"\n"


def _quarantined(logs: Path) -> list[dict]:
    path = logs / QUARANTINE
    return [json.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _folded(logs: Path) -> list[dict]:
    with TinyDB(logs / "HumanEvaluations.json") as db:
        return [dict(doc) for doc in db.table("HumanEvaluations").all()]


def _damaged_journal(logs: Path, bad: bytes = GARBAGE) -> tuple[str, int]:
    """One acknowledged record, then ``bad`` as a complete line, then a valid record "after"; returns the first
    id and the byte offset of the bad line."""
    ratings = _journal(logs)
    first = ratings.insert_unique({"item_id": "i1", "rater_id": "r1"}, KEY)
    ratings.close()
    path = logs / JOURNAL
    offset = path.stat().st_size
    path.write_bytes(path.read_bytes() + bad + b"\n" + _line({"id": "after", "item_id": "i2", "rater_id": "r1"}))
    return first, offset


# ---- quarantine -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [GARBAGE, b"[1, 2]", b'{"id": 5, "item_id": "i9"}', b'{"item_id": "no id"}', b'{"id": "cut'],
    ids=["binary", "not-an-object", "id-not-a-string", "no-id", "unterminated"],
)
def test_a_bad_line_mid_journal_is_quarantined_with_its_offset_and_the_rest_loads(
    tmp_path: Path, bad: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    first, offset = _damaged_journal(tmp_path, bad)
    content = (tmp_path / JOURNAL).read_bytes()
    with caplog.at_level(logging.WARNING, logger="bempathy.storage.journal"):
        ratings = _journal(tmp_path)
        assert [r["id"] for r in ratings.all()] == [first, "after"]
    assert ratings.quarantined_lines == 1
    assert any("1 damaged line(s)" in message for message in caplog.messages)
    [entry] = _quarantined(tmp_path)
    assert entry["journal"] == JOURNAL and entry["byte_offset"] == offset and entry["line_number"] == 2
    assert base64.b64decode(entry["bytes_b64"]) == bad and entry["text"] == bad.decode("utf-8", errors="replace")
    assert entry["reason"] and datetime.fromisoformat(entry["quarantined_at"]).tzinfo is not None
    assert ratings.insert_unique({"item_id": "i3", "rater_id": "r1"}, KEY) is not None  # writes go on
    assert (tmp_path / JOURNAL).read_bytes().startswith(content)  # append-only mode: nothing rewritten
    ratings.close()


def test_the_same_bad_line_is_quarantined_once_by_two_instances_and_on_every_reread(tmp_path: Path) -> None:
    _damaged_journal(tmp_path)
    first, second = _journal(tmp_path), _journal(tmp_path)  # two processes' worth of state
    assert len(first) == len(second) == 2
    path, copy = tmp_path / JOURNAL, tmp_path / "copy.jsonl"
    shutil.copyfile(path, copy)
    os.replace(copy, path)  # "another process replaced the journal": both re-read it from byte 0
    assert len(first) == len(second) == 2
    third = _journal(tmp_path)
    assert len(third) == 2
    assert [first.quarantined_lines, second.quarantined_lines, third.quarantined_lines] == [1, 0, 0]
    assert len(_quarantined(tmp_path)) == 1
    for ratings in (first, second, third):
        ratings.close()


QUARANTINE_READER = """
import sys
from bempathy.storage.store import Store
ratings = Store(sys.argv[1], ratings_fold_interval=None, ratings_truncate_on_fold=False).ratings
print(len(ratings), ratings.quarantined_lines, flush=True)
"""


@pytest.mark.multiprocess
def test_the_same_bad_line_is_quarantined_once_by_two_processes(tmp_path: Path) -> None:
    _damaged_journal(tmp_path)
    children = [
        subprocess.Popen([sys.executable, "-c", QUARANTINE_READER, str(tmp_path)], env=ENV, stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    outputs = [child.communicate(timeout=60)[0].decode().split() for child in children]
    assert [child.returncode for child in children] == [0, 0, 0]
    assert [int(records) for records, _ in outputs] == [2, 2, 2]
    assert sorted(int(copied) for _, copied in outputs) == [0, 0, 1]
    assert len(_quarantined(tmp_path)) == 1


def test_a_torn_tail_is_moved_to_quarantine_then_truncated_and_the_acked_record_stays(tmp_path: Path) -> None:
    ratings = _journal(tmp_path)
    kept = ratings.insert_unique({"item_id": "i1", "rater_id": "r1"}, KEY)
    ratings.close()
    path, torn = tmp_path / JOURNAL, b'{"id": "torn", "item_id": "i2", "rat'
    acked = path.read_bytes()
    path.write_bytes(acked + torn)
    reopened = _journal(tmp_path)
    assert [r["id"] for r in reopened.all()] == [kept] and reopened.quarantined_lines == 1
    assert path.read_bytes() == acked
    [entry] = _quarantined(tmp_path)
    assert (entry["reason"], entry["byte_offset"], entry["line_number"]) == ("torn tail", len(acked), 2)
    assert base64.b64decode(entry["bytes_b64"]) == torn
    reopened.close()


def test_a_torn_tail_is_never_truncated_when_its_copy_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ratings = _journal(tmp_path)
    ratings.insert_unique({"item_id": "i1", "rater_id": "r1"}, KEY)
    ratings.close()
    path = tmp_path / JOURNAL
    path.write_bytes(path.read_bytes() + b'{"id": "torn"')
    content = path.read_bytes()

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(quarantine_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        _journal(tmp_path).all()
    assert path.read_bytes() == content  # the bytes are still there: no copy, no truncation


def test_a_copy_that_landed_before_a_crash_is_not_made_twice(tmp_path: Path) -> None:
    """Killed between the fsynced copy and the truncation: the next reader truncates without a second copy."""
    ratings = _journal(tmp_path)
    ratings.insert_unique({"item_id": "i1", "rater_id": "r1"}, KEY)
    ratings.close()
    path = tmp_path / JOURNAL
    path.write_bytes(path.read_bytes() + b'{"id": "torn"')
    quarantine_module.quarantine(path, scan_journal(path.read_bytes()).damage)
    reopened = _journal(tmp_path)
    assert len(reopened) == 1 and reopened.quarantined_lines == 0
    assert path.read_bytes().endswith(b"\n") and len(_quarantined(tmp_path)) == 1
    reopened.close()


def test_a_copy_torn_by_a_kill_does_not_glue_onto_the_next(tmp_path: Path) -> None:
    first, _ = _damaged_journal(tmp_path)
    (tmp_path / QUARANTINE).write_bytes(b'{"journal": "HumanEvaluations.journal.jsonl", "byte_off')
    ratings = _journal(tmp_path)
    assert [r["id"] for r in ratings.all()] == [first, "after"] and ratings.quarantined_lines == 1
    lines = (tmp_path / QUARANTINE).read_bytes().splitlines()
    assert len(lines) == 2 and base64.b64decode(json.loads(lines[1])["bytes_b64"]) == GARBAGE
    ratings.close()


def test_a_fold_after_quarantine_never_puts_the_bad_line_in_the_json(tmp_path: Path) -> None:
    first, _ = _damaged_journal(tmp_path, b'{"item_id": "no id", "rater_id": "r9"}')
    ratings = _journal(tmp_path, truncate_on_fold=True)
    assert len(ratings) == 2  # first use opens it, which folds and rotates the journal
    assert sorted(r["id"] for r in _folded(tmp_path)) == sorted([first, "after"])
    assert (tmp_path / JOURNAL).read_bytes() == b""  # the bad line now lives only in quarantine
    assert len(_quarantined(tmp_path)) == 1
    path = tmp_path / JOURNAL  # a bad line arriving while the journal is open, met by the fold itself
    path.write_bytes(path.read_bytes() + b"}{ garbage\n" + _line({"id": "late", "item_id": "i3", "rater_id": "r"}))
    assert ratings.fold() == 1 and ratings.fold() == 0
    assert sorted(r["id"] for r in _folded(tmp_path)) == sorted([first, "after", "late"])
    assert "r9" not in (tmp_path / "HumanEvaluations.json").read_text() and len(_quarantined(tmp_path)) == 2
    ratings.close()
    assert len(_journal(tmp_path)) == 3


# ---- multi-key uniqueness -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["journal", "jsonlog"])
def test_insert_unique_refuses_a_record_that_clashes_on_any_constraint(tmp_path: Path, kind: str) -> None:
    log = _journal(tmp_path) if kind == "journal" else JsonLog(tmp_path / "Other.json", "Other")
    assert log.insert_unique({"item_id": "i1", "rater_id": "r1", "slot": 0}, KEY, SLOT) is not None
    assert log.insert_unique({"item_id": "i1", "rater_id": "r2", "slot": 0}, KEY, SLOT) is None  # slot taken
    assert log.insert_unique({"item_id": "i1", "rater_id": "r1", "slot": 1}, KEY, SLOT) is None  # rater done
    assert log.insert_unique({"item_id": "i1", "rater_id": "r2", "slot": 1}, KEY, SLOT) is not None
    assert log.insert_unique({"item_id": "i1", "rater_id": "r3"}, KEY, SLOT) is not None  # no slot: key only
    assert log.insert_unique({"item_id": "i1", "rater_id": "r3"}, KEY, SLOT) is None
    assert log.insert_unique({"item_id": "i1", "rater_id": "r4", "slot": 0}, KEY) is not None  # one constraint
    with pytest.raises(ValueError):
        log.insert_unique({"item_id": "i9"})
    with pytest.raises(ValueError):
        log.insert_unique({"item_id": "i9"}, KEY, ())
    with pytest.raises(TypeError):
        log.insert_unique({"item_id": "i9"}, "item_id")  # a typo for ("item_id",)
    assert len(log) == 4
    if kind == "journal":
        log.ensure_index(KEY, SLOT)
        log.close()


def _claim_slots(logs: str, thread_count: int, tag: str) -> list[tuple[str, int, str]]:
    """Each thread is its own rater and tries every slot of every item: only the slot constraint can stop it."""
    ratings = Store(logs, ratings_fold_interval=0.02).ratings  # folds race the appends on purpose

    def work(thread: int) -> list[tuple[str, int, str]]:
        rater, got = f"{tag}-r{thread}", []
        order = [(f"item{i}", slot) for i in range(6) for slot in range(3)]
        random.Random(f"{tag}{thread}").shuffle(order)
        for item, slot in order:
            if ratings.insert_unique({"item_id": item, "rater_id": rater, "slot": slot}, KEY, SLOT):
                got.append((item, slot, rater))
        return got

    with ThreadPoolExecutor(thread_count) as pool:
        acked = [claim for part in pool.map(work, range(thread_count)) for claim in part]
    ratings.close()
    return acked


def _claim_slots_to_file(logs: str, thread_count: int, tag: str, out: str) -> None:
    Path(out).write_text(json.dumps(_claim_slots(logs, thread_count, tag)))


def _assert_one_per_key(acked: list, stored: list[dict]) -> None:
    assert len(acked) == 18  # 6 items x 3 slots, every one taken exactly once
    assert Counter((item, slot) for item, slot, _ in acked).most_common(1)[0][1] == 1
    assert Counter((item, rater) for item, _, rater in acked).most_common(1)[0][1] == 1
    assert sorted((r["item_id"], r["slot"], r["rater_id"]) for r in stored) == sorted(map(tuple, acked))


def test_multi_key_uniqueness_holds_under_threads(tmp_path: Path) -> None:
    acked = _claim_slots(str(tmp_path), 6, "t")
    _assert_one_per_key(acked, _folded(tmp_path))


@pytest.mark.multiprocess
def test_multi_key_uniqueness_holds_across_two_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"acked{p}.json" for p in range(2)]
    procs = [
        ctx.Process(target=_claim_slots_to_file, args=(str(tmp_path / "logs"), 3, f"p{p}", str(outs[p])))
        for p in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    _assert_one_per_key([claim for out in outs for claim in json.loads(out.read_text())], _folded(tmp_path / "logs"))


# ---- check and repair -----------------------------------------------------------------------------


def _snapshot(logs: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(logs.iterdir())}


def _healthy_logs(logs: Path, ratings: int = 12) -> list[dict]:
    """Every log bempathy writes, with records; returns the folded ratings."""
    store = Store(logs, ratings_fold_interval=None)
    store.experiments.insert({"status": "completed", "loss_history": [1.0, 0.5]})
    store.responses.insert_many([{"variant": "base", "response_text": f"উত্তর {n}"} for n in range(3)])
    for n in range(ratings):
        store.ratings.insert_unique({"item_id": f"i{n}", "rater_id": "r", "scores": {"1": {"x": n}}}, KEY)
    store.ratings.close()
    return _folded(logs)


def _truncate_json(logs: Path) -> None:
    path = logs / "HumanEvaluations.json"
    path.write_bytes(path.read_bytes()[:-40])


def _garble_json(logs: Path) -> None:
    path = logs / "LLAMAExperiments.json"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] + b"\xff GARBAGE ]]" + raw[len(raw) // 2 :])


def _bad_journal_line(logs: Path) -> None:
    with open(logs / JOURNAL, "ab") as fh:
        fh.write(GARBAGE + b"\n")


def _torn_journal(logs: Path) -> None:
    with open(logs / JOURNAL, "ab") as fh:
        fh.write(b'{"id": "torn", "ite')


DAMAGE = {
    "truncated-json": (_truncate_json, "HumanEvaluations.json: NEEDS REPAIR: invalid JSON at line"),
    "garbage-in-json": (_garble_json, "LLAMAExperiments.json: NEEDS REPAIR: not UTF-8 at byte"),
    "bad-journal-line": (_bad_journal_line, f"{JOURNAL}: NEEDS REPAIR: malformed line 1 (byte 0)"),
    "torn-journal-tail": (_torn_journal, f"{JOURNAL}: NEEDS REPAIR: torn tail of 19 bytes at byte 0"),
}


def test_check_is_quiet_and_zero_on_healthy_logs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _healthy_logs(tmp_path)
    assert main(["check", "--logs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "NEEDS REPAIR" not in out and "HumanEvaluations.json: ok: 12 records" in out
    assert main(["repair", "--logs-dir", str(tmp_path)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_check_reports_each_damage_changes_nothing_and_repair_makes_it_pass(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture
) -> None:
    _healthy_logs(tmp_path)
    damage_fn, expected = DAMAGE[damage]
    damage_fn(tmp_path)
    before = _snapshot(tmp_path)
    assert main(["check", "--logs-dir", str(tmp_path)]) == 1
    assert expected in capsys.readouterr().out
    assert _snapshot(tmp_path) == before  # no fold, no quarantine, no truncation, not even a lock file
    assert main(["repair", "--logs-dir", str(tmp_path)]) == 0
    repaired = capsys.readouterr().out
    damaged_name = expected.split(":")[0]
    [backup] = [path for path in tmp_path.iterdir() if path.name.startswith(damaged_name + ".bak-")]
    assert re.fullmatch(re.escape(damaged_name) + r"\.bak-\d{8}T\d{6}Z", backup.name)
    assert backup.read_bytes() == before[damaged_name] and backup.name in repaired
    assert main(["check", "--logs-dir", str(tmp_path)]) == 0, capsys.readouterr().out
    assert len(_journal(tmp_path)) > 0  # and the app opens what repair left


def test_repair_salvages_every_complete_record_from_a_truncated_json(tmp_path: Path, capsys) -> None:
    folded = _healthy_logs(tmp_path)
    path = tmp_path / "HumanEvaluations.json"
    raw = path.read_bytes()
    cut = raw.index(folded[-1]["id"].encode())  # inside the last record
    path.write_bytes(raw[:cut])
    assert main(["repair", "--logs-dir", str(tmp_path)]) == 0
    assert "with the 11 records" in capsys.readouterr().out
    assert _folded(tmp_path) == folded[:-1]


def test_repair_salvages_records_before_and_after_a_garbage_region(tmp_path: Path) -> None:
    folded = _healthy_logs(tmp_path)
    path = tmp_path / "HumanEvaluations.json"
    raw = path.read_bytes()
    start = raw.index(folded[5]["id"].encode())  # garbage over records 5 and 6 only
    end = raw.index(folded[6]["id"].encode()) + 5
    path.write_bytes(raw[:start] + b"\x00\xff}]garbage{{" + raw[end:])
    assert main(["repair", "--logs-dir", str(tmp_path)]) == 0
    assert _folded(tmp_path) == folded[:5] + folded[7:]
    ratings = _journal(tmp_path)  # the app starts on the salvaged file and the lost keys are free again
    assert len(ratings) == 10 and ratings.insert_unique({"item_id": "i5", "rater_id": "r"}, KEY) is not None
    ratings.close()


def test_salvage_handles_compact_files_and_several_tables() -> None:
    data = {"A": {"1": {"id": "a"}, "2": {"id": "b", "s": {"3": {"id": "nested"}}}}, "B": {"7": {"id": "c"}}}
    compact = json.dumps(data).encode()
    assert salvage_tinydb(compact, "A") == data
    assert salvage_tinydb(compact[:-8], "A") == {"A": data["A"]}
    assert salvage_tinydb(json.dumps(data, indent=1).encode(), "A") == data
    assert salvage_tinydb(b"[1]", "A") == {"A": {}}


def test_repair_quarantines_the_journal_with_the_journals_own_code(tmp_path: Path, capsys) -> None:
    _healthy_logs(tmp_path)
    _bad_journal_line(tmp_path)
    _torn_journal(tmp_path)
    assert main(["repair", "--logs-dir", str(tmp_path)]) == 0
    assert "2 lines copied" in capsys.readouterr().out
    assert [entry["reason"] for entry in _quarantined(tmp_path)][1] == "torn tail"
    assert (tmp_path / JOURNAL).read_bytes() == GARBAGE + b"\n"  # quarantined, dropped by the app's next fold
    ratings = _journal(tmp_path, truncate_on_fold=True)
    assert ratings.quarantined_lines == 0 and len(ratings) == 12  # already quarantined: not copied again
    assert (tmp_path / JOURNAL).read_bytes() == b""
    ratings.close()
    assert main(["check", "--logs-dir", str(tmp_path)]) == 0


def test_a_backup_never_overwrites_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:
            return datetime(2025, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(repair, "datetime", Frozen)
    path = tmp_path / "HumanEvaluations.json"
    names = [repair._backup(path, data).name for data in (b"one", b"two", b"three")]
    assert names == [f"HumanEvaluations.json.bak-20250102T030405Z{s}" for s in ("", "-1", "-2")]
    assert [(tmp_path / name).read_bytes() for name in names] == [b"one", b"two", b"three"]


def test_check_and_repair_refuse_a_missing_logs_dir(tmp_path: Path, capsys) -> None:
    for command in ("check", "repair"):
        assert main([command, "--logs-dir", str(tmp_path / "nope")]) == 2
        assert capsys.readouterr().err.startswith("error: no logs folder")
    assert not (tmp_path / "nope").exists()
    with pytest.raises(SystemExit) as usage:
        main(["check", "--bogus"])
    assert usage.value.code == 2

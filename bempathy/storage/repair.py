"""Check and repair the logs folder without the app: what ``python -m bempathy.human_eval check|repair`` runs.

``check_logs`` reads every log bempathy writes without changing a byte (no fold, no quarantine, no truncation:
the journal would do those on open). ``repair_logs`` fixes what it finds under the same locks the app uses, so it
is safe while the app runs: a damaged file is first copied to ``<name>.bak-<UTC timestamp>``; a JSON log that
does not parse is rewritten with every record that can still be decoded; journal lines that are not records,
and a torn tail, go to the journal's quarantine file (through :mod:`bempathy.storage.quarantine`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bempathy.storage.log import AtomicJSONStorage, JsonLog, StoreCorruptError, fsync_dir, parse_tinydb
from bempathy.storage.quarantine import (
    JOURNAL_SUFFIX,
    journal_locked,
    pending_damage,
    quarantine_path,
    read_quarantine,
    scan_journal,
    settle,
)
from bempathy.storage.store import Store

JSON_LOGS = (Store.EXPERIMENTS, Store.RESPONSES, Store.RATINGS, Store.LEASES)  # table name = file stem
JOURNALED = (Store.RATINGS, Store.LEASES)  # RatingJournal in front of these
_KEY = re.compile(r'"(?:[^"\\\n]|\\.)*"\s*:\s*\{')  # any '"key": {' in a TinyDB file


@dataclass(frozen=True)
class Finding:
    """One file's verdict: ``ok`` False means ``repair`` has something to do."""

    path: Path
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}: {'ok' if self.ok else 'NEEDS REPAIR'}: {self.message}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _json_problem(raw: bytes, path: Path) -> tuple[str | None, int]:
    """What is wrong with a TinyDB file's bytes (None: nothing) and how many records it holds."""
    try:
        data = parse_tinydb(raw, path) or {}
    except StoreCorruptError as exc:
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            return f"invalid JSON at line {cause.lineno} column {cause.colno} (char {cause.pos}): {cause.msg}", 0
        if isinstance(cause, UnicodeDecodeError):
            return f"not UTF-8 at byte {cause.start}", 0
        return "valid JSON but not a TinyDB structure {table: {doc_id: {...}}}", 0
    return None, sum(len(table) for table in data.values())


def _check_json(path: Path) -> Finding:
    raw = _read(path)
    if raw is None:
        return Finding(path, True, "absent (nothing written yet)")
    problem, records = _json_problem(raw, path)
    return Finding(path, problem is None, problem or f"{records} records")


def _journal_path(logs_dir: Path, name: str) -> Path:
    return logs_dir / f"{name}{JOURNAL_SUFFIX}"


def _check_journal(journal: Path) -> list[Finding]:
    """The journal and its quarantine file, read under a shared journal lock: no writer is mid-line."""
    with journal_locked(journal, shared=True):
        raw = _read(journal)
        entries, unreadable = read_quarantine(journal)
    quarantined = quarantine_path(journal)
    if raw is None:
        findings = [Finding(journal, True, "absent (nothing written yet)")]
    else:
        scan = scan_journal(raw)
        pending = pending_damage(journal, scan.damage)
        problems = [
            f"malformed line {line.line_number} (byte {line.byte_offset}): {line.reason}"
            for line in scan.bad
            if line in pending
        ]
        if scan.torn is not None:
            copied = "" if scan.torn in pending else " (already in quarantine, not yet truncated)"
            problems.append(f"torn tail of {len(scan.torn.raw)} bytes at byte {scan.torn.byte_offset}{copied}")
        known = [line for line in scan.bad if line not in pending]
        notes = [f"{len(scan.docs)} records"]
        if known:
            where = ", ".join(f"line {line.line_number} (byte {line.byte_offset})" for line in known)
            notes.append(f"{len(known)} malformed lines already in quarantine, skipped: {where}")
        findings = [Finding(journal, not problems, "; ".join(problems + notes))]
    if quarantined.exists():
        note = f"{len(entries)} quarantined lines"
        if unreadable:
            note += f"; {unreadable} unreadable lines (a copy cut short by a kill; the journal still has the line)"
        findings.append(Finding(quarantined, True, note))
    return findings


def check_logs(logs_dir: Path) -> list[Finding]:
    """One finding per log file (and quarantine file) in the folder; reads only, changes nothing."""
    findings = [_check_json(logs_dir / f"{name}.json") for name in JSON_LOGS]
    for name in JOURNALED:
        findings.extend(_check_journal(_journal_path(logs_dir, name)))
    return findings


def _backup(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``<name>.bak-<UTC timestamp>`` (a counter if that exists; never overwrites), fsynced."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(10_000):
        target = path.with_name(f"{path.name}.bak-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(path.parent)
        return target
    raise FileExistsError(f"too many backups of {path} this second")


def salvage_tinydb(raw: bytes, default_table: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every record of a damaged TinyDB file that still decodes whole, under the table it sat in.

    Scans for ``"<digits>": {`` and decodes each with ``raw_decode``; a decoded record is skipped over, so
    its own nested objects are never mistaken for records. With the indent=1 layout ``AtomicJSONStorage``
    writes, records sit at two spaces of indentation and tables at one, which keeps nested keys inside a
    damaged record out. Records holding bytes that are not UTF-8 lie in the damage and are left to the backup.
    """
    text = raw.decode("utf-8", errors="surrogateescape")
    indented = '\n  "' in text
    decoder = json.JSONDecoder()
    tables: dict[str, dict[str, dict[str, Any]]] = {default_table: {}}
    table, position = default_table, 0
    while match := _KEY.search(text, position):
        position = match.end()
        indent = text[text.rfind("\n", 0, match.start()) + 1 : match.start()]
        try:
            key = decoder.raw_decode(text, match.start())[0]
        except ValueError:
            continue
        if not key.isdigit():
            if (indent == " ") if indented else _starts_table(text, match):
                table = key
                tables.setdefault(table, {})
            continue
        if indented and indent != "  ":
            continue
        try:
            doc, end = decoder.raw_decode(text, match.end() - 1)
        except ValueError:
            continue
        if not isinstance(doc, dict) or any("\udc80" <= ch <= "\udcff" for ch in text[match.end() - 1 : end]):
            continue
        docs = tables[table]
        if key in docs:
            key = str(max(int(k) for k in docs) + 1)
        docs[key] = doc
        position = end
    return {name: docs for name, docs in tables.items() if docs or name == default_table}


def _starts_table(text: str, match: re.Match[str]) -> bool:
    """Unindented files: a table key opens the file or follows a ``}`` and opens ``{}`` or ``{"<digits>": {``."""
    before = text[: match.start()].rstrip()
    after = text[match.end() :].lstrip()
    return (before == "{" or before.endswith(("},", "} ,"))) and bool(re.match(r'\}|"\d+"\s*:\s*\{', after))


def _repair_json(path: Path, table: str) -> str | None:
    """Salvage one JSON log under ``JsonLog.locked()`` (the lock every writer takes); what was done, or None."""
    if not path.exists():
        return None  # nothing to repair; do not leave a lock file behind either
    log = JsonLog(path, table)
    with log.locked():
        raw = _read(path)
        if raw is None or _json_problem(raw, path)[0] is None:
            return None
        backup = _backup(path, raw)
        data = salvage_tinydb(raw, table)
        AtomicJSONStorage(log.path).write(data)
    kept = sum(len(docs) for docs in data.values())
    return f"{path.name}: backup {backup.name}; rewrote it with the {kept} records that could be decoded"


def _repair_journal(journal: Path) -> str | None:
    """Quarantine a journal's damage with the journal's own code, under the journal lock; None if nothing to do."""
    if not journal.exists():
        return None
    with journal_locked(journal):
        raw = _read(journal)
        if raw is None:
            return None
        scan = scan_journal(raw)
        if scan.torn is None and not pending_damage(journal, scan.bad):
            return None
        backup = _backup(journal, raw)
        copied = settle(journal, scan)
    done = f"{journal.name}: backup {backup.name}; {len(copied)} lines copied to {quarantine_path(journal).name}"
    return done + (f"; torn tail of {len(scan.torn.raw)} bytes truncated" if scan.torn else "")


def repair_logs(logs_dir: Path) -> list[str]:
    """Back up and repair every damaged log in the folder; one line per thing done (empty: nothing to do)."""
    done = [_repair_json(logs_dir / f"{name}.json", name) for name in JSON_LOGS]
    done += [_repair_journal(_journal_path(logs_dir, name)) for name in JOURNALED]
    return [line for line in done if line]

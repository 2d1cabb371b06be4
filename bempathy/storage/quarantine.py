"""Quarantine for a journal's bad bytes: one damaged line must never stop the app, and no byte goes without a copy.

A complete journal line that is not a JSON object with a string ``id``, and a torn tail (bytes after the last
newline, left by a writer killed mid-write), are copied to ``<journal>.quarantine.jsonl`` (``QUARANTINE_SUFFIX``)
as one fsynced JSON line each (journal, byte_offset, line_number, reason, text, bytes_b64, quarantined_at) before
anything skips or truncates them; a line already held there (same byte offset and sha256) is not copied again,
however many processes or re-reads meet it. Used by :class:`bempathy.storage.journal.RatingJournal` and by
``python -m bempathy.human_eval check|repair`` (:mod:`bempathy.storage.repair`): one implementation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import portalocker

from bempathy.storage.log import fsync_dir, thread_lock, utc_now

logger = logging.getLogger(__name__)
JOURNAL_SUFFIX = ".journal.jsonl"
QUARANTINE_SUFFIX = ".journal.quarantine.jsonl"
TORN_TAIL = "torn tail"


@dataclass(frozen=True)
class BadLine:
    """Journal bytes that are not a record: a malformed complete line (without its newline) or a torn tail."""

    byte_offset: int
    line_number: int
    raw: bytes
    reason: str

    @property
    def key(self) -> tuple[int, str]:
        """What makes two sightings the same line: where it starts and what it holds."""
        return self.byte_offset, hashlib.sha256(self.raw).hexdigest()


@dataclass
class JournalScan:
    """One parse of journal bytes: the records, the lines that are not records, and where reading stopped."""

    docs: list[dict] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    torn: BadLine | None = None
    end: int = 0  # absolute byte offset just after the last complete line
    lines: int = 0  # complete lines up to ``end``

    @property
    def damage(self) -> list[BadLine]:
        """Everything that must be in quarantine before it is skipped or truncated."""
        return self.bad + ([self.torn] if self.torn else [])


def scan_journal(data: bytes, base_offset: int = 0, base_line: int = 0) -> JournalScan:
    """Parse journal bytes that start at ``base_offset`` (a line boundary), never raising on bad content.

    Lines are split on ``\\n`` only (what writers end lines with); blank lines are skipped silently.
    """
    complete = data.rfind(b"\n") + 1
    scan = JournalScan(end=base_offset + complete, lines=base_line + data.count(b"\n", 0, complete))
    position, line_no = base_offset, base_line
    for raw in data[:complete].split(b"\n")[:-1]:
        line_no += 1
        if raw.strip():
            reason = _not_a_record(raw)
            if reason is None:
                scan.docs.append(json.loads(raw))
            else:
                scan.bad.append(BadLine(position, line_no, raw, reason))
        position += len(raw) + 1
    if complete < len(data):
        scan.torn = BadLine(scan.end, scan.lines + 1, data[complete:], TORN_TAIL)
    return scan


def _not_a_record(raw: bytes) -> str | None:
    try:
        doc = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"invalid JSON ({exc})"
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        return 'not a JSON object with a string "id"'
    return None


def quarantine_path(journal_path: Path) -> Path:
    """``X.journal.jsonl`` -> ``X.journal.quarantine.jsonl``, beside it."""
    name = journal_path.name.removesuffix(JOURNAL_SUFFIX)
    return journal_path.with_name(name + QUARANTINE_SUFFIX)


@contextmanager
def journal_locked(journal_path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold J: this process's thread lock for the journal plus ``portalocker`` on ``<journal>.lock``.

    ``shared`` is for read-only checks: it never creates the lock file (no lock file: nobody ever wrote).
    """
    lock_path = journal_path.with_name(journal_path.name + ".lock")
    with thread_lock(journal_path):
        if shared and not lock_path.exists():
            yield
            return
        with open(lock_path, "r" if shared else "a") as lock_fh:
            portalocker.lock(lock_fh, portalocker.LockFlags.SHARED if shared else portalocker.LockFlags.EXCLUSIVE)
            try:
                yield
            finally:
                portalocker.unlock(lock_fh)


def read_quarantine(journal_path: Path) -> tuple[list[dict], int]:
    """The quarantine file's entries (each with ``_key``, the ``BadLine.key`` it holds) and how many of its
    lines are unreadable (a writer killed mid-copy: that line was not yet skipped or truncated, so it gets
    copied again)."""
    try:
        raw = quarantine_path(journal_path).read_bytes()
    except FileNotFoundError:
        return [], 0
    entries, unreadable = [], 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            entry["_key"] = (
                int(entry["byte_offset"]),
                hashlib.sha256(base64.b64decode(entry["bytes_b64"])).hexdigest(),
            )
        except (ValueError, TypeError, KeyError):
            unreadable += 1
            continue
        entries.append(entry)
    return entries, unreadable


def pending_damage(journal_path: Path, bad: list[BadLine]) -> list[BadLine]:
    """The lines of ``bad`` that the quarantine file does not hold yet (same byte offset and sha256)."""
    if not bad:
        return []
    known = {entry["_key"] for entry in read_quarantine(journal_path)[0]}
    return [line for line in bad if line.key not in known]


def quarantine(journal_path: Path, bad: list[BadLine]) -> list[BadLine]:
    """Copy the lines not yet in the quarantine file to it and fsync (caller holds J); returns those copied."""
    fresh = pending_damage(journal_path, bad)
    if not fresh:
        return []
    target = quarantine_path(journal_path)
    now = utc_now()
    text = "".join(
        json.dumps(
            {
                "journal": journal_path.name,
                "byte_offset": line.byte_offset,
                "line_number": line.line_number,
                "reason": line.reason,
                "text": line.raw.decode("utf-8", errors="replace"),
                "bytes_b64": base64.b64encode(line.raw).decode("ascii"),
                "quarantined_at": now,
            },
            ensure_ascii=False,
        )
        + "\n"
        for line in fresh
    ).encode("utf-8")
    created = not target.exists()
    fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            text = b"\n" + text  # a copy torn by a kill: start on a fresh line rather than glue onto it
        view, written = memoryview(text), 0
        while written < len(text):
            written += os.write(fd, view[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(target.parent)
    return fresh


def settle(journal_path: Path, scan: JournalScan) -> list[BadLine]:
    """Quarantine a scan's bad lines and torn tail, then truncate the tail (caller holds J, so no live writer
    is mid-write and the tail is a killed writer's unacknowledged line); returns the lines newly copied."""
    copied = quarantine(journal_path, scan.damage)
    if copied:
        logger.warning(
            "%s: %d damaged line(s) copied to %s and skipped",
            journal_path,
            len(copied),
            quarantine_path(journal_path).name,
        )
    if scan.torn is not None:
        os.truncate(journal_path, scan.end)  # only now that the copy is fsynced
    return copied

"""One TinyDB log file, safe for many threads and several processes writing at once; the primitives the
ratings journal shares (per-file thread locks, atomic JSON storage, directory fsync, record ids).

Why this module exists: TinyDB has no locking, and its JSONStorage rewrites the file in place, so
concurrent writers corrupt it and a crash mid-write leaves broken JSON. Here every operation holds a
per-process thread lock plus an exclusive ``portalocker`` lock on ``<file>.lock``, re-reads the file,
and writes through a temp file (``<file>.tmp``) that is fsynced and ``os.replace``d onto the log. A
process killed mid-write may leave that ``.tmp`` behind; it is never the log itself, and the next
write overwrites and renames it away. A file that does not parse raises ``StoreCorruptError`` and is
never overwritten.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import portalocker
from tinydb import TinyDB, where
from tinydb.storages import Storage
from tinydb.table import Table

T = TypeVar("T")
LOGS_DIR_ENV = "BEMPATHY_LOGS_DIR"

_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class StoreCorruptError(RuntimeError):
    """A log file is not valid TinyDB JSON; it is reported, never repaired silently, so no data is lost
    (``python -m bempathy.human_eval repair`` salvages it after keeping a byte-identical backup)."""


def utc_now() -> str:
    """Timestamp for records: ISO 8601 UTC with seconds, sortable and unambiguous across machines."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_logs_dir() -> Path:
    """``$BEMPATHY_LOGS_DIR`` if set, else ``./logs``, so tests and deployments can redirect the logs."""
    env = os.environ.get(LOGS_DIR_ENV)
    return Path(env).expanduser().absolute() if env else Path.cwd() / "logs"


class AtomicJSONStorage(Storage):
    """TinyDB storage that parses the whole file on every read and replaces it atomically on write.

    Callers must hold the log's locks: the temp file name is fixed, so only one writer may run.
    """

    def __init__(self, path: Path, indent: int | None = 1) -> None:
        self.path = path
        self.indent = indent

    def read(self) -> dict[str, dict[str, Any]] | None:
        """Parse the file (missing or empty means an empty database); raise on anything malformed."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return parse_tinydb(raw, self.path)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        """Write to ``<file>.tmp``, fsync, then rename: a crash leaves the old or the new file, never half."""
        text = json.dumps(data, ensure_ascii=False, indent=self.indent)  # fails before touching disk
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)


def parse_tinydb(raw: bytes, path: Path) -> dict[str, dict[str, Any]] | None:
    """Parse a TinyDB file's bytes (empty means an empty database); StoreCorruptError on anything malformed,
    raised from the JSONDecodeError / UnicodeDecodeError so callers can report the position."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _corrupt(path, f"invalid JSON ({exc})") from exc
    if not _is_tinydb_shape(data):
        raise _corrupt(path, "not a TinyDB structure {table: {doc_id: {...}}}")
    return data


def _corrupt(path: Path, why: str) -> StoreCorruptError:
    return StoreCorruptError(f"{path}: {why}; the file was left untouched, fix or move it away")


def fsync_dir(directory: Path) -> None:
    """Make a rename or a file creation in ``directory`` durable (POSIX: the entry lives in the directory)."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a whole file next to the target, fsync it and rename it over: a reader sees the old or the new file,
    never half of one (reports, figures, exports). Text is written as UTF-8."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_tinydb_shape(data: Any) -> bool:
    return isinstance(data, dict) and all(
        isinstance(table, dict) and all(isinstance(doc, dict) and doc_id.isdigit() for doc_id, doc in table.items())
        for table in data.values()
    )


def thread_lock(path: Path) -> threading.Lock:
    """One lock per resolved file path, shared by every JsonLog in this process."""
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(path, threading.Lock())


class JsonLog:
    """One TinyDB log file; every method is a complete locked transaction that sees other processes."""

    def __init__(self, path: Path, table: str) -> None:
        self.path = Path(path).resolve()
        self.table = table
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = thread_lock(self.path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this file's thread lock and its exclusive ``portalocker`` lock (the OS frees it if we die).

        Public so the rating journal can rewrite this file under exactly the lock every JsonLog uses.
        """
        with self._lock, open(self._lock_path, "a") as lock_fh:
            portalocker.lock(lock_fh, portalocker.LockFlags.EXCLUSIVE)  # blocks
            try:
                yield
            finally:
                portalocker.unlock(lock_fh)

    def _run(self, operation: Callable[[Table], T]) -> T:
        """The one lock-read-mutate-write path: hold both locks while TinyDB reads (and maybe writes).

        A fresh TinyDB per call means no query cache or next-id counter survives to go stale.
        """
        with self.locked(), TinyDB(self.path, storage=AtomicJSONStorage) as db:
            return operation(db.table(self.table))

    def insert(self, record: dict) -> str:
        """Add one record; returns its id."""
        return self.insert_many([record])[0]

    def insert_many(self, records: list[dict]) -> list[str]:
        """Add several records in one lock hold and one file write; ids must not exist yet."""
        docs = [new_doc(record) for record in records]
        ids = [doc["id"] for doc in docs]

        def operation(table: Table) -> list[str]:
            existing = {doc.get("id") for doc in table.all()}
            if len(set(ids)) != len(ids) or existing.intersection(ids):
                raise ValueError(f"{self.path}: duplicate record id in {ids}")
            table.insert_multiple(docs)
            return ids

        return self._run(operation)

    def insert_unique(self, record: dict, *unique_on: tuple[str, ...]) -> str | None:
        """Check-and-insert atomically; None if the id is taken or a record has the same values for ANY of the
        ``unique_on`` constraints (each a tuple of field names; one the record lacks a field of is not checked)."""
        doc = new_doc(record)
        keys = [matches({field: doc[field] for field in fields}) for fields in applicable(doc, unique_on)]

        def operation(table: Table) -> str | None:
            if table.contains(lambda other: other.get("id") == doc["id"] or any(key(other) for key in keys)):
                return None
            table.insert(doc)
            return doc["id"]

        return self._run(operation)

    def update(self, record_id: str, fields: dict) -> None:
        """Set ``fields`` on one record (KeyError if missing); the id itself cannot change."""
        if fields.get("id", record_id) != record_id:
            raise ValueError("a record's id cannot be changed")
        self._modify(record_id, lambda doc: doc.update(fields))

    def append(self, record_id: str, field: str, items: list) -> None:
        """Extend a list field inside the lock, so concurrent appends (loss history) are never lost."""
        self._modify(record_id, lambda doc: doc.setdefault(field, []).extend(items))

    def _modify(self, record_id: str, change: Callable[[dict], None]) -> None:
        if not self._run(lambda table: table.update(change, where("id") == record_id)):
            raise KeyError(record_id)

    def get(self, record_id: str) -> dict | None:
        """The record with this id, or None."""
        found = self.find(id=record_id)
        return found[0] if found else None

    def all(self) -> list[dict]:
        """Every record, in insertion order."""
        return self.find()

    def find(self, **equals: Any) -> list[dict]:
        """Records whose fields equal all the given values, in insertion order."""
        return self._run(lambda table: [dict(doc) for doc in table.search(matches(equals))])

    def __len__(self) -> int:
        return self._run(len)


def matches(equals: dict[str, Any]) -> Callable[[dict], bool]:
    """A TinyDB condition; a field that is absent never equals anything (not even None)."""
    return lambda doc: all(field in doc and doc[field] == value for field, value in equals.items())


def constraints(unique_on: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """Validate ``insert_unique``'s constraints: at least one, each a non-empty tuple of field names.

    A bare string is refused: ``("item_id")`` is a typo for ``("item_id",)`` and would mean its letters.
    """
    if not unique_on:
        raise ValueError("unique_on needs at least one constraint")
    checked = []
    for fields in unique_on:
        if isinstance(fields, str) or not all(isinstance(field, str) for field in fields):
            raise TypeError(f"a uniqueness constraint is a tuple of field names, not {fields!r}")
        if not fields:
            raise ValueError("unique_on needs at least one field")
        checked.append(tuple(fields))
    return tuple(checked)


def applicable(doc: dict, unique_on: tuple[tuple[str, ...], ...]) -> list[tuple[str, ...]]:
    """The constraints ``doc`` is checked against: those whose fields it all has (absent never equals)."""
    return [fields for fields in constraints(unique_on) if all(field in doc for field in fields)]


def new_doc(record: dict) -> dict:
    """Copy the caller's record and give it an id and timestamp if it has none."""
    doc = dict(record)
    doc.setdefault("id", uuid.uuid4().hex[:12])
    doc.setdefault("timestamp", utc_now())
    return doc

"""An append-only, fsynced journal in front of the TinyDB log ``HumanEvaluations.json``.

Why: ``JsonLog`` re-reads and rewrites the whole JSON file on every write, so a rating submit cost grew with
the number of stored ratings (3 ms at 100, 98 ms at 3,000). Here a submit appends one JSON line to
``HumanEvaluations.journal.jsonl`` and fsyncs it: its cost does not depend on how much is stored.

Layout and protocol (``J`` = journal lock, ``L`` = the JSON log's own lock; always taken L before J):

- **Append** (``insert_unique``): under J (thread lock + ``portalocker`` on ``<journal>.lock``), read any
  bytes other processes appended since our last byte offset, check uniqueness against the in-memory
  index (folded JSON loaded once + journal), append one line with ``O_APPEND``, ``fsync``, then ack.
  A rating is acknowledged only after its fsync, so kill -9 never loses an acknowledged rating.
- **Torn tail and damaged lines** (one bad line must never stop the app; no byte goes without a copy): a
  *complete* line that is not a JSON object with a string ``id`` is copied to
  ``HumanEvaluations.journal.quarantine.jsonl`` (``QUARANTINE_SUFFIX``) and skipped; reading goes on. A
  *torn tail* (bytes after the last newline: a writer killed mid-write, never acknowledged) is copied there
  too, then truncated; only whoever holds J does that, since under J no live writer is mid-write. Each copy
  is one JSON line (journal, byte_offset, line_number, reason, text, bytes_b64, quarantined_at), fsynced
  before anything is skipped or truncated, and written once however many processes or re-reads meet the
  line: under J the quarantine file is checked for the same (byte offset, sha256 of the bytes; the same
  bytes met again at that offset after a rotation are already held, so they need no second copy). The
  next fold that rotates the journal leaves a quarantined line behind (it never reaches the JSON file), so
  it then lives only in quarantine; with ``truncate_on_fold=False`` it stays, skipped. A JSON file that
  does not parse still raises ``StoreCorruptError``: the caller decides what to stop;
  ``python -m bempathy.human_eval check`` / ``repair`` fix it.
- **Fold**: under L, snapshot the journal's first N bytes (J held briefly), merge those records into the
  JSON file by record id (idempotent) through ``AtomicJSONStorage`` (temp file, fsync, rename), then under
  J replace the journal by its bytes after N (temp file, fsync, rename). A crash before the JSON rename
  loses nothing (the journal still has every line); a crash between the two renames leaves records in
  both files, which readers and the next fold dedupe by id. Appends run on during the slow JSON rewrite.
  Another process notices a replaced journal (its inode changed) and reloads JSON + journal under L, J.
- **When**: at open (first use), every ``fold_interval`` seconds in a daemon thread, at ``close()``, at
  interpreter exit (atexit) and on SIGTERM/SIGINT once ``install_signal_handlers()`` was called.

Pushing logs from a Space with ``huggingface_hub.CommitScheduler``: it lists files under
``scheduler.lock`` and uploads the first ``st_size`` bytes later, so it is only safe on append-only
files. Use ``truncate_on_fold=False`` (``Store(ratings_truncate_on_fold=False)``): the journal then only
ever grows (one line per rating, a few MB for 10,000 ratings) and is the file to push
(``allow_patterns=["*.journal.jsonl"]``); the JSON file is rewritten by each fold and must not be pushed.
POSIX only (``os.pread``, ``flock``).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bempathy.storage.log import (
    AtomicJSONStorage,
    JsonLog,
    applicable,
    constraints,
    fsync_dir,
    matches,
    new_doc,
    thread_lock,
)
from bempathy.storage.quarantine import (
    JOURNAL_SUFFIX,
    journal_locked,
    quarantine_path,
    scan_journal,
    settle,
)
from bempathy.storage.shutdown import close_all, forget, install_signal_handlers, remember

__all__ = ["RatingJournal", "close_all", "install_signal_handlers"]
logger = logging.getLogger(__name__)
Cursor = tuple[int, int]


class RatingJournal:
    """Ratings store with O(1) durable submits; same read API as ``JsonLog`` (``all``, ``find``, ``get``)."""

    def __init__(
        self,
        path: str | Path,
        table: str,
        *,
        fold_interval: float | None = 300.0,
        truncate_on_fold: bool = True,
        fold_lock: AbstractContextManager | None = None,
    ) -> None:
        self.path = Path(path).resolve()
        self.table = table
        self.journal_path = self.path.with_name(self.path.stem + JOURNAL_SUFFIX)
        self.quarantine_path = quarantine_path(self.journal_path)
        self.fold_interval = fold_interval
        self.truncate_on_fold = truncate_on_fold
        self.fold_lock = fold_lock  # e.g. a CommitScheduler's lock: no fold while it lists files
        self._log = JsonLog(self.path, table)
        self._open_guard = threading.Lock()
        self._opened = False
        self._fd: int | None = None  # read-only fd on the journal; pins its inode while we hold it
        self._ino: tuple[int, int] | None = None
        self._offset = 0  # bytes of the current journal file already read (always a line boundary)
        self._lines = 0  # complete lines read, for error messages
        self._fold_start = 0  # journal offset from which the next fold must look
        self._records: dict[str, dict] = {}
        self._list: list[dict] = []
        self._epoch = 0
        self._indexes: dict[tuple[str, ...], dict[tuple, str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.folded_records = 0  # records this instance moved into the JSON file (open, timer and explicit folds)
        self.quarantined_lines = 0  # damaged lines this instance copied to quarantine (never twice, any process)

    # ---- public API -------------------------------------------------------------------------------

    def insert(self, record: dict) -> str:
        """Append one record; ValueError if its id exists. Returns the id once the line is fsynced."""
        doc = new_doc(record)
        line = _encode(doc)
        with self._synced():
            if doc["id"] in self._records:
                raise ValueError(f"{self.journal_path}: duplicate record id {doc['id']!r}")
            self._append(line, doc)
        return doc["id"]

    def insert_unique(self, record: dict, *unique_on: tuple[str, ...]) -> str | None:
        """Check-and-append atomically across threads and processes; None if the id is taken or a record has
        the same values for ANY constraint (each a tuple of field names, e.g. ``("item_id", "rater_id"),
        ("item_id", "slot")``). A constraint the record lacks a field of is not checked, as in the index.

        The returned id means the record is on disk (fsynced): callers may acknowledge it.
        """
        doc = new_doc(record)
        checked = applicable(doc, unique_on)  # validates every constraint, even those not checked
        line = _encode(doc)  # refuses non-JSON before touching disk
        with self._synced():
            if doc["id"] in self._records or any(_key(doc, fields) in self._index(fields) for fields in checked):
                return None
            self._append(line, doc)
        return doc["id"]

    def get(self, record_id: str) -> dict | None:
        """The record with this id (a copy), or None."""
        with self._synced():
            found = self._records.get(record_id)
            return copy.deepcopy(found) if found is not None else None

    def all(self) -> list[dict]:
        """Every record (folded, then journal), each once, in insertion order; deep copies."""
        return self.find()

    def find(self, **equals: Any) -> list[dict]:
        """Records whose fields equal all the given values (absent fields match nothing); deep copies."""
        match = matches(equals)
        with self._synced():
            return [copy.deepcopy(doc) for doc in self._list if match(doc)]

    def __len__(self) -> int:
        with self._synced():
            return len(self._list)

    def ensure_index(self, *unique_on: tuple[str, ...]) -> None:
        """Build the uniqueness indexes now, so the first submit after start-up does not pay for them."""
        checked = constraints(unique_on)
        with self._synced():
            for fields in checked:
                self._index(fields)

    def changes(self, cursor: Cursor | None = None) -> tuple[list[dict], Cursor, bool]:
        """Records added since ``cursor`` (None: all), the new cursor, and whether to drop earlier state.

        The fast path for services that keep their own counts: O(new records). The dicts are the
        journal's own: read them, never mutate them. ``reset`` is True when records disappeared from
        disk (someone edited the log), in which case every record is returned again.
        """
        with self._synced():
            epoch, position = cursor if cursor is not None else (-1, 0)
            if epoch != self._epoch:
                return list(self._list), (self._epoch, len(self._list)), True
            return self._list[position:], (self._epoch, len(self._list)), False

    def fold(self) -> int:
        """Move journal records into the JSON log (by id, idempotent); returns how many were new there."""
        self._ensure_open()
        return self._fold()

    def close(self) -> None:
        """Stop the background thread and fold; the journal reopens by itself if used again."""
        with self._open_guard:
            if not self._opened:
                return
            self._stop.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=30)
            try:
                if self.path.parent.is_dir():  # a deleted logs folder (a test's temp dir) has nothing to fold into
                    self._fold()
            finally:
                with thread_lock(self.journal_path):
                    if self._fd is not None:
                        os.close(self._fd)
                    self._fd, self._opened, self._thread = None, False, None
                forget(self)

    # ---- opening and syncing ----------------------------------------------------------------------

    def _ensure_open(self) -> None:
        """First use: load JSON + journal under L then J, fold, start the fold thread, register for exit."""
        if self._opened:
            return
        with self._open_guard:
            if self._opened:
                return
            with self._log.locked(), self._journal_locked():
                self._reload()
            self._opened = True
            remember(self)
            self._fold()
            if self.fold_interval:
                self._stop.clear()
                self._thread = threading.Thread(target=self._fold_loop, name=f"fold-{self.table}", daemon=True)
                self._thread.start()

    def _journal_locked(self) -> AbstractContextManager[None]:
        return journal_locked(self.journal_path)

    @contextmanager
    def _synced(self) -> Iterator[None]:
        """Hold J with the in-memory state caught up with the journal on disk."""
        self._ensure_open()
        with self._journal_locked():
            if self._catch_up():
                yield
                return
        # Another process folded and replaced the journal: reload both files, in lock order L then J.
        with self._log.locked(), self._journal_locked():
            self._reload()
            yield

    def _catch_up(self) -> bool:
        """Read lines appended since our offset (caller holds J); False if the journal was replaced."""
        try:
            st = os.stat(self.journal_path)
        except FileNotFoundError:
            return False
        if self._fd is None or (st.st_dev, st.st_ino) != self._ino or st.st_size < self._offset:
            return False
        if st.st_size > self._offset:
            for doc in self._read_lines(st.st_size):
                self._add(doc)
        return True

    def _read_lines(self, size: int) -> list[dict]:
        """Parse the bytes from our offset to ``size``; quarantine damage, truncate a torn tail (caller holds J)."""
        scan = scan_journal(_pread_all(self._fd, size - self._offset, self._offset), self._offset, self._lines)
        self.quarantined_lines += len(settle(self.journal_path, scan))  # raises before we move past anything
        self._offset, self._lines = scan.end, scan.lines
        return scan.docs

    def _reload(self) -> None:
        """Load the folded JSON and the whole journal (caller holds L and J); the journal is created if missing."""
        data = AtomicJSONStorage(self.path).read() or {}
        folded = [doc for _, doc in sorted(data.get(self.table, {}).items(), key=lambda kv: int(kv[0]))]
        if not self.journal_path.exists():
            os.close(os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
            fsync_dir(self.journal_path.parent)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.journal_path, os.O_RDONLY)
        st = os.fstat(self._fd)
        self._ino, self._offset, self._lines, self._fold_start = (st.st_dev, st.st_ino), 0, 0, 0
        docs = folded + self._read_lines(st.st_size)
        ids = {_doc_id(doc, n) for n, doc in enumerate(docs)}
        if not ids.issuperset(self._records):  # records vanished from disk: consumers must start over
            self._records, self._list, self._indexes = {}, [], {}
            self._epoch += 1
        for n, doc in enumerate(docs):
            self._add(doc, _doc_id(doc, n))

    def _add(self, doc: dict, doc_id: str | None = None) -> None:
        doc_id = doc_id or doc["id"]
        if doc_id in self._records:
            return  # the same record in the JSON file and the journal (a fold that crashed halfway)
        self._records[doc_id] = doc
        self._list.append(doc)
        for fields, index in self._indexes.items():
            if all(field in doc for field in fields):
                index.setdefault(_key(doc, fields), doc_id)

    def _index(self, fields: tuple[str, ...]) -> dict[tuple, str]:
        index = self._indexes.get(fields)
        if index is None:
            index = {}
            for doc_id, doc in self._records.items():
                if all(field in doc for field in fields):
                    index.setdefault(_key(doc, fields), doc_id)
            self._indexes[fields] = index
        return index

    def _append(self, line: bytes, doc: dict) -> None:
        """Write one line with O_APPEND and fsync it (caller holds J, caught up); undo a partial write."""
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view, written = memoryview(line), 0
            while written < len(line):
                written += os.write(fd, view[written:])
            os.fsync(fd)
        except BaseException:
            try:
                os.ftruncate(fd, self._offset)  # never leave our own half line for others to trip on
            finally:
                os.close(fd)
            raise
        os.close(fd)
        self._offset += len(line)
        self._lines += 1
        self._add(doc)

    # ---- folding ----------------------------------------------------------------------------------

    def _fold(self) -> int:
        with self.fold_lock or nullcontext(), self._log.locked():
            with self._journal_locked():
                if not self._catch_up():
                    self._reload()  # we hold L, so reloading here keeps the lock order
                start, end = self._fold_start, self._offset
                chunk = _pread_all(self._fd, end - start, start)
            if start == end:
                return 0
            records = scan_journal(chunk, start).docs  # its bad lines were quarantined when first read
            storage = AtomicJSONStorage(self.path)
            data = storage.read() or {}
            table = data.setdefault(self.table, {})
            present = {doc.get("id") for doc in table.values()}
            next_id = max((int(doc_id) for doc_id in table), default=0) + 1
            added = 0
            for doc in records:
                if doc["id"] not in present:
                    table[str(next_id)] = doc
                    present.add(doc["id"])
                    next_id, added = next_id + 1, added + 1
            if added:
                storage.write(data)  # fsynced and renamed before the journal loses a single line
                self.folded_records += added
            with self._journal_locked():
                if not self._catch_up():
                    self._reload()  # cannot happen while we hold L; never truncate what we did not fold
                elif self.truncate_on_fold:
                    self._rotate(_pread_all(self._fd, self._offset - end, end))
                else:
                    self._fold_start = end
            return added

    def _rotate(self, tail: bytes) -> None:
        """Replace the journal by its unfolded tail (caller holds L and J): temp file, fsync, rename."""
        tmp = self.journal_path.with_name(self.journal_path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(tail)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.journal_path)
        fsync_dir(self.journal_path.parent)
        os.close(self._fd)
        self._fd = os.open(self.journal_path, os.O_RDONLY)
        st = os.fstat(self._fd)
        self._ino, self._offset, self._fold_start = (st.st_dev, st.st_ino), len(tail), 0
        self._lines = tail.count(b"\n")

    def _fold_loop(self) -> None:
        while not self._stop.wait(self.fold_interval) and self.path.parent.is_dir():
            try:
                self._fold()
            except Exception:  # a corrupt file must not kill the thread silently: say so, try again later
                logger.exception("background fold of %s failed", self.journal_path)


def _encode(doc: dict) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _key(doc: dict, fields: tuple[str, ...]) -> tuple:
    return tuple(_hashable(doc[field]) for field in fields)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else json.dumps(value, sort_keys=True)


def _doc_id(doc: dict, position: int) -> str:
    return doc["id"] if isinstance(doc.get("id"), str) else f"#no-id-{position}"


def _pread_all(fd: int | None, size: int, offset: int) -> bytes:
    if fd is None or size <= 0:
        return b""
    parts, done = [], 0
    while done < size:
        part = os.pread(fd, size - done, offset + done)
        if not part:
            break
        parts.append(part)
        done += len(part)
    return b"".join(parts)

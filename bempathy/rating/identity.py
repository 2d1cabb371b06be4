"""Who a rater is, keyed by a secret of the logs folder: public labels, the blind A/B order, pseudonym keys.

Why (each measured by an attacker on main e00940a): public labels were an unkeyed ``sha256(rater_id)[:8]``, so
with OAuth ids (``hf:<username>``) anyone could confirm that a person rated and read their agreement and flags;
the A/B order came from the public seed 0 and could be computed offline (10/10); off a Space anyone could rate
under anyone's pseudonym; and the rate limit trusted the leftmost ``X-Forwarded-For``, which the client writes.

- :class:`StudySecret`: 32 random bytes per logs folder in ``.rating_secret`` (owner-only, created once even when
  processes race), or ``$BEMPATHY_RATING_SECRET`` (a Space secret: a Space's disk is ephemeral, and labels and
  issued keys must survive a restart). Everything public is an HMAC under it, so nothing secret is ever stored
  per rater and nothing can be linked back without it. The file name starts with a dot and is no ``.json*``, so
  log sync patterns and exports never pick it up.
- :class:`RaterKeys`: the first use of a pseudonym binds it; the server issues ``rater_key`` (derived from the
  secret) once, and every later call for that pseudonym must bring it. Bindings are a journal of their own.
- :func:`client_address`: the socket's peer, or behind N trusted proxies the address the outermost one saw.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bempathy.storage.journal import RatingJournal
from bempathy.storage.log import fsync_dir, utc_now

logger = logging.getLogger(__name__)
SECRET_ENV = "BEMPATHY_RATING_SECRET"
SECRET_FILE = ".rating_secret"
SECRET_BYTES = 32
MIN_ENV_SECRET_CHARS = 16
BINDINGS = "RaterBindings"
_SEPARATOR = b"\x1f"


class SecretError(RuntimeError):
    """The secret cannot be used as it is (too short, or readable by others): one line saying how to fix it."""


class StudySecret:
    """One secret per logs folder; loaded (or created) on first use."""

    def __init__(self, logs_dir: str | Path, *, env: str = SECRET_ENV) -> None:
        self.path = Path(logs_dir) / SECRET_FILE
        self.env = env
        self._key: bytes | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._from_env() or self._from_file()
            return self._key

    def _from_env(self) -> bytes | None:
        value = os.environ.get(self.env)
        if not value:
            return None
        if len(value) < MIN_ENV_SECRET_CHARS:
            raise SecretError(f"${self.env} must be at least {MIN_ENV_SECRET_CHARS} characters (random, kept secret)")
        return hashlib.sha256(value.encode("utf-8")).digest()

    def _from_file(self) -> bytes:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            try:
                return self._read()
            except FileNotFoundError:
                self._create()
            except _Partial:  # another process is writing it right now
                time.sleep(0.01)
        raise SecretError(f"{self.path}: could not read a complete secret; remove the file to start a new one")

    def _read(self) -> bytes:
        mode = os.stat(self.path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(f"{self.path} is readable by others: run `chmod 600 {self.path}`")
        data = self.path.read_bytes()
        if len(data) != SECRET_BYTES:
            raise _Partial
        return data

    def _create(self) -> None:
        """Write a full temp file (0600), then hard-link it into place: the name appears complete or not at all,
        and of two racing processes exactly one link succeeds; the loser reads the winner's secret."""
        tmp = self.path.with_name(f"{SECRET_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(SECRET_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return
            fsync_dir(self.path.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def _mac(self, *parts: object) -> bytes:
        message = _SEPARATOR.join(str(part).encode("utf-8", "surrogatepass") for part in parts)
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def label(self, rater_id: str) -> str:
        """The public pseudonymous label: stable across restarts, unlinkable to the id without the secret."""
        return "rater-" + self._mac("label", rater_id).hex()[:10]

    def order_seed(self) -> str:
        """Seeds the blind A/B order and the assignment hashes in place of a public constant."""
        return self._mac("ab-order").hex()

    def unit(self, *parts: object) -> float:
        """A keyed deterministic number in [0, 1)."""
        return int.from_bytes(self._mac("unit", *parts)[:7], "big") / 2**56

    def rater_key(self, rater_id: str) -> str:
        """The key the server issues for a pseudonym: derived, so no key is ever stored."""
        return base64.urlsafe_b64encode(self._mac("rater-key", rater_id)[:16]).decode("ascii").rstrip("=")

    def key_matches(self, rater_id: str, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(
            given.encode("utf-8", "replace"), self.rater_key(rater_id).encode()
        )


class _Partial(Exception):
    """The secret file exists but is not complete yet."""


@dataclass(frozen=True)
class KeyCheck:
    """``ok``; ``issued_key`` only on the call that bound the pseudonym; ``reason`` bound/ok/missing_key/wrong_key."""

    ok: bool
    issued_key: str | None
    reason: str


class RaterKeys:
    """Which pseudonyms are bound to a key, shared by every app process on the logs folder (a journal)."""

    def __init__(self, logs_dir: str | Path, secret: StudySecret) -> None:
        self.secret = secret
        self.journal = RatingJournal(Path(logs_dir) / f"{BINDINGS}.json", BINDINGS)
        self._cursor = None
        self._bound: set[str] = set()
        self._lock = threading.Lock()
        self.journal.ensure_index(("rater_id",))

    def _refresh(self) -> None:
        records, self._cursor, reset = self.journal.changes(self._cursor)
        if reset:
            self._bound = set()
        self._bound.update(str(r["rater_id"]) for r in records if isinstance(r.get("rater_id"), str))

    def check(self, rater_id: str, given_key: object) -> KeyCheck:
        """Bind on first use (and issue the key), else demand the key. Exactly one of two racing first calls binds."""
        with self._lock:
            self._refresh()
            if given_key is not None and not isinstance(given_key, str):
                return KeyCheck(False, None, "wrong_key")
            if rater_id in self._bound:
                if given_key is None or given_key == "":
                    return KeyCheck(False, None, "missing_key")
                ok = self.secret.key_matches(rater_id, given_key)
                return KeyCheck(ok, None, "ok" if ok else "wrong_key")
            if given_key:  # a key for a pseudonym not bound here (the bindings were lost): valid if it matches
                if not self.secret.key_matches(rater_id, given_key):
                    return KeyCheck(False, None, "wrong_key")
                self.journal.insert_unique({"rater_id": rater_id, "bound_at": utc_now()}, ("rater_id",))
                self._refresh()
                return KeyCheck(True, None, "ok")
            won = self.journal.insert_unique({"rater_id": rater_id, "bound_at": utc_now()}, ("rater_id",))
            self._refresh()
            if won is None:  # another process bound it first
                return KeyCheck(False, None, "missing_key")
            return KeyCheck(True, self.secret.rater_key(rater_id), "bound")

    def close(self) -> None:
        self.journal.close()


def client_address(headers: Mapping[str, str] | None, peer: str | None, trusted_proxies: int) -> str | None:
    """The address a per-client limit counts: with no trusted proxy the socket's peer; behind N trusted proxies,
    each of which appends the address it saw to X-Forwarded-For, the N-th entry from the right. A client that
    sends ``X-Forwarded-For: 1.2.3.4`` itself changes nothing: with 0 proxies the header is ignored, with 1 the
    proxy appends the real address after it and that is the one taken."""
    if trusted_proxies <= 0 or not headers:
        return peer
    raw = ",".join(value for key, value in headers.items() if key.lower() == "x-forwarded-for")
    hops = [hop.strip() for hop in raw.split(",") if hop.strip()]
    chain = [peer, *reversed(hops)] if peer else list(reversed(hops))
    if not hops:
        return peer
    return chain[trusted_proxies] if trusted_proxies < len(chain) else chain[-1]

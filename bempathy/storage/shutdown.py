"""Close what must be closed when the process ends: at exit, and on SIGTERM/SIGINT if asked.

The rating journal registers itself here so its last ratings are folded into the JSON log before the
process goes. Kept apart from the journal because it knows nothing about files: it calls ``close()``.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Closeable(Protocol):
    def close(self) -> None: ...


_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()
_GUARD = threading.Lock()
_ATEXIT_REGISTERED = False


def remember(thing: Closeable) -> None:
    """Close ``thing`` at interpreter exit (and on the signals of ``install_signal_handlers``)."""
    global _ATEXIT_REGISTERED
    with _GUARD:
        _OPEN.add(thing)
        if not _ATEXIT_REGISTERED:
            atexit.register(close_all)
            _ATEXIT_REGISTERED = True


def forget(thing: Closeable) -> None:
    with _GUARD:
        _OPEN.discard(thing)


def close_all(timeout: float = 10.0) -> None:
    """Close everything remembered, each in a helper thread given ``timeout`` seconds.

    A thread, because a signal may arrive while this very thread holds a journal lock: waiting on it
    here would deadlock. An unfinished fold is harmless: the journal already holds every rating.
    """
    with _GUARD:
        things = list(_OPEN)
    for thing in things:
        worker = threading.Thread(target=_close_quietly, args=(thing,), daemon=True)
        worker.start()
        worker.join(timeout)


def _close_quietly(thing: Closeable) -> None:
    try:
        thing.close()
    except Exception:
        logger.exception("closing %r at shutdown failed (a rating journal still holds every rating)", thing)


def install_signal_handlers(
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT), timeout: float = 10.0
) -> dict[int, Any]:
    """On SIGTERM/SIGINT, close (fold) everything remembered, then behave as before: old handler, or die.

    Call from the main thread. Returns the previous handlers. A Space is stopped with SIGTERM, which
    skips atexit; this makes that stop fold the rating journal first.
    """
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def handler(signum: int, frame: Any) -> None:
        close_all(timeout)
        old = previous[signum]
        if callable(old):
            old(signum, frame)  # e.g. Python's default SIGINT handler raises KeyboardInterrupt
            return
        if old == signal.SIG_IGN:
            return
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # die of the signal itself, as if we had never caught it

    for signum in signals:
        signal.signal(signum, handler)
    return previous

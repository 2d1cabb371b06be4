"""One long-lived thread per process that runs all of a ChatModel's model work.

Why: once a second thread has run the model's matrix products, small batches in the other thread run 2-3x
slower in the CPU math library, so one pass for both Compare columns was no faster than two (figures in
bench/RESULTS.md, "One model thread"). Streaming has to generate off the consumer's thread anyway (Gradio steps
a generator on any worker thread), so every generation and every scoring pass runs here, on one thread, and the
state stays fast.

The thread is a daemon, so a process that ends does not wait for it; a caller that stops waiting (Ctrl-C in a
notebook) tells its task to stop (``ChatModel.generate`` does, between tokens). Tasks run one at a time in
submission order; a task that submits another runs it inline (no self-deadlock). A forked child starts its own
thread on first use (forking in the middle of a generation is not supported: locks held then stay held).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
THREAD_NAME = "bempathy-model"


class ModelThread:
    """A single daemon worker thread with a FIFO of tasks."""

    def __init__(self, name: str = THREAD_NAME) -> None:
        self.name = name
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._adopted: int | None = None
        self._thread.start()

    def _serve(self) -> None:
        while True:
            fn, future = self._tasks.get()
            _settle(future, fn)
            del fn, future

    def is_current(self) -> bool:
        """True on the worker thread, and on a thread that has adopted the work (:meth:`adopted`)."""
        return threading.current_thread() is self._thread or threading.get_ident() == self._adopted

    @contextmanager
    def adopted(self) -> Iterator[None]:
        """Run this thread's tasks inline on this thread while the block lasts.

        For a command-line stage that has already done its math on its own thread (train.py evaluating right
        after training): handing the model to a second thread would be the slow state this module avoids.
        Streaming from inside the block runs the whole generation before the first snapshot.
        """
        if self._adopted not in (None, threading.get_ident()):
            raise RuntimeError("another thread has adopted the model work")
        previous, self._adopted = self._adopted, threading.get_ident()
        try:
            yield
        finally:
            self._adopted = previous

    def submit(self, fn: Callable[[], T]) -> Future:
        """Queue ``fn``; its result or exception arrives on the returned future."""
        future: Future = Future()
        if self.is_current():  # a task queueing a task would wait on itself
            _settle(future, fn)
        else:
            self._tasks.put((fn, future))
        return future

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on this thread, waiting for it; exceptions are raised here."""
        return self.submit(fn).result()


def _settle(future: Future, fn: Callable[[], Any]) -> None:
    """Run ``fn`` into ``future`` unless it was cancelled while queued; its exception goes to the waiter."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except BaseException as error:
        future.set_exception(error)


_shared: ModelThread | None = None
_shared_lock = threading.Lock()


def _forget_in_child() -> None:
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def model_thread() -> ModelThread:
    """The process's model thread, started on first use (and again in a forked child)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ModelThread()
        return _shared

"""One long-lived thread per process that runs all of a ChatModel's model work.

Why (measured on 2 CPU cores, bench/eval_speed.py's model): once a second thread has run the model's matrix
products, small batches in the other thread run 2-3x slower in the CPU math library; one mixed base+tuned Compare
call went from 0.10-0.13 s to 0.36-0.48 s while two one-row calls barely moved, so one pass for both columns was
no faster than two. Streaming has to generate off the consumer's thread anyway (Gradio steps a generator on any
worker thread), so every generation and every scoring pass runs here, on one thread, and the state stays fast.

The thread is a daemon: Ctrl-C ends the process without waiting for the batch in flight. Tasks run one at a
time in submission order; a task that submits another runs it inline (no self-deadlock). After a fork the child
starts its own thread.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
THREAD_NAME = "bempathy-model"


class ModelThread:
    """A single daemon worker thread with a FIFO of tasks."""

    def __init__(self, name: str = THREAD_NAME) -> None:
        self.name = name
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            fn, future = self._tasks.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)
            del fn, future

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, fn: Callable[[], T]) -> Future:
        """Queue ``fn``; its result or exception arrives on the returned future."""
        future: Future = Future()
        if self.is_current():  # a task queueing a task would wait on itself
            future.set_running_or_notify_cancel()
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)
            return future
        self._tasks.put((fn, future))
        return future

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on this thread, waiting for it; exceptions are raised here."""
        return self.submit(fn).result()


_shared: ModelThread | None = None
_shared_pid: int | None = None
_shared_lock = threading.Lock()


def model_thread() -> ModelThread:
    """The process's model thread, started on first use (and again in a forked child)."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid():
            _shared, _shared_pid = ModelThread(), os.getpid()
        return _shared

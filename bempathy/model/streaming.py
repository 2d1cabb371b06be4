"""A streamer for a whole generate batch, so both columns of a comparison grow from one forward pass per token.

transformers' ``TextIteratorStreamer`` handles batch size 1 only. ``BatchStreamer`` receives every row's new token
at each step (``BaseStreamer.put`` gets the batch), decodes each row on its own, stops a row at its end token,
and hands the consumer thread snapshots with per-row timings: time to first token, latency and tokens/s.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

from transformers.generation.streamers import BaseStreamer

_DONE = object()


@dataclass
class RowStats:
    """Timing of one generated row, measured from the moment the generate call started."""

    new_tokens: int = 0
    first_token_s: float | None = None
    latency_s: float | None = None

    @property
    def tokens_per_s(self) -> float | None:
        if not self.latency_s or not self.new_tokens:
            return None
        return self.new_tokens / self.latency_s


@dataclass
class Snapshot:
    """Every row's text so far, whether it has finished, and its timings."""

    texts: list[str]
    done: list[bool]
    stats: list[RowStats] = field(default_factory=list)
    # A row's own failure (a server backend's request), shown in its place; a local batch fails as a whole.
    errors: list[str | None] = field(default_factory=list)


class BatchStreamer(BaseStreamer):
    """Collects the new tokens of every row of one ``generate`` call; the consumer reads ``snapshots()``.

    ``generate`` first puts the prompt (skipped), then one token per row per step; a finished row is padded by
    ``generate`` and ignored here. Snapshots are coalesced: a slow consumer sees the latest state, not a backlog.
    """

    def __init__(self, tokenizer: Any, n_rows: int, stop_ids: set[int]) -> None:
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.tokens: list[list[int]] = [[] for _ in range(n_rows)]
        self.stats = [RowStats() for _ in range(n_rows)]
        self.done = [False] * n_rows
        self.started = time.perf_counter()
        self._prompt_seen = False
        self._queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        now = time.perf_counter() - self.started
        for row, token in enumerate(value.reshape(len(self.tokens), -1)[:, -1].tolist()):
            if self.done[row]:
                continue
            if token in self.stop_ids:
                self._finish(row, now)
                continue
            self.tokens[row].append(token)
            stats = self.stats[row]
            stats.new_tokens += 1
            if stats.first_token_s is None:
                stats.first_token_s = now
        self._queue.put(self.snapshot(partial=True))

    def end(self) -> None:
        now = time.perf_counter() - self.started
        for row in range(len(self.tokens)):
            if not self.done[row]:
                self._finish(row, now)
        self._queue.put(self.snapshot(partial=False))
        self._queue.put(_DONE)

    def fail(self, error: BaseException) -> None:
        """Called by the generating thread when ``generate`` raised: the consumer re-raises it."""
        self.error = error
        self._queue.put(_DONE)

    def _finish(self, row: int, now: float) -> None:
        self.done[row] = True
        self.stats[row].latency_s = now

    def snapshot(self, partial: bool) -> Snapshot:
        texts = []
        for ids in self.tokens:
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            # A byte-level BPE piece can end inside a Bengali character: hold it back until it is complete.
            # Stripped like ChatModel.generate's answers, so the last snapshot equals the batch answer.
            texts.append(text.rstrip("\ufffd").lstrip() if partial else text.strip())
        return Snapshot(texts=texts, done=list(self.done), stats=[RowStats(**vars(s)) for s in self.stats])

    def snapshots(self):
        """Yield snapshots until generation ends; re-raise the generating thread's error, if any."""
        while True:
            item = self._queue.get()
            latest = item
            while latest is not _DONE:  # coalesce: skip to the newest snapshot already waiting
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _DONE:
                    self._queue.put(_DONE)
                    break
                latest = nxt
            if latest is _DONE:
                if self.error is not None:
                    raise self.error
                return
            yield latest

"""Rate limits on ratings, per rater and per client address, counted from the stored ratings themselves.

Counting stored ratings (read from the shared journal) rather than requests means the limits hold across app
processes and restarts, and a refused request costs nothing to remember.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bempathy.rating.items import HumanEvalError


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_events`` stored ratings per ``per_seconds`` (sliding window)."""

    max_events: int
    per_seconds: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"30/60"`` -> 30 ratings per 60 seconds (the app's ``--rate-limit`` flag)."""
        try:
            events, seconds = text.split("/")
            limit = cls(int(events), float(seconds))
        except ValueError:
            raise HumanEvalError(f"rate limit must look like N/SECONDS (e.g. 30/60), got {text!r}") from None
        if limit.max_events < 1 or not limit.per_seconds > 0:
            raise HumanEvalError(f"rate limit needs N >= 1 and SECONDS > 0, got {text!r}")
        return limit


class RateLimiter:
    """Sliding windows of stored-rating times per rater (``rater_id``) and per client (the record's ``session``)."""

    def __init__(self, per_rater: RateLimit | None, per_session: RateLimit | None) -> None:
        self.limits = {"rater": per_rater, "session": per_session}
        self.reset()

    def reset(self) -> None:
        self._events: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def note(self, record: dict) -> None:
        """Count one stored rating (the caller feeds every new record, in order)."""
        if not any(self.limits.values()):
            return
        horizon = time.time() - max(limit.per_seconds for limit in self.limits.values() if limit)
        stamp = _epoch(record.get("timestamp"))
        if stamp is not None and stamp >= horizon:
            self._events["rater", record.get("rater_id")].append(stamp)
            if record.get("session"):
                self._events["session", record["session"]].append(stamp)

    def limited(self, rater: str, session: str | None) -> bool:
        """Whether one more rating from this rater or this client would pass its limit."""
        return self._over("rater", rater) or self._over("session", session)

    def _over(self, kind: str, key: str | None) -> bool:
        limit = self.limits[kind]
        if limit is None or key is None:
            return False
        events = self._events[kind, key]
        while events and events[0] < time.time() - limit.per_seconds:
            events.popleft()
        return len(events) >= limit.max_events


def _epoch(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return None

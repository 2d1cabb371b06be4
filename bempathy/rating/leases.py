"""Slots and leases: which rater may rate which item, so an item never gets more than ``ratings_per_item``.

Why: without them ``/rate`` stored a rating for any known item id, served to that rater or not, and ignored
the cap (items held 18-42 ratings against a cap of 3; ~45 fake submissions under fresh pseudonyms left real
raters with nothing to rate).

An item has ``cap`` slots, named ``"0"`` .. ``"cap-1"``. ``/next_item`` leases one free slot to the rater for
:data:`LEASE_SECONDS`; ``/rate`` accepts a rating only from the rater holding the newest lease of a slot that
has no rating yet: a lease still running, or one that ran out but that nobody has taken since. The rating is
then stored unique on (item, rater) *and* (item, slot), so even two app processes racing can never store more
than ``cap`` ratings of one item. Gold items have no cap across raters: each rater has a slot of their own.

Leases live in a journal of their own (``RatingLeases``), so every app process on one logs folder sees them. A
lease is appended unique on (item, slot, generation): when two processes grant the same slot at once, one
append wins and the other process refreshes and picks again (optimistic concurrency, as with a version number).
Times are wall-clock epoch seconds, because several processes compare them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from bempathy.storage.journal import RatingJournal

LEASE_SECONDS = 20 * 60  # an item handed to a rater is theirs for this long (a page reload shows it again)
LEASE_UNIQUE_ON = ("item_id", "slot", "gen")
GOLD_SLOT = "gold:"  # + the rater's keyed label: one slot per rater on a gold item


@dataclass(frozen=True)
class Lease:
    """One grant: ``rater_id`` may rate ``item_id`` in ``slot`` until ``expires_at`` (and after, while free)."""

    item_id: str
    slot: str
    gen: int
    rater_id: str
    expires_at: float

    def running(self, now: float) -> bool:
        return self.expires_at > now


class LeaseBook:
    """The leases every process has granted, folded from the ``RatingLeases`` journal on each :meth:`refresh`."""

    def __init__(self, journal: RatingJournal, seconds: float = LEASE_SECONDS) -> None:
        self.journal, self.seconds = journal, seconds
        self._cursor = None
        self._newest: dict[tuple[str, str], Lease] = {}  # (item, slot) -> its newest lease
        self._of_rater: dict[tuple[str, str], Lease] = {}  # (rater, item) -> the newest lease they were given
        self.journal.ensure_index(LEASE_UNIQUE_ON)

    def refresh(self) -> None:
        """Fold leases granted since the last call (by any process): O(new leases)."""
        records, self._cursor, reset = self.journal.changes(self._cursor)
        if reset:
            self._newest, self._of_rater = {}, {}
        for record in records:
            lease = _lease(record)
            if lease is None:
                continue
            key = (lease.item_id, lease.slot)
            if key not in self._newest or lease.gen > self._newest[key].gen:
                self._newest[key] = lease
            mine = self._of_rater.get((lease.rater_id, lease.item_id))
            if mine is None or lease.expires_at >= mine.expires_at:  # the later grant (several slots over time)
                self._of_rater[lease.rater_id, lease.item_id] = lease

    def newest(self, item_id: str, slot: str) -> Lease | None:
        return self._newest.get((item_id, slot))

    def held(self, rater_id: str, item_id: str) -> Lease | None:
        """The rater's lease on this item if it is still the newest of its slot (nobody took the slot since)."""
        lease = self._of_rater.get((rater_id, item_id))
        if lease is None or self._newest.get((item_id, lease.slot)) != lease:
            return None
        return lease

    def given(self, rater_id: str, item_id: str) -> bool:
        """Whether this rater was ever leased this item (to tell "taken since" from "never given")."""
        return (rater_id, item_id) in self._of_rater

    def taken(self, item_id: str, slot: str, rater_id: str, now: float) -> bool:
        """Whether someone else holds a running lease on this slot."""
        lease = self._newest.get((item_id, slot))
        return lease is not None and lease.rater_id != rater_id and lease.running(now)

    def grant(self, rater_id: str, item_id: str, slot: str) -> Lease | None:
        """Append the next generation of this slot's lease; None when another process granted it first."""
        current = self._newest.get((item_id, slot))
        # Milliseconds, rounded down: a lease stored rounded up would outlive its time by up to half a millisecond.
        expires_at = math.floor((time.time() + self.seconds) * 1000) / 1000
        lease = Lease(item_id, slot, current.gen + 1 if current else 0, rater_id, expires_at)
        record = {"item_id": item_id, "slot": slot, "gen": lease.gen, "rater_id": rater_id, "expires_at": expires_at}
        granted = self.journal.insert_unique(record, LEASE_UNIQUE_ON) is not None
        self.refresh()
        return self.held(rater_id, item_id) if granted else None


def _lease(record: dict) -> Lease | None:
    try:
        return Lease(
            str(record["item_id"]),
            str(record["slot"]),
            int(record["gen"]),
            str(record["rater_id"]),
            float(record["expires_at"]),
        )
    except (KeyError, TypeError, ValueError):  # a hand-edited line: ignore it rather than stop rating
        return None

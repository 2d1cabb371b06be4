"""Blind human rating of answer pairs: who rates what next, what a valid rating is, how it is stored.

The service is what the app's Rate tab calls (no UI, no model, no torch here). Why it looks like this:

- Raters never see model names: an item is shown as answers A and B, in an order drawn from a seeded hash
  of (item, rater), so every app process (and ``rate``) recomputes the same mapping without shared state.
- A rater gets the unrated item with the fewest ratings (ties: first those no other rater in this process
  is looking at, then a per-rater hash, so concurrent raters spread out), never an item that already has
  ``ratings_per_item`` ratings; a page reload within 20 minutes shows the same item again. Several raters
  can still hold the same last slot at once: all their submits are kept (the rater did the work), so an
  item may end slightly above the cap.
- Gold items (a clearly good and a clearly bad answer) are mixed in at ``gold_rate``, decided per rater
  and per position in their sequence by a hash, so two processes agree; each rater sees each gold item at
  most once, with no cap across raters, and gold items never count in ``remaining``. ``gold`` records
  ``passed`` when the good answer was preferred, or, on tie/both_bad, when the good answer scored higher
  on every criterion; anything else is ``failed``.
- Items come from one evaluation run (``GeneratedResponses`` with its ``evaluation_id``; the two
  ``variants``) or from a pairs file (``{"id"?, "prompt", "answers": {X: ..., Y: ...}}``, whose two answer
  keys are the variants). Item ids hash evaluation id, example id and the variants: stable everywhere.
- ``rate`` stores one record per rater per item through the rating journal (``Store.ratings``) and says
  ``ok`` only once the record is fsynced. Rate limits count stored ratings, read from the shared log, so
  they hold across app processes.

Record (``HumanEvaluations``): id, item_id, experiment_id, evaluation_id, rater_id, shown [A variant, B
variant], scores {variant: {empathy, tone, helpfulness}}, preference (A/B/tie/both_bad), preferred_variant,
comment (plain NFC text, stored verbatim: escape it when rendering), seconds_spent, gold (None/passed/failed),
timestamp, plus example_id, response_ids and session (a hash of the session id) when known.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bempathy.rating.inputs import (
    MESSAGES,
    bn_digits,
    clean_comment,
    msg,
    normalize_rater_id,
    parse_preference,
    parse_score,
    spent,
)
from bempathy.rating.items import (
    CRITERIA,
    CRITERIA_NAMES,
    HumanEvalError,
    Item,
    gold_outcome,
    load_gold,
    load_pairs,
    preference_rows,
    resolve_evaluation,
    run_items,
    shown_order,
    stable_hash,
    unit_hash,
)
from bempathy.storage.log import write_atomic
from bempathy.storage.store import Store

UNIQUE_ON = ("item_id", "rater_id")  # one rating per rater per item
LEASE_SECONDS = 20 * 60  # an item handed to a rater counts as "being rated" for this long


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


def _refused(message: str) -> dict:
    return {"ok": False, "message": message, "rating_id": None}


class RatingService:
    """Items, assignment, validation and storage for one evaluation run (or one imported pairs file)."""

    def __init__(
        self,
        store: Store,
        *,
        experiment_id: str | None = None,
        evaluation_id: str | None = None,
        variants: tuple[str, str] = ("base", "tuned"),
        pairs_path: str | Path | None = None,
        gold_path: str | Path | None = None,
        gold_rate: float = 0.0,
        ratings_per_item: int = 3,
        max_comment_chars: int = 1000,
        rate_limit_per_rater: RateLimit | None = None,
        rate_limit_per_session: RateLimit | None = None,
        seed: int = 0,
    ) -> None:
        if len(variants) != 2 or variants[0] == variants[1]:
            raise HumanEvalError(f"variants must be two different names, got {variants!r}")
        if not 0.0 <= gold_rate <= 1.0 or ratings_per_item < 1 or max_comment_chars < 0:
            raise HumanEvalError("gold_rate must be in [0, 1], ratings_per_item >= 1, max_comment_chars >= 0")
        self.store = store
        self.variants = tuple(variants)
        self.gold_path, self.gold_rate = gold_path, gold_rate
        self.ratings_per_item, self.max_comment_chars, self.seed = ratings_per_item, max_comment_chars, seed
        self.limits = {"rater": rate_limit_per_rater, "session": rate_limit_per_session}
        self._lock = threading.RLock()
        self.experiment_id: str | None = None
        self.evaluation_id: str | None = None
        self.status = ""  # why there is nothing to rate, when there is nothing
        if pairs_path is not None:
            evaluation_id = evaluation_id or f"pairs-{Path(pairs_path).stem}"
            with self._lock:
                self._set_items(experiment_id, evaluation_id, load_pairs(pairs_path, evaluation_id))
        else:
            self.set_experiment(experiment_id, evaluation_id)

    @classmethod
    def from_args(cls, args: Any, store: Store) -> RatingService:
        """Build from app.py's flags: --experiment, --ratings-per-item, --pairs, --gold, --gold-rate, --rate-limit.

        One ``--rate-limit`` applies per rater and per session.
        """
        limit = RateLimit.parse(args.rate_limit) if getattr(args, "rate_limit", None) else None
        return cls(
            store,
            experiment_id=getattr(args, "experiment", None),
            pairs_path=getattr(args, "pairs", None),
            gold_path=getattr(args, "gold", None),
            gold_rate=getattr(args, "gold_rate", 0.0) or 0.0,
            ratings_per_item=getattr(args, "ratings_per_item", 3),
            rate_limit_per_rater=limit,
            rate_limit_per_session=limit,
        )

    @property
    def criteria(self) -> dict[str, dict[str, Any]]:
        return CRITERIA

    # ---- choosing what to rate ---------------------------------------------------------------------

    def set_experiment(self, experiment_id: str | None, evaluation_id: str | None = None) -> None:
        """Switch to another run's answers (an admin action: the app must check the admin token)."""
        resolved = resolve_evaluation(self.store, experiment_id, evaluation_id)
        with self._lock:
            if resolved is None:
                self._set_items(None, None, [])
                self.status = MESSAGES["no_run"]
                return
            items = run_items(self.store, *resolved, self.variants)
            self._set_items(*resolved, items)

    def _set_items(self, experiment_id: str | None, evaluation_id: str | None, items: list[Item]) -> None:
        gold = load_gold(self.gold_path, evaluation_id) if self.gold_path and items else []
        self.experiment_id, self.evaluation_id, self.status = experiment_id, evaluation_id, ""
        self.items: dict[str, Item] = {item.item_id: item for item in items}
        self.gold: dict[str, Item] = {item.item_id: item for item in gold}
        self._cursor = None
        self._counts: dict[str, int] = defaultdict(int)
        self._rated: dict[str, set[str]] = defaultdict(set)
        self._events: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._leases: dict[str, tuple[str, float]] = {}  # rater -> (item_id, monotonic expiry)
        self.store.ratings.ensure_index(UNIQUE_ON)
        self._refresh()

    def _refresh(self) -> None:
        """Fold ratings stored since the last call (by any process) into counts, rated sets and limits."""
        records, self._cursor, reset = self.store.ratings.changes(self._cursor)
        if reset:
            self._counts, self._rated, self._events = defaultdict(int), defaultdict(set), defaultdict(deque)
        horizon = time.time() - max((lim.per_seconds for lim in self.limits.values() if lim), default=0)
        for record in records:
            item_id, rater = record.get("item_id"), record.get("rater_id")
            if item_id in self.items or item_id in self.gold:
                self._counts[item_id] += 1
                self._rated[rater].add(item_id)
            if any(self.limits.values()):
                stamp = _epoch(record.get("timestamp"))
                if stamp is not None and stamp >= horizon:
                    self._events["rater", rater].append(stamp)
                    if record.get("session"):
                        self._events["session", record["session"]].append(stamp)

    def next_item(self, rater_id: str) -> dict:
        """The next item for this rater, as A/B text only, with progress and a message; item_id None at the end."""
        empty = {"item_id": None, "prompt": "", "answer_a": "", "answer_b": "", "rated": 0, "remaining": 0}
        try:
            rater = normalize_rater_id(rater_id)
        except ValueError as exc:
            return {**empty, "message": str(exc)}
        with self._lock:
            self._refresh()
            rated = self._rated.get(rater, set())
            open_items = [i for i in self.items if i not in rated and self._counts[i] < self.ratings_per_item]
            progress = {"rated": len(rated), "remaining": len(open_items)}
            if not open_items:
                return {**empty, **progress, "message": self.status or MESSAGES["done"]}
            item = self._choose(rater, rated, open_items)
            self._leases[rater] = (item.item_id, time.monotonic() + LEASE_SECONDS)
        answer_a, answer_b = (item.answers[v] for v in shown_order(self.seed, item, rater))
        message = msg(
            f"আপনি {bn_digits(len(rated))}টি রেট করেছেন; আরও {bn_digits(len(open_items))}টি বাকি।",
            f"You have rated {len(rated)}; {len(open_items)} left.",
        )
        shown = {"item_id": item.item_id, "prompt": item.prompt, "answer_a": answer_a, "answer_b": answer_b}
        return {**shown, **progress, "message": message}

    def _choose(self, rater: str, rated: set[str], open_items: list[str]) -> Item:
        now = time.monotonic()
        held = self._leases.get(rater)
        if held and held[1] > now and held[0] not in rated and (held[0] in self.gold or held[0] in set(open_items)):
            return self.items.get(held[0]) or self.gold[held[0]]  # same item again after a page reload
        unrated_gold = [g for g in self.gold if g not in rated]
        if unrated_gold and unit_hash(self.seed, "gold", rater, len(rated)) < self.gold_rate:
            return self.gold[min(unrated_gold, key=lambda g: (self._counts[g], unit_hash(self.seed, rater, g)))]
        leased = {item for other, (item, until) in self._leases.items() if other != rater and until > now}
        best = min(
            open_items,
            key=lambda i: (self._counts[i], i in leased, unit_hash(self.seed, "order", rater, i)),
        )
        return self.items[best]

    def rated_count(self, rater_id: str) -> int:
        """How many items of the current evaluation (gold included) this rater has rated."""
        try:
            rater = normalize_rater_id(rater_id)
        except ValueError:
            return 0
        with self._lock:
            self._refresh()
            return len(self._rated.get(rater, ()))

    # ---- storing a rating --------------------------------------------------------------------------

    def rate(
        self,
        rater_id: str,
        item_id: str,
        scores_a: Sequence[Any],
        scores_b: Sequence[Any],
        preference: str,
        comment: str | None = "",
        *,
        seconds_spent: float | None = None,
        session_id: str | None = None,
    ) -> dict:
        """Validate and store one rating; ``ok`` is True only when it is on disk (fsynced).

        ``scores_a`` and ``scores_b`` hold one 1-5 score per criterion, in the order of ``CRITERIA``."""
        try:
            record = self._record(rater_id, item_id, scores_a, scores_b, preference, comment, seconds_spent, session_id)
        except ValueError as exc:
            return {"ok": False, "message": str(exc), "rating_id": None}
        rater, item_id = record["rater_id"], record["item_id"]
        with self._lock:
            self._refresh()
            if item_id in self._rated.get(rater, ()):
                return _refused(MESSAGES["duplicate"])
            if self._limited("rater", rater) or self._limited("session", record.get("session")):
                return _refused(MESSAGES["too_fast"])
            rating_id = self.store.ratings.insert_unique(record, UNIQUE_ON)  # durable once it returns
            self._refresh()
            if rating_id is None:  # another tab or app process stored it first
                return _refused(MESSAGES["duplicate"])
            if self._leases.get(rater, ("",))[0] == item_id:
                del self._leases[rater]
        return {"ok": True, "message": MESSAGES["saved"], "rating_id": rating_id}

    def _record(self, rater_id, item_id, scores_a, scores_b, preference, comment, seconds_spent, session_id) -> dict:
        rater = normalize_rater_id(rater_id)
        with self._lock:
            item = (self.items.get(item_id) or self.gold.get(item_id)) if isinstance(item_id, str) else None
            experiment_id, evaluation_id = self.experiment_id, self.evaluation_id
        if item is None:
            raise ValueError(MESSAGES["unknown_item"])
        shown = shown_order(self.seed, item, rater)
        if any(len(values) != len(CRITERIA_NAMES) for values in (scores_a, scores_b)):
            raise ValueError(f"Give {len(CRITERIA_NAMES)} scores per answer ({', '.join(CRITERIA_NAMES)}).")
        scores = {
            variant: {c: parse_score(v, c, side) for c, v in zip(CRITERIA_NAMES, values, strict=True)}
            for variant, side, values in ((shown[0], "A", scores_a), (shown[1], "B", scores_b))
        }
        choice = parse_preference(preference)
        text = clean_comment(comment, self.max_comment_chars)
        preferred = {"A": shown[0], "B": shown[1]}.get(choice)
        record = {
            "item_id": item.item_id,
            "experiment_id": experiment_id,
            "evaluation_id": evaluation_id,
            "rater_id": rater,
            "shown": list(shown),
            "scores": scores,
            "preference": choice,
            "preferred_variant": preferred,
            "comment": text,
            "seconds_spent": spent(seconds_spent),
            "gold": gold_outcome(scores, preferred) if item.kind == "gold" else None,
            "example_id": item.example_id,
        }
        if item.response_ids:
            record["response_ids"] = item.response_ids
        if session_id:
            record["session"] = stable_hash("session", session_id)[:16]  # links a session's ratings, not a person
        return record

    def _limited(self, kind: str, key: str | None) -> bool:
        limit = self.limits[kind]
        if limit is None or key is None:
            return False
        events = self._events[kind, key]
        while events and events[0] < time.time() - limit.per_seconds:
            events.popleft()
        return len(events) >= limit.max_events

    # ---- export and shutdown -----------------------------------------------------------------------

    def export_preferences(self, path: str | Path) -> int:
        """Write TRL's conversational preference JSONL (one row per item, majority of A/B votes); atomic.

        Rows: {"prompt": [system, user], "chosen": [assistant], "rejected": [assistant]}, the system prompt
        being the one the answers were generated under. Ties, both_bad, gold items and items whose A/B
        votes split evenly are left out. Returns the number of rows.
        """
        with self._lock:
            self._refresh()
            rows = preference_rows(self.items, self.store.ratings.changes(None)[0])
        write_atomic(Path(path), "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        return len(rows)

    def close(self) -> None:
        """Fold the rating journal into ``HumanEvaluations.json`` and stop its background thread."""
        self.store.ratings.close()


def _epoch(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return None

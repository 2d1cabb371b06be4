"""Blind human rating of answer pairs: who rates what next, what a valid rating is, how it is stored.

The service is what the app's Rate tab calls (no UI, no model, no torch here). Why it looks like this:

- Raters never see model names: an item is shown as answers A and B, in an order drawn from a *keyed* hash
  of (item, rater) whose key is the logs folder's secret (:mod:`bempathy.rating.identity`): every app process
  recomputes the same mapping, nobody without the secret can (a public seed let anyone compute it offline).
- A rater gets the unrated item with the fewest ratings and leases one of its ``ratings_per_item`` slots
  (:mod:`bempathy.rating.leases`); ties go first to items nobody else is looking at, then to a per-rater hash,
  so concurrent raters spread out. A page reload while the lease runs shows the same item again. ``rate``
  takes a rating only for a slot leased to that rater, so an item never ends above the cap, and a rating
  for an item never served to the rater is refused.
- Off a Space (no OAuth) a pseudonym is bound to a key the server issues on its first use
  (``bind_pseudonyms``); calls for a bound pseudonym without its key are refused and store nothing.
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
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bempathy.rating.identity import RaterKeys, StudySecret
from bempathy.rating.inputs import (
    MESSAGES,
    bn_digits,
    clean_comment,
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
    load_gold,
    load_pairs,
    rating_record,
    resolve_evaluation,
    run_items,
    shown_order,
    stable_hash,
    unit_hash,
)
from bempathy.rating.leases import GOLD_SLOT, Lease, LeaseBook
from bempathy.rating.limits import RateLimit, RateLimiter
from bempathy.rating.preferences import PreferenceData, PreferenceFilters, preference_data
from bempathy.storage.log import write_atomic
from bempathy.storage.store import Store
from bempathy.text import bilingual

UNIQUE_ON = ("item_id", "rater_id")  # one rating per rater per item
SLOT_UNIQUE_ON = ("item_id", "slot")  # one rating per slot: never more than ratings_per_item
LEASE_RETRIES = 5  # another process granted the slot we picked: refresh and pick again


def parse_variants(value: str | None, flag: str = "--rate-variants") -> tuple[str, str]:
    """``"sft,tuned"`` -> ("sft", "tuned"): the two variants of an evaluation that raters compare (default
    base and tuned; a preference run's evaluation also has ``sft``)."""
    if not value:
        return ("base", "tuned")
    names = tuple(part.strip() for part in value.split(","))
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise HumanEvalError(f"{flag} takes two different variant names, e.g. sft,tuned; got {value!r}")
    return names  # type: ignore[return-value]


def variant_pairs(value: str | None, flag: str = "--variants") -> list[tuple[str, str]]:
    """``"a,b"`` -> [(a, b)]; three or more names (``"sample1,...,sample8"``) -> every pair of them, in order:
    a candidates round rated in all its pairs, which a best-vs-worst export ranks per prompt."""
    names = [part.strip() for part in value.split(",")] if value else []
    if len(names) <= 2:
        return [parse_variants(value, flag)]
    if not all(names) or len(set(names)) != len(names):
        raise HumanEvalError(f"{flag} takes different variant names, e.g. sample1,sample2,sample3; got {value!r}")
    return [(a, b) for k, a in enumerate(names) for b in names[k + 1 :]]


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
        secret: StudySecret | None = None,
        bind_pseudonyms: bool = False,
    ) -> None:
        if len(variants) != 2 or variants[0] == variants[1]:
            raise HumanEvalError(f"variants must be two different names, got {variants!r}")
        if not 0.0 <= gold_rate <= 1.0 or ratings_per_item < 1 or max_comment_chars < 0:
            raise HumanEvalError("gold_rate must be in [0, 1], ratings_per_item >= 1, max_comment_chars >= 0")
        self.store = store
        self.variants = tuple(variants)
        self.gold_path, self.gold_rate = gold_path, gold_rate
        self.ratings_per_item, self.max_comment_chars = ratings_per_item, max_comment_chars
        self.secret = secret or StudySecret(store.logs_dir)
        self.seed = self.secret.order_seed()  # keyed: the A/B order and assignment cannot be computed offline
        self.keys = RaterKeys(store.logs_dir, self.secret) if bind_pseudonyms else None
        self.leases = LeaseBook(store.leases)
        self.limiter = RateLimiter(rate_limit_per_rater, rate_limit_per_session)
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
    def from_args(cls, args: Any, store: Store, *, bind_pseudonyms: bool = True) -> RatingService:
        """Build from app.py's flags: --experiment, --rate-variants, --ratings-per-item, --pairs, --gold,
        --gold-rate, --rate-limit.

        One ``--rate-limit`` applies per rater and per client address. ``bind_pseudonyms`` is False with OAuth,
        where the signed-in name is the identity.
        """
        limit = RateLimit.parse(args.rate_limit) if getattr(args, "rate_limit", None) else None
        return cls(
            store,
            experiment_id=getattr(args, "experiment", None),
            variants=parse_variants(getattr(args, "rate_variants", None)),
            pairs_path=getattr(args, "pairs", None),
            gold_path=getattr(args, "gold", None),
            gold_rate=getattr(args, "gold_rate", 0.0) or 0.0,
            ratings_per_item=getattr(args, "ratings_per_item", 3),
            rate_limit_per_rater=limit,
            rate_limit_per_session=limit,
            bind_pseudonyms=bind_pseudonyms,
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
        self._rated_slots: dict[str, set[str]] = defaultdict(set)
        self.limiter.reset()
        self.store.ratings.ensure_index(UNIQUE_ON)
        self._refresh()

    def _refresh(self) -> None:
        """Fold ratings and leases stored since the last call (by any process) into counts, slots and limits."""
        self.leases.refresh()
        records, self._cursor, reset = self.store.ratings.changes(self._cursor)
        if reset:
            self._counts, self._rated, self._rated_slots = defaultdict(int), defaultdict(set), defaultdict(set)
            self.limiter.reset()
        for record in records:
            item_id, rater = record.get("item_id"), record.get("rater_id")
            if item_id in self.items or item_id in self.gold:
                self._counts[item_id] += 1
                self._rated[rater].add(item_id)
                if record.get("slot") is not None:
                    self._rated_slots[item_id].add(str(record["slot"]))
            self.limiter.note(record)

    def _item(self, item_id: Any) -> Item | None:
        return (self.items.get(item_id) or self.gold.get(item_id)) if isinstance(item_id, str) else None

    def _busy(self, item_id: str, rater: str, now: float) -> list[str]:
        """Unrated slots of this item that someone else holds a running lease on."""
        rated = self._rated_slots[item_id]
        slots = (str(number) for number in range(self.ratings_per_item))
        return [slot for slot in slots if slot not in rated and self.leases.taken(item_id, slot, rater, now)]

    def _free_slot(self, item_id: str, rater: str, now: float) -> str | None:
        """A slot of this item the rater may lease now: not rated, not held by someone else's running lease."""
        if item_id in self.gold:
            slot = GOLD_SLOT + self.secret.label(rater)
            return None if slot in self._rated_slots[item_id] else slot
        busy = self._busy(item_id, rater, now)
        if self._counts[item_id] + len(busy) >= self.ratings_per_item:  # counts include ratings stored before slots
            return None
        rated = self._rated_slots[item_id]
        return next(
            (str(n) for n in range(self.ratings_per_item) if str(n) not in rated and str(n) not in busy),
            None,
        )

    def _usable(self, lease: Lease | None, rater: str) -> bool:
        """A lease the rater may still rate on: theirs, newest of its slot, the slot unrated, the item current."""
        return (
            lease is not None
            and self._item(lease.item_id) is not None
            and lease.item_id not in self._rated.get(rater, ())
            and lease.slot not in self._rated_slots[lease.item_id]
        )

    def check_key(self, rater: str, rater_key: Any) -> tuple[str | None, str | None]:
        """(refusal message or None, key issued by this call or None); always passes when keys are off."""
        if self.keys is None:
            return None, None
        verdict = self.keys.check(rater, rater_key)
        if verdict.ok:
            return None, verdict.issued_key
        return MESSAGES["wrong_key" if verdict.reason == "wrong_key" else "bound"], None

    def next_item(self, rater_id: str, rater_key: str | None = None) -> dict:
        """The next item for this rater, as A/B text only, with progress and a message; item_id None at the end.

        Leases one of the item's slots to the rater. With ``bind_pseudonyms``, the first call for a pseudonym
        returns its ``rater_key``, which every later call for it must bring.
        """
        empty = {"item_id": None, "prompt": "", "answer_a": "", "answer_b": "", "rated": 0, "remaining": 0}
        try:
            rater = normalize_rater_id(rater_id)
        except ValueError as exc:
            return {**empty, "message": str(exc)}
        refusal, issued = self.check_key(rater, rater_key)
        if refusal:
            return {**empty, "message": refusal}
        issued_field = {"rater_key": issued} if issued else {}
        with self._lock:
            for _ in range(LEASE_RETRIES):
                self._refresh()
                now = time.time()
                rated = self._rated.get(rater, set())
                free = {i: self._free_slot(i, rater, now) for i in self.items if i not in rated}
                open_items = [i for i, slot in free.items() if slot is not None]
                progress = {"rated": len(rated), "remaining": len(open_items)}
                lease = self._current_lease(rater, rated)
                if lease is None:
                    if not open_items:
                        return {**empty, **progress, **issued_field, "message": self.status or MESSAGES["done"]}
                    item = self._choose(rater, rated, open_items, now)
                    slot = free.get(item.item_id) or self._free_slot(item.item_id, rater, now)
                    lease = self.leases.grant(rater, item.item_id, slot) if slot is not None else None
                if lease is not None:
                    break
            else:
                return {**empty, **issued_field, "message": MESSAGES["busy"]}
        item = self._item(lease.item_id)
        answer_a, answer_b = (item.answers[v] for v in self.shown(item, rater))
        message = bilingual(
            f"আপনি {bn_digits(len(rated))}টি রেট করেছেন; আরও {bn_digits(len(open_items))}টি বাকি।",
            f"You have rated {len(rated)}; {len(open_items)} left.",
        )
        shown = {"item_id": item.item_id, "prompt": item.prompt, "answer_a": answer_a, "answer_b": answer_b}
        return {**shown, **progress, **issued_field, "message": message}

    def _current_lease(self, rater: str, rated: set[str]) -> Lease | None:
        """The lease the rater already holds (same item after a page reload); renewed if it ran out unused."""
        held = [
            lease
            for lease in (self.leases.held(rater, item_id) for item_id in (*self.items, *self.gold))
            if lease is not None and self._usable(lease, rater)
        ]
        if not held:
            return None
        lease = max(held, key=lambda lease: lease.expires_at)
        return lease if lease.running(time.time()) else self.leases.grant(rater, lease.item_id, lease.slot)

    def shown(self, item: Item, rater: str) -> tuple[str, str]:
        """Which variant is A and which is B for this rater (keyed: only this logs folder's secret tells)."""
        return shown_order(self.seed, item, rater)

    def _choose(self, rater: str, rated: set[str], open_items: list[str], now: float) -> Item:
        unrated_gold = [g for g in self.gold if g not in rated]
        if unrated_gold and unit_hash(self.seed, "gold", rater, len(rated)) < self.gold_rate:
            return self.gold[min(unrated_gold, key=lambda g: (self._counts[g], unit_hash(self.seed, rater, g)))]

        best = min(
            open_items,
            key=lambda i: (self._counts[i], len(self._busy(i, rater, now)), unit_hash(self.seed, "order", rater, i)),
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
        rater_key: str | None = None,
    ) -> dict:
        """Validate and store one rating; ``ok`` is True only when it is on disk (fsynced).

        ``scores_a`` and ``scores_b`` hold one 1-5 score per criterion, in the order of ``CRITERIA``. Only a
        slot leased to this rater is accepted (see :mod:`bempathy.rating.leases`)."""
        try:
            record = self._record(rater_id, item_id, scores_a, scores_b, preference, comment, seconds_spent, session_id)
        except ValueError as exc:
            return _refused(str(exc))
        rater, item_id = record["rater_id"], record["item_id"]
        refusal, _ = self.check_key(rater, rater_key)
        if refusal:
            return _refused(refusal)
        with self._lock:
            self._refresh()
            if item_id in self._rated.get(rater, ()):
                return _refused(MESSAGES["duplicate"])
            lease = self.leases.held(rater, item_id)
            if not self._usable(lease, rater):
                given = self.leases.given(rater, item_id)
                return _refused(MESSAGES["lease_taken" if given else "not_leased"])
            if self.limiter.limited(rater, record.get("session")):
                return _refused(MESSAGES["too_fast"])
            record["slot"] = lease.slot
            rating_id = self.store.ratings.insert_unique(record, UNIQUE_ON, SLOT_UNIQUE_ON)  # durable once it returns
            self._refresh()
            if rating_id is None:  # another tab or app process stored it first
                duplicate = item_id in self._rated.get(rater, ())
                return _refused(MESSAGES["duplicate" if duplicate else "lease_taken"])
        return {"ok": True, "message": MESSAGES["saved"], "rating_id": rating_id}

    def _record(self, rater_id, item_id, scores_a, scores_b, preference, comment, seconds_spent, session_id) -> dict:
        rater = normalize_rater_id(rater_id)
        with self._lock:
            item = self._item(item_id)
            experiment_id, evaluation_id = self.experiment_id, self.evaluation_id
        if item is None:
            raise ValueError(MESSAGES["unknown_item"])
        shown = self.shown(item, rater)
        if any(len(values) != len(CRITERIA_NAMES) for values in (scores_a, scores_b)):
            raise ValueError(f"Give {len(CRITERIA_NAMES)} scores per answer ({', '.join(CRITERIA_NAMES)}).")
        scores = {
            variant: {c: parse_score(v, c, side) for c, v in zip(CRITERIA_NAMES, values, strict=True)}
            for variant, side, values in ((shown[0], "A", scores_a), (shown[1], "B", scores_b))
        }
        record = rating_record(
            item,
            experiment_id=experiment_id,
            evaluation_id=evaluation_id,
            rater_id=rater,
            shown=shown,
            scores=scores,
            preference=parse_preference(preference),
            comment=clean_comment(comment, self.max_comment_chars),
            seconds_spent=spent(seconds_spent),
        )
        if session_id:
            # Keyed: links one client's ratings for the rate limit; the address itself cannot be read back.
            record["session"] = stable_hash(self.seed, "session", session_id)[:16]
        return record

    # ---- export and shutdown -----------------------------------------------------------------------

    def export_preferences(
        self,
        path: str | Path,
        loss: str = "dpo",
        filters: PreferenceFilters | None = None,
        *,
        other_variants: Sequence[tuple[str, str]] = (),
    ) -> PreferenceData:
        """Write TRL's conversational preference JSONL for ``loss`` (dpo: chosen/rejected pairs by majority vote;
        kto: labelled single answers), atomically, after the filters of :mod:`bempathy.rating.preferences`
        (their counts are in the result). The system prompt is the one the answers were generated under.
        ``other_variants``: more rated pairs of this evaluation (sample3,sample4 of a candidates round, or every
        pair for a best-vs-worst export), whose items count too."""
        with self._lock:  # only the reading: building the rows must not hold up raters
            self._refresh()
            items, records = {**self.items, **self.gold}, list(self.store.ratings.changes(None)[0])
            experiment_id, evaluation_id = self.experiment_id, self.evaluation_id
        for pair in other_variants:
            items.update({item.item_id: item for item in run_items(self.store, experiment_id, evaluation_id, pair)})
        data = preference_data(loss, items, records, filters)
        write_atomic(Path(path), "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data.rows))
        return data

    def close(self) -> None:
        """Fold the rating and lease journals into their JSON logs and stop their background threads."""
        self.store.ratings.close()
        self.store.leases.close()
        if self.keys is not None:
            self.keys.close()

"""A simulated crowd: deterministic raters with a documented taste, so SFT -> ratings -> preference training ->
ratings again can be watched on a laptop without people.

Why it looks like this:

- **Taste** (:func:`taste`): a rater likes answers that use counsellor words (``COUNSELLOR_WORDS``) and dislikes
  repeated word bigrams/trigrams (a degenerate model's loop); tone also follows the share of Bengali script,
  helpfulness also a little length (saturating at ``FULL_LENGTH`` words). Words come from
  :func:`bempathy.text.words`, never ``\\w`` (it drops Bengali vowel signs).
- **Noise**: each rater has a bias (lenient/harsh, shifts every score) and a noise scale drawn from
  ``unit_hash(seed, rater)``; each answer gets noise from ``unit_hash(seed, rater, item, variant)``. All randomness
  is hashed (:mod:`bempathy.rating.items`), so two processes agree and no global random state is touched.
- **Records** are the service's ``HumanEvaluations`` schema (:meth:`RatingService._record` plus ``slot``), with
  ``simulated: true`` and ``rater_kind: "simulated"``; the preference export leaves them out unless asked.
  Assignment mirrors the service: fewest-rated item first, one rating per rater per item, slots ``0..K-1``, each
  rating stored (fsynced) through ``store.ratings.insert_unique`` on the service's two uniqueness constraints.
- Simulated ratings count toward the service's per-item cap like any rating, and slot leases of live raters are
  not consulted: run a simulated round on logs no rating app is serving, or on an evaluation nobody rates.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import math
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from statistics import NormalDist

from bempathy.rating.estimators import clustered_rate_interval
from bempathy.rating.items import (
    CRITERIA_NAMES,
    HumanEvalError,
    Item,
    rating_record,
    resolve_evaluation,
    run_items,
    sampled_pairs,
    shown_order,
    unit_hash,
)
from bempathy.rating.service import SLOT_UNIQUE_ON, UNIQUE_ON, variant_pairs
from bempathy.rating.stats import summarize
from bempathy.storage.log import StoreCorruptError
from bempathy.storage.store import Store
from bempathy.text import bengali_share, words

COUNSELLOR_WORDS: tuple[str, ...] = tuple(
    unicodedata.normalize("NFC", phrase)
    for phrase in (
        "বুঝতে পারছি",
        "কষ্ট",
        "পাশে আছি",
        "শুনছি",
        "সাহায্য",
        "অনুভব",
        "একা নন",
        "understand",
        "feel",
        "here for you",
        "listen",
        "support",
    )
)
_PHRASES = tuple(tuple(word.casefold() for word in words(phrase)) for phrase in COUNSELLOR_WORDS)
REPEAT_WEIGHT = 3.0  # latent points lost on every criterion by an answer made only of repeated n-grams
FULL_LENGTH = 40  # words: helpfulness stops growing with length here
TIE_MARGIN = 0.25  # utilities closer than this (on the 1-5 scale) are a tie
BOTH_BAD_BELOW = 2.0  # both utilities (with the rater's bias) below this: "both_bad"
_NORMAL = NormalDist()


def counsellor_hits(text: str) -> int:
    """Occurrences of counsellor phrases; each phrase word matches a word it begins (কষ্ট in কষ্টটা, feel in feeling)."""
    tokens = [word.casefold() for word in words(text)]
    return sum(
        all(tokens[start + k].startswith(part) for k, part in enumerate(phrase))
        for phrase in _PHRASES
        for start in range(len(tokens) - len(phrase) + 1)
    )


def repetition(text: str) -> float:
    """Mean share of repeated word bigrams and trigrams, 0 (none) to ~1 (one phrase looped); single words may repeat."""
    tokens = [word.casefold() for word in words(text)]
    shares = []
    for n in (2, 3):
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        shares.append(1 - len(set(grams)) / len(grams) if grams else 0.0)
    return sum(shares) / len(shares)


def taste(text: str) -> dict[str, float]:
    """Noise-free latent quality per criterion, on the 1-5 scale (clamped): the simulated raters' shared taste."""
    hits, penalty, n_words = counsellor_hits(text), REPEAT_WEIGHT * repetition(text), len(words(text))
    if n_words == 0:
        return dict.fromkeys(CRITERIA_NAMES, 1.0)  # an empty answer is the worst on every criterion
    latent = {
        "empathy": 1.5 + 1.5 * math.log1p(hits) - penalty,
        "tone": 2.0 + 2.5 * bengali_share(text) - penalty,
        "helpfulness": 1.5 + 2.5 * min(n_words, FULL_LENGTH) / FULL_LENGTH + 0.5 * math.log1p(hits) - penalty,
    }
    return {c: min(5.0, max(1.0, latent[c])) for c in CRITERIA_NAMES}


def _normal(*parts: object) -> float:
    """A standard normal draw from a stable hash (inverse CDF of a hashed uniform)."""
    return _NORMAL.inv_cdf(min(max(unit_hash(*parts), 1e-12), 1 - 1e-12))


def rater_ids(n: int) -> list[str]:
    """``sim-01``, ``sim-02``, ...: ids no real pseudonym is likely to take, sortable."""
    return [f"sim-{k:02d}" for k in range(1, n + 1)]


def simulated_rating(item: Item, rater_id: str, *, seed: int, experiment_id: str | None, evaluation_id: str) -> dict:
    """One rating as :meth:`RatingService._record` builds it (no slot yet), plus the simulated markers."""
    bias = 1.2 * (unit_hash(seed, "sim-bias", rater_id) - 0.5)  # -0.6 (harsh) .. +0.6 (lenient)
    scale = 0.2 + 0.5 * unit_hash(seed, "sim-noise", rater_id)
    noisy: dict[str, dict[str, float]] = {}
    for variant, text in item.answers.items():
        shared = scale * _normal(seed, "sim-item", rater_id, item.item_id, variant)
        noisy[variant] = {
            c: value + shared + 0.3 * scale * _normal(seed, "sim-item", rater_id, item.item_id, variant, c)
            for c, value in taste(text).items()
        }
    shown = shown_order(seed, item, rater_id)
    utility = {v: sum(noisy[v].values()) / len(CRITERIA_NAMES) for v in shown}
    scores = {v: {c: min(5, max(1, math.floor(x + bias + 0.5))) for c, x in noisy[v].items()} for v in shown}
    a, b = utility[shown[0]], utility[shown[1]]
    if max(a, b) + bias < BOTH_BAD_BELOW:
        preference = "both_bad"
    elif abs(a - b) < TIE_MARGIN:
        preference = "tie"
    else:
        preference = "A" if a > b else "B"
    record = rating_record(
        item,
        experiment_id=experiment_id,
        evaluation_id=evaluation_id,
        rater_id=rater_id,
        shown=shown,
        scores=scores,
        preference=preference,
        comment="",
        seconds_spent=round(15 + 45 * unit_hash(seed, "sim-seconds", rater_id, item.item_id), 1),
    )
    return {**record, "simulated": True, "rater_kind": "simulated"}


def simulate_round(
    store: Store,
    items: list[Item],
    *,
    raters: int = 8,
    ratings_per_item: int = 3,
    seed: int = 0,
    experiment_id: str | None,
    evaluation_id: str,
) -> dict[str, int]:
    """Top every item up to ``ratings_per_item`` ratings (stored ones count), raters taking turns; returns counts.

    Each turn a rater takes the open item they have not rated with the fewest ratings (ties by a per-rater hash),
    as the service assigns; rerunning a finished round writes nothing.
    """
    if raters < 1 or ratings_per_item < 1:
        raise HumanEvalError("--raters and --ratings-per-item must be 1 or more")
    if raters < ratings_per_item:
        raise HumanEvalError(f"{ratings_per_item} ratings per item need at least {ratings_per_item} raters")
    by_id = {item.item_id: item for item in items}
    counts: Counter = Counter()
    rated: dict[str, set[str]] = defaultdict(set)
    slots: dict[str, set[str]] = defaultdict(set)
    names = rater_ids(raters)
    queues: dict[str, list[tuple[int, float, str]]] = {}
    cursor = None

    def refresh() -> None:
        """Fold ratings stored since the last look (by us or any other process) into counts and slots."""
        nonlocal cursor
        records, cursor, reset = store.ratings.changes(cursor)
        if reset:
            for state in (counts, rated, slots, queues):
                state.clear()
        for record in records:
            if record.get("item_id") in by_id:
                counts[record["item_id"]] += 1
                rated[str(record.get("rater_id"))].add(record["item_id"])
                if record.get("slot") is not None:
                    slots[record["item_id"]].add(str(record["slot"]))

    def next_item(rater: str) -> str | None:
        """The open item this rater has not rated with the fewest ratings, ties by the rater's hash order.

        A lazy heap per rater keyed by (count when queued, hash): counts only grow, so an entry whose count is
        stale sorts too early and is queued again at its count; the first current entry is the true minimum.
        Linear in the items per round instead of per rating (a candidates round has thousands of items).
        """
        if rater not in queues:  # first turn, or the journal was reset
            queues[rater] = [(counts[i], unit_hash(seed, "order", rater, i), i) for i in by_id]
            heapq.heapify(queues[rater])
        queue = queues[rater]
        while queue:
            count, order, item_id = queue[0]
            if counts[item_id] >= ratings_per_item or item_id in rated[rater] or (rater, item_id) in refused:
                heapq.heappop(queue)
            elif count != counts[item_id]:
                heapq.heapreplace(queue, (counts[item_id], order, item_id))
            else:
                return item_id
        return None

    store.ratings.ensure_index(UNIQUE_ON, SLOT_UNIQUE_ON)
    refresh()
    written, busy = 0, True
    refused: set[tuple[str, str]] = set()  # (rater, item) the journal refused: never offered again, so no loop
    while busy:
        busy = False
        for rater in names:
            item_id = next_item(rater)
            if item_id is None:
                continue
            slot = next(str(n) for n in range(ratings_per_item) if str(n) not in slots[item_id])
            record = simulated_rating(
                by_id[item_id], rater, seed=seed, experiment_id=experiment_id, evaluation_id=evaluation_id
            )
            # Durable once it returns; None when another process took the slot or item first (refresh sees it).
            if store.ratings.insert_unique({**record, "slot": slot}, UNIQUE_ON, SLOT_UNIQUE_ON) is None:
                refused.add((rater, item_id))
            else:
                written += 1
            refresh()
            busy = True
    short = sum(counts[i] < ratings_per_item for i in by_id)
    return {"written": written, "items": len(by_id), "raters": raters, "complete": len(by_id) - short, "short": short}


def crowd_win_rate(
    records: list[dict], first: str, second: str, experiment_id: str | None = None, seed: int = 0
) -> dict:
    """The second variant's win rate over the first among simulated ratings, with stats.py's Wilson 95% interval,
    plus ``by_prompt``: the decisive rate's interval when whole prompts are resampled (a prompt's items, and its
    ratings, are not independent; see :func:`clustered_rate_interval`)."""
    simulated = [r for r in records if r.get("simulated")]  # summarize keeps them out of every human figure
    summary = summarize(
        simulated, experiment_id=experiment_id, base=first, tuned=second, bootstrap_resamples=0, include_simulated=True
    )
    tally: dict[str, list[int]] = {}
    for record in simulated:  # the ratings summarize counts in the win rate: this pair, this experiment
        if set(record.get("shown") or ()) == {first, second} and (
            experiment_id is None or record.get("experiment_id") == experiment_id
        ):
            # A prompt is its example id; logs without one fall back to the item (one prompt per item then).
            wins = tally.setdefault(str(record.get("example_id") or record.get("item_id")), [0, 0])
            wins[0] += record.get("preferred_variant") == second
            wins[1] += record.get("preferred_variant") == first
    return {**summary["win_rate"], "by_prompt": clustered_rate_interval(list(tally.values()), seed=seed)}


def pooled(records: list[dict], pairs: list[tuple[str, str]], names: tuple[str, str]) -> list[dict]:
    """Records of several variant pairs (a sampled comparison's ``sft_sample{k}`` vs ``tuned_sample{k}``) renamed to
    one pair, so every rank counts toward one win rate; the stored records are not touched."""
    rename = {old: new for pair in pairs for old, new in zip(pair, names, strict=True)}
    out = []
    for record in records:
        copy = dict(record)
        copy["shown"] = [rename.get(v, v) for v in record.get("shown") or []]
        copy["scores"] = {rename.get(v, v): s for v, s in (record.get("scores") or {}).items()}
        copy["preferred_variant"] = rename.get(record.get("preferred_variant"), record.get("preferred_variant"))
        out.append(copy)
    return out


def evaluation_win_rate(store: Store, experiment_id: str, evaluation_id: str, names: tuple[str, str]) -> dict:
    """:func:`crowd_win_rate` of ``names[1]`` over ``names[0]`` on one evaluation's simulated ratings; on a sampled
    comparison every rank's pair (``sft_sample{k}`` vs ``tuned_sample{k}``) is pooled into it."""
    pairs = sampled_pairs(store, evaluation_id, names)
    item_ids = {item.item_id for pair in pairs for item in run_items(store, experiment_id, evaluation_id, pair)}
    records = [r for r in store.ratings.find(evaluation_id=evaluation_id) if r.get("item_id") in item_ids]
    return crowd_win_rate(pooled(records, pairs, names), *names, experiment_id=experiment_id)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bempathy.rating.simulated",
        description="Rate an experiment's evaluation with a SIMULATED crowd (no people): deterministic raters who "
        "like counsellor words and dislike repetition. Records are marked simulated: true; the preference export "
        "leaves them out unless --include-simulated. Prints ratings written and the crowd's win rate.",
    )
    parser.add_argument(
        "--logs-dir", type=Path, default=None, help="logs directory (default: $BEMPATHY_LOGS_DIR, else ./logs)"
    )
    parser.add_argument("--experiment", required=True, help="experiment id whose latest evaluation is rated")
    parser.add_argument("--evaluation", default=None, help="evaluation id (default: the experiment's latest)")
    parser.add_argument(
        "--variants",
        default="base,tuned",
        help="FIRST,SECOND; win rate is SECOND over FIRST. On a sampled comparison (--eval_sample_variants "
        "sft,tuned) two names rate FIRST_sampleK against SECOND_sampleK for every K, pooled into one win rate. Three "
        "or more names (sample1,...,sample8): every pair of them is rated, for a best-vs-worst export",
    )
    parser.add_argument("--raters", type=int, default=8, help="simulated raters sim-01.. (default: 8)")
    parser.add_argument("--ratings-per-item", type=int, default=3, help="ratings each item ends with (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the raters' taste noise and A/B order")
    return parser


def _run(args: argparse.Namespace, store: Store) -> None:
    requested = variant_pairs(args.variants, flag="--variants")
    experiment_id, evaluation_id = resolve_evaluation(store, args.experiment, args.evaluation)  # type: ignore[misc]
    # Two names on a sampled comparison (sft_sample1, tuned_sample1, ...): the k-th answers, rank by rank.
    pairs = sampled_pairs(store, evaluation_id, requested[0]) if len(requested) == 1 else requested
    items = [item for pair in pairs for item in run_items(store, experiment_id, evaluation_id, pair)]
    counts = simulate_round(
        store,
        items,
        raters=args.raters,
        ratings_per_item=args.ratings_per_item,
        seed=args.seed,
        experiment_id=experiment_id,
        evaluation_id=evaluation_id,
    )
    print(f"SIMULATED ratings, not human: experiment {experiment_id}, evaluation {evaluation_id}")
    of_pairs = f" ({len(pairs)} variant pairs)" if len(pairs) > 1 else ""
    print(
        f"wrote {counts['written']} simulated ratings ({counts['raters']} raters, seed {args.seed}); "
        f"{counts['complete']} of {counts['items']} items{of_pairs} have {args.ratings_per_item} ratings"
    )
    if len(requested) == 1:
        if pairs != requested:
            print(f"{len(pairs)} sampled answers per prompt and variant, k-th against k-th, pooled into one win rate")
        win = evaluation_win_rate(store, experiment_id, evaluation_id, requested[0])
        print("\n".join(win_rate_lines(win, requested[0])))
    print("these are simulated ratings: never report them as human judgements")


def win_rate_lines(win: dict, variants: tuple[str, str]) -> list[str]:
    """The crowd's win rate of ``variants[1]`` over ``variants[0]`` (with its tally) and the decisive rate."""
    if win["win"] is None:
        return [f"simulated win rate of {variants[1]} over {variants[0]}: no simulated ratings"]
    low, high = win["intervals"]["win"]["low"], win["intervals"]["win"]["high"]
    tally = ", ".join(f"{k} {win['counts'][k]}" for k in ("win", "tie", "loss", "both_bad"))
    return [
        f"simulated crowd win rate of {variants[1]} over {variants[0]}: {win['win']:.3f} "
        f"(95% Wilson interval {low:.3f}-{high:.3f}; n={win['n']}: {tally})",
        decisive_line(win),
    ]


def decisive_line(win: dict) -> str:
    """The decisive win rate (ties and "both bad" out: 0.5 means equal), for the loop's printouts."""
    decisive = win["decisive"]
    if decisive["win"] is None:
        return "decisive win rate: no rating picked one answer"
    interval = decisive["interval"]
    return (
        f"decisive win rate (ties and both bad out; 0.5 = equal): {decisive['win']:.3f} "
        f"[{interval['low']:.3f}, {interval['high']:.3f}] (n={decisive['n']}, sign test p={decisive['p_value']:.3g})"
        + _by_prompt(win.get("by_prompt"))
    )


def _by_prompt(interval: dict | None) -> str:
    if not interval or interval.get("low") is None:
        return ""
    return f"; resampling its {interval['clusters']} prompts [{interval['low']:.3f}, {interval['high']:.3f}]"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = Store(args.logs_dir, ratings_fold_interval=None)
    try:
        _run(args, store)
    except (HumanEvalError, StoreCorruptError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        with contextlib.suppress(StoreCorruptError):  # already reported above
            store.ratings.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

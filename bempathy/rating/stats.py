"""Aggregate crowd ratings of blind answer pairs (base vs fine-tuned) into the figures a report needs.

Input: ``HumanEvaluations`` records, one per rating (see :func:`summarize`). Output: one JSON-safe dict (no
NaN: a figure that cannot be computed is None) that :mod:`bempathy.rating.tables` turns into Markdown
tables, CSV and a plot.

Choices, and why:

* Gold ratings (``gold`` set) are quality checks on the raters: they feed the rater table only, never a
  model figure.
* Means carry Student-t 95% intervals (:func:`bempathy.eval.metrics.mean_ci`). They treat ratings as independent;
  ratings of one item or by one rater are correlated, so read them as somewhat optimistic.
* Win/loss shares carry Wilson 95% score intervals: sensible near 0 and 1 and for a handful of ratings.
* Krippendorff's alpha comes from coincidence matrices in numpy, one unit per answer ``(item_id, variant)``.
  The interval version equals nltk's ``AnnotationTask(..., distance=interval_distance).alpha()`` and the
  ordinal version the ``krippendorff`` package's (both checked in the tests); numpy keeps 20k ratings fast
  and lets both levels share one matrix. Where every pairable score is the same, alpha is 0/0 and reported
  as None (nltk would say 1).
* Flagged raters are never dropped: ``excluding_flagged`` repeats the figures without them, so a report can
  show both and a reader can see how much the flags matter.
* Bradley-Terry (only when more than two variants were compared) uses Hunter's MM algorithm, counts a tie or
  "both bad" as half a win for each side, and reports log-strengths relative to the base variant (base = 0)
  with percentile-bootstrap intervals over comparisons.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np

from bempathy.eval.metrics import mean_ci
from bempathy.rating.estimators import binomial_two_sided_p, bradley_terry_mm, krippendorff_alpha, wilson_interval
from bempathy.rating.items import CRITERIA_NAMES as CRITERIA  # the criteria's names, in their order
from bempathy.rating.items import PREFERENCES as PREFERENCE_LABELS

PREFERENCES = tuple(PREFERENCE_LABELS)
SCORE_RANGE = (1, 5)
METHODS = {
    "means": "Student-t 95% interval over ratings (null with one rating)",
    "win_rate": "Wilson score 95% interval",
    "alpha": "Krippendorff's alpha, unit = one answer (item_id, variant) with >= 2 ratings; interval and ordinal",
    "position_bias": "exact two-sided binomial test of P(A) = 0.5 over A/B decisions",
    "agreement_with_others": "mean absolute difference (score points) from the mean of the other raters",
    "bradley_terry": "MM algorithm, ties = half a win each, log-strength vs reference, percentile bootstrap 95%",
}


@dataclass(frozen=True, slots=True)
class _Rating:
    """One record, validated: only scores that are ints in 1-5 for a known criterion are kept."""

    rater: str
    item: str
    pair: tuple[str, str] | None  # the two variants, in the order shown (A, B) when known
    positional: bool  # whether ``pair`` is the order shown
    scores: dict[str, dict[str, int]]
    outcome: str | None  # A / B / tie / both_bad
    winner: str | None  # the preferred variant, when there was one
    seconds: float | None
    gold: Any


def _parse(record: Any, issues: Counter) -> _Rating | None:
    """A ``_Rating`` or None for a record without rater or item; bad scores are dropped and counted."""
    if not isinstance(record, dict) or record.get("rater_id") is None or record.get("item_id") is None:
        issues["malformed"] += 1
        return None
    scores: dict[str, dict[str, int]] = {}
    raw_scores = record.get("scores") if isinstance(record.get("scores"), dict) else {}
    for variant, by_criterion in raw_scores.items():
        kept = {}
        for criterion in CRITERIA:
            value = by_criterion.get(criterion) if isinstance(by_criterion, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and SCORE_RANGE[0] <= value <= SCORE_RANGE[1]:
                kept[criterion] = value
            else:
                issues["invalid_scores"] += 1
        if kept:
            scores[str(variant)] = kept
    shown = record.get("shown")
    positional = isinstance(shown, list | tuple) and len(shown) == 2 and shown[0] != shown[1]
    pair = (str(shown[0]), str(shown[1])) if positional else None
    if pair is None and len(scores) == 2:
        pair = tuple(sorted(scores))  # type: ignore[assignment]
    outcome = record.get("preference") if record.get("preference") in PREFERENCES else None
    winner = None
    preferred = record.get("preferred_variant")
    if outcome in ("A", "B") and positional:
        winner = pair[0 if outcome == "A" else 1]  # type: ignore[index]
        if isinstance(preferred, str) and preferred != winner:
            issues["preference_mismatch"] += 1  # the side shown and clicked is what the rater saw
    elif outcome not in ("tie", "both_bad") and isinstance(preferred, str):
        winner = preferred
    seconds = record.get("seconds_spent")
    ok_seconds = isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds)
    return _Rating(
        rater=str(record["rater_id"]),
        item=str(record["item_id"]),
        pair=pair,
        positional=positional,
        scores=scores,
        outcome=outcome,
        winner=winner if pair is not None and winner in pair else None,
        seconds=float(seconds) if ok_seconds and seconds >= 0 else None,
        gold=record.get("gold"),
    )


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _mean(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean, low, high = mean_ci(values)
    return {"mean": _num(mean), "low": _num(low), "high": _num(high), "n": int(values.size)}


@dataclass(frozen=True)
class _Table:
    """One row per kept score: codes for rater, unit (item, variant) and variant, criterion index, value."""

    raters: list[str]
    rater: np.ndarray
    unit: np.ndarray
    variant: np.ndarray
    criterion: np.ndarray
    value: np.ndarray


def _table(ratings: list[_Rating], variants: list[str]) -> _Table:
    raters: dict[str, int] = {}
    units: dict[tuple[str, str], int] = {}
    variant_index = {v: i for i, v in enumerate(variants)}
    criterion_index = {c: i for i, c in enumerate(CRITERIA)}
    rows = []
    for r in ratings:
        rater = raters.setdefault(r.rater, len(raters))
        for variant, by_criterion in r.scores.items():
            unit = units.setdefault((r.item, variant), len(units))
            for criterion, value in by_criterion.items():
                rows.append((rater, unit, variant_index[variant], criterion_index[criterion], value))
    array = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return _Table(list(raters), *(array[:, i] for i in range(5)))


def _win_rate(ratings: list[_Rating], base: str, tuned: str) -> dict:
    """Tuned over base, as shares of the ratings that compared exactly these two and said something."""
    counts = Counter({"win": 0, "tie": 0, "loss": 0, "both_bad": 0})
    for r in ratings:
        if r.pair is None or set(r.pair) != {base, tuned}:
            continue
        if r.winner is not None:
            counts["win" if r.winner == tuned else "loss"] += 1
        elif r.outcome in ("tie", "both_bad"):
            counts[r.outcome] += 1
    n = sum(counts.values())
    shares = {k: (counts[k] / n if n else None) for k in ("win", "tie", "loss", "both_bad")}
    intervals = {k: wilson_interval(counts[k], n) for k in ("win", "loss")}
    return {**shares, "n": n, "counts": dict(counts), "intervals": intervals, "decisive": _decisive(counts)}


def _decisive(counts: Counter) -> dict:
    """Wins among the ratings that picked one answer (ties and "both bad" left out), with a Wilson interval and a
    sign test: the rate whose value for two equally good models is 0.5, whatever the share of ties. ``win`` above
    keeps ties in its denominator, so equal models score (1 - tie share) / 2 there."""
    wins, n = counts["win"], counts["win"] + counts["loss"]
    return {
        "win": wins / n if n else None,
        "n": n,
        "interval": wilson_interval(wins, n),
        "p_value": binomial_two_sided_p(wins, n),
    }


def _win_rates(ratings: list[_Rating], variants: list[str], base: str, tuned: str) -> dict:
    """Every pair of variants that raters compared: the later one in training order (base, others, tuned) over the
    earlier, keyed ``"tuned_over_sft"``; a preference run's evaluation can be rated base-tuned and sft-tuned."""
    order = [base, *[v for v in variants if v not in (base, tuned)], tuned]
    pairs = {
        tuple(sorted(r.pair, key=order.index)) for r in ratings if r.pair is not None and set(r.pair) <= set(order)
    }
    return {f"{second}_over_{first}": _win_rate(ratings, first, second) for first, second in sorted(pairs)}


def _position_bias(ratings: list[_Rating]) -> dict:
    a = sum(r.outcome == "A" and r.positional for r in ratings)
    b = sum(r.outcome == "B" and r.positional for r in ratings)
    n = a + b
    return {"a": a / n if n else None, "b": b / n if n else None, "n": n, "p_value": binomial_two_sided_p(a, n)}


def _figures(ratings: list[_Rating], table: _Table, variants: list[str], base: str, tuned: str) -> dict:
    """The model figures for one set of (non-gold) ratings."""
    means = {
        v: {c: _mean(table.value[(table.variant == i) & (table.criterion == j)]) for j, c in enumerate(CRITERIA)}
        for i, v in enumerate(variants)
    }
    alpha = {}
    for level in ("interval", "ordinal"):
        alpha[level] = {
            c: krippendorff_alpha(table.unit[table.criterion == j], table.value[table.criterion == j], level)
            for j, c in enumerate(CRITERIA)
        }
    return {
        "n_ratings": len(ratings),
        "n_raters": len({r.rater for r in ratings}),
        "n_items": len({r.item for r in ratings}),
        "means": means,
        "win_rate": _win_rate(ratings, base, tuned),
        "win_rates": _win_rates(ratings, variants, base, tuned),
        "alpha": alpha["interval"],
        "alpha_ordinal": alpha["ordinal"],
        "position_bias": _position_bias(ratings),
    }


def _agreement(table: _Table) -> tuple[np.ndarray, np.ndarray]:
    """Per rater: mean |own score - mean of the other raters' scores| on the same unit and criterion, and n."""
    group = table.unit * len(CRITERIA) + table.criterion
    total = np.bincount(group, weights=table.value)
    count = np.bincount(group)
    shared = count[group] >= 2
    others = (total[group] - table.value)[shared] / (count[group][shared] - 1)
    diff = np.abs(table.value[shared] - others)
    n_raters = len(table.raters)
    sums = np.bincount(table.rater[shared], weights=diff, minlength=n_raters)
    ns = np.bincount(table.rater[shared], minlength=n_raters)
    return sums, ns


def _raters(model: list[_Rating], gold: list[_Rating], table: _Table, min_seconds: float) -> dict:
    """Per-rater quality figures and flags (failed_gold, constant_scores, too_fast)."""
    sums, ns = _agreement(table)
    agreement = {name: (sums[i] / ns[i] if ns[i] else None, int(ns[i])) for i, name in enumerate(table.raters)}
    by_rater: dict[str, list[_Rating]] = {}
    for r in model + gold:
        by_rater.setdefault(r.rater, []).append(r)
    out = {}
    for name in sorted(by_rater):
        ratings = by_rater[name]
        n_model = sum(r.gold is None for r in ratings)
        gold_marks = [r.gold for r in ratings if r.gold in ("passed", "failed")]
        accuracy = gold_marks.count("passed") / len(gold_marks) if gold_marks else None
        seconds = [r.seconds for r in ratings if r.seconds is not None]
        median_seconds = float(median(seconds)) if seconds else None
        # Six scores in the order shown (A's then B's): a straight-liner clicks the same boxes whatever the
        # models, while a rater who always prefers one model gives different tuples when the sides swap.
        full = [r for r in ratings if r.pair and all(len(r.scores.get(v, {})) == len(CRITERIA) for v in r.pair)]
        tuples = {tuple(r.scores[v][c] for v in r.pair for c in CRITERIA) for r in full}  # type: ignore[union-attr]
        flags = []
        if accuracy is not None and len(gold_marks) >= 2 and accuracy < 0.5:
            flags.append("failed_gold")
        if len(full) >= 5 and len(tuples) == 1:
            flags.append("constant_scores")
        if median_seconds is not None and median_seconds < min_seconds:
            flags.append("too_fast")
        mad, n_compared = agreement.get(name, (None, 0))
        out[name] = {
            "n": n_model,
            "n_gold": len(gold_marks),
            "agreement_with_others": None if mad is None else float(mad),
            "n_compared": n_compared,
            "gold_accuracy": accuracy,
            "median_seconds": median_seconds,
            "flags": flags,
        }
    return out


def _bradley_terry(ratings: list[_Rating], variants: list[str], base: str, resamples: int, seed: int) -> dict | None:
    """Ranking of all compared variants, only when more than two appear in the preferences."""
    cells: Counter = Counter()  # (first, second, first's score) -> count
    for r in ratings:
        if r.pair is None or (r.winner is None and r.outcome not in ("tie", "both_bad")):
            continue
        first, second = sorted(r.pair)
        cells[(first, second, 0.5 if r.winner is None else float(r.winner == first))] += 1
    compared = [v for v in variants if any(v in cell[:2] for cell in cells)]
    if len(compared) <= 2:
        return None
    index = {v: i for i, v in enumerate(compared)}
    k, keys = len(compared), list(cells)
    win_of = np.zeros((len(keys), k))
    game_of = np.zeros((len(keys), k, k))
    for c, (first, second, score) in enumerate(keys):
        i, j = index[first], index[second]
        win_of[c, i], win_of[c, j] = score, 1 - score
        game_of[c, i, j] = game_of[c, j, i] = 1
    observed = np.array([cells[key] for key in keys], dtype=float)
    ref = index.get(base, 0)
    point = bradley_terry_mm((observed @ win_of)[None], np.einsum("c,cij->ij", observed, game_of)[None], ref)[0]
    low = high = np.full(k, np.nan)
    if resamples > 0:
        draws = np.random.default_rng(seed).multinomial(int(observed.sum()), observed / observed.sum(), resamples)
        boot = bradley_terry_mm(draws @ win_of, np.einsum("rc,cij->rij", draws.astype(float), game_of), ref)
        low, high = np.quantile(boot, [0.025, 0.975], axis=0)
    games = np.einsum("c,cij->i", observed, game_of)
    wins = observed @ win_of
    ranking = [
        {
            "variant": v,
            "score": float(point[i]),
            "low": _num(low[i]),
            "high": _num(high[i]),
            "wins": float(wins[i]),
            "comparisons": int(games[i]),
        }
        for i, v in sorted(enumerate(compared), key=lambda iv: -point[iv[0]])
    ]
    return {"reference": compared[ref], "ranking": ranking, "n_comparisons": int(observed.sum())}


def summarize(
    records: list[dict],
    *,
    experiment_id: str | None = None,
    base: str = "base",
    tuned: str = "tuned",
    bootstrap_resamples: int = 1000,
    seed: int = 0,
    min_seconds: float = 3.0,
    include_simulated: bool = False,
) -> dict:
    """Everything a report says about the human ratings, as one JSON-safe dict (see the module docstring).

    Ratings marked ``simulated: true`` (the simulated crowd of ``python -m bempathy.rating.simulated``) are never
    counted as human: they are left out and counted in ``data_issues["simulated"]``, unless ``include_simulated``
    (the simulated crowd's own figures).

    With ``experiment_id``, only that experiment's ratings count (gold ratings without an experiment id are
    kept: gold items may be shared across experiments). Nothing is ever deleted: flagged raters' ratings are
    in the main figures, and ``excluding_flagged`` repeats them without those raters.
    """
    issues: Counter = Counter()
    model: list[_Rating] = []
    gold: list[_Rating] = []
    for record in records or []:
        if isinstance(record, dict) and record.get("simulated") and not include_simulated:
            issues["simulated"] += 1
            continue
        rating = _parse(record, issues)
        if rating is None:
            continue
        is_gold, exp = rating.gold is not None, record.get("experiment_id")
        if experiment_id is not None and exp != experiment_id and not (is_gold and exp is None):
            issues["other_experiment"] += 1
            continue
        (gold if is_gold else model).append(rating)
    seen = {v for r in model for v in (*r.scores, *(r.pair or ()))}
    variants = [base, tuned, *sorted(seen - {base, tuned})]
    table = _table(model, variants)
    raters = _raters(model, gold, table, min_seconds)
    flagged = [name for name, info in raters.items() if info["flags"]]
    kept = [r for r in model if r.rater not in set(flagged)]
    return {
        "experiment_id": experiment_id,
        "variants": variants,
        "base": base,
        "tuned": tuned,
        "criteria": list(CRITERIA),
        **_figures(model, table, variants, base, tuned),
        "n_gold_ratings": len(gold),
        "raters": raters,
        "flagged_raters": flagged,
        "excluding_flagged": _figures(kept, _table(kept, variants), variants, base, tuned),
        "bradley_terry": _bradley_terry(model, variants, base, bootstrap_resamples, seed),
        "data_issues": dict(issues),
        "methods": METHODS,
        "settings": {"bootstrap_resamples": bootstrap_resamples, "seed": seed, "min_seconds": min_seconds},
    }


__all__ = ["summarize"]

"""The estimators behind the rating figures: Wilson intervals, an exact binomial test, a cluster bootstrap,
Krippendorff's alpha and Bradley-Terry strengths. Plain numpy functions of arrays, kept apart from how ratings are
parsed and grouped (:mod:`bempathy.rating.stats`) so each can be checked against a reference implementation
on its own."""

from __future__ import annotations

import math

import numpy as np

_Z95 = 1.959963984540054  # standard normal 97.5% quantile, for Wilson intervals
_BT_PRIOR = 0.1  # virtual tied games per pair of variants: keeps MM finite when a variant never wins


def wilson_interval(successes: int, n: int, z: float = _Z95) -> dict:
    """Wilson score interval for a proportion: stays inside [0, 1] and is not degenerate at 0 or n."""
    if n == 0:
        return {"low": None, "high": None}
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return {"low": max(0.0, centre - half), "high": min(1.0, centre + half)}


def binomial_two_sided_p(k: int, n: int) -> float | None:
    """Exact two-sided binomial test against p = 0.5 (symmetric, so twice the smaller tail, capped at 1)."""
    if n == 0:
        return None
    low = min(k, n - k)
    steps = np.arange(low)
    log_comb = np.concatenate([[0.0], np.cumsum(np.log(n - steps) - np.log(steps + 1))])
    peak = log_comb.max()
    log_tail = peak + math.log(float(np.exp(log_comb - peak).sum())) - n * math.log(2)
    return min(1.0, 2 * math.exp(log_tail))


def clustered_rate_interval(tallies: np.ndarray, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap interval of wins / (wins + losses) when whole clusters are resampled.

    ``tallies`` is one (wins, losses) row per cluster (a prompt: its sampled items and their ratings share its
    text, so they are not independent and an interval over ratings is too narrow). A resample whose clusters hold
    no win or loss has no rate: it is left out, not counted as 0. No win or loss at all: None bounds.
    """
    counts = np.asarray(tallies, dtype=float).reshape(-1, 2)
    if not counts.size or not counts.sum():
        return {"low": None, "high": None, "clusters": len(counts)}
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
    won, lost = counts[picks, 0].sum(axis=1), counts[picks, 1].sum(axis=1)
    decided = won + lost > 0
    rates = won[decided] / (won[decided] + lost[decided])
    tail = (1 - level) / 2
    return {
        "low": float(np.quantile(rates, tail)),
        "high": float(np.quantile(rates, 1 - tail)),
        "clusters": len(counts),
    }


def krippendorff_alpha(units: np.ndarray, values: np.ndarray, level: str = "interval") -> float | None:
    """Krippendorff's alpha (interval or ordinal) from unit codes and numeric values, one entry per rating.

    Units with a single value are not pairable and are dropped; None when fewer than two units remain or when
    the expected disagreement is 0 (every pairable value equal), where alpha is 0/0.
    """
    if units.size == 0:
        return None
    _, unit_idx = np.unique(units, return_inverse=True)
    per_unit = np.bincount(unit_idx)
    keep = per_unit[unit_idx] >= 2
    if np.count_nonzero(per_unit >= 2) < 2:
        return None
    _, unit_idx = np.unique(unit_idx[keep], return_inverse=True)
    labels, value_idx = np.unique(values[keep], return_inverse=True)
    counts = np.zeros((unit_idx.max() + 1, labels.size))
    np.add.at(counts, (unit_idx, value_idx), 1.0)
    weighted = counts / (counts.sum(axis=1) - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))  # o_ck; its row sums are n_c
    n_c = counts.sum(axis=0)
    n = n_c.sum()
    if level == "interval":
        delta = np.subtract.outer(labels, labels).astype(float) ** 2
    elif level == "ordinal":
        cum = np.cumsum(n_c)
        ranks = np.arange(labels.size)
        lo, hi = np.minimum.outer(ranks, ranks), np.maximum.outer(ranks, ranks)
        delta = (cum[hi] - cum[lo] + n_c[lo] - (n_c[:, None] + n_c[None, :]) / 2) ** 2
    else:
        raise ValueError(f"unknown level {level!r}; use 'interval' or 'ordinal'")
    expected = float((np.outer(n_c, n_c) * delta).sum()) / (n * (n - 1))
    if expected <= 0:
        return None
    return 1.0 - float((coincidence * delta).sum()) / float(n) / expected


def bradley_terry_mm(
    wins: np.ndarray, games: np.ndarray, ref: int, max_iter: int = 10_000, tol: float = 1e-10
) -> np.ndarray:
    """Bradley-Terry strengths by Hunter's MM updates, batched: wins (R, K), games (R, K, K) -> log-strengths."""
    k = wins.shape[1]
    wins = wins + _BT_PRIOR * (k - 1) / 2
    games = games + _BT_PRIOR * (1 - np.eye(k))
    strength = np.ones_like(wins)
    for _ in range(max_iter):
        new = wins / (games / (strength[:, :, None] + strength[:, None, :])).sum(axis=2)
        new /= new[:, ref : ref + 1]
        done = np.max(np.abs(np.log(new) - np.log(strength))) < tol
        strength = new
        if done:
            break
    return np.log(strength)

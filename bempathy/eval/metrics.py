"""Reference-based metrics for Bengali responses: BLEU, chrF++, ROUGE, Bengali share, paired bootstrap.

Pure functions over strings (no model), called by the Evaluator. Choices that matter for Bengali:

* BLEU uses sacrebleu's ``intl`` tokenizer: ``13a`` leaves the danda (।) glued to the word before it.
* ROUGE uses rouge-score with a tokenizer built on :func:`bempathy.text.words`: rouge-score's default
  tokenizer keeps only ``[a-z0-9]``, so every Bengali ROUGE would be 0.0.
* chrF++ is sacrebleu's standard ``CHRF(word_order=2)``, kept as is for comparability. Its word n-grams
  strip only ASCII punctuation, so a trailing danda stays part of the word ("কথা।" != "কথা").

Corpus BLEU and chrF++ are sums of per-sentence sufficient statistics, so statistics are extracted once
per example and every bootstrap resample is a matrix product plus one cheap score computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

from bempathy.text import bengali_share, words

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
# Corpus metrics computed from summed sacrebleu statistics; the rest are means of per-example values.
_STAT_METRICS = ("bleu", "chrf")
# Corpus-level name -> per-example value it averages.
_MEAN_METRICS = {name: name for name in ("rouge1", "rouge2", "rougeL", "bengali_share")} | {"mean_length": "length"}
ROUGE_SIGNATURE = (
    f"rouge-score:{version('rouge-score')}|types:{','.join(ROUGE_TYPES)}|f1:mean-over-examples"
    "|tok:bempathy.text.words+lower|stem:no"
)


class BengaliRougeTokenizer:
    """rouge-score tokenizer that keeps vowel signs, hasanta and joiners inside words and drops punctuation.

    Lower-cases like rouge-score's default, which only matters for Latin words in code-mixed text.
    """

    def tokenize(self, text: str) -> list[str]:
        return [word.lower() for word in words(text)]


_BLEU = BLEU(tokenize="intl")
# sacrebleu's sentence_bleu setup; the statistics are identical, only the scoring from them differs.
_SENTENCE_BLEU = BLEU(tokenize="intl", effective_order=True)
_CHRF = CHRF(word_order=2)
_ROUGE = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False, tokenizer=BengaliRougeTokenizer())


@dataclass(frozen=True)
class _Table:
    """Everything per example that any metric here needs, computed once."""

    bleu_stats: np.ndarray  # (n, 2 + 2 * max n-gram order) int64
    chrf_stats: np.ndarray  # (n, 3 * (char order + word order)) int64
    values: dict[str, np.ndarray]  # per-example rouge1/rouge2/rougeL F1, bengali_share, length

    @property
    def n(self) -> int:
        return len(self.bleu_stats)


def _table(hypotheses: Sequence[str], references: Sequence[str]) -> _Table:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("no hypotheses to score")
    hyps, refs = list(hypotheses), [list(references)]
    # Private in sacrebleu but what its own paired bootstrap uses; the tests check it equals corpus_score.
    bleu_stats = np.array(_BLEU._extract_corpus_statistics(hyps, refs), dtype=np.int64)
    chrf_stats = np.array(_CHRF._extract_corpus_statistics(hyps, refs), dtype=np.int64)
    rouge = [_ROUGE.score(ref, hyp) for hyp, ref in zip(hyps, references, strict=True)]
    values = {name: np.array([r[name].fmeasure for r in rouge]) for name in ROUGE_TYPES}
    values["bengali_share"] = np.array([bengali_share(h) for h in hyps])
    values["length"] = np.array([len(words(h)) for h in hyps], dtype=float)
    return _Table(bleu_stats, chrf_stats, values)


def _scores(table: _Table, counts: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Corpus metrics for each row of ``counts`` (R, n): how often each example is drawn in that sample."""
    out: dict[str, np.ndarray] = {}
    for name in metrics:
        if name in _STAT_METRICS:
            metric, stats = (_BLEU, table.bleu_stats) if name == "bleu" else (_CHRF, table.chrf_stats)
            sums = counts @ stats
            out[name] = np.array([metric._compute_score_from_stats(row.tolist()).score for row in sums])
        elif name in _MEAN_METRICS:
            out[name] = counts @ table.values[_MEAN_METRICS[name]] / counts.sum(axis=1)
        else:
            raise ValueError(f"unknown metric {name!r}; known: {[*_STAT_METRICS, *_MEAN_METRICS]}")
    return out


def score_texts(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus-level scores plus the signatures needed to reproduce or compare them."""
    table = _table(hypotheses, references)
    scores = _scores(table, np.ones((1, table.n), dtype=np.int64), [*_STAT_METRICS, *_MEAN_METRICS])
    result: dict = {name: float(values[0]) for name, values in scores.items()}
    result["n"] = table.n
    result["signatures"] = {
        "bleu": str(_BLEU.get_signature()),
        "chrf": str(_CHRF.get_signature()),
        "rouge": ROUGE_SIGNATURE,
    }
    return result


def sentence_scores(hypotheses: list[str], references: list[str]) -> list[dict]:
    """Per-example chrF++, sentence BLEU (effective order), rougeL, Bengali share and length.

    For per-topic breakdowns; note that averaging sentence BLEU is not corpus BLEU.
    """
    table = _table(hypotheses, references)
    return [
        {
            "chrf": _CHRF._compute_score_from_stats(chrf.tolist()).score,
            "bleu": _SENTENCE_BLEU._compute_score_from_stats(bleu.tolist()).score,
            "rougeL": float(table.values["rougeL"][i]),
            "bengali_share": float(table.values["bengali_share"][i]),
            "length": int(table.values["length"][i]),
        }
        for i, (chrf, bleu) in enumerate(zip(table.chrf_stats, table.bleu_stats, strict=True))
    ]


def paired_bootstrap(
    base_hyps: list[str],
    tuned_hyps: list[str],
    references: list[str],
    metrics: Sequence[str] = ("bleu", "chrf", "rougeL", "bengali_share"),
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Tuned-minus-base difference per metric with a paired percentile-bootstrap interval.

    Both systems are scored on the same resampled examples, so example difficulty cancels out of the
    difference; corpus BLEU/chrF++ are recomputed on each resample from the cached statistics.
    """
    if len(base_hyps) != len(tuned_hyps):
        raise ValueError(f"{len(base_hyps)} base but {len(tuned_hyps)} tuned hypotheses")
    base, tuned = _table(base_hyps, references), _table(tuned_hyps, references)
    n = base.n
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_resamples, n)) + n * np.arange(n_resamples)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_resamples * n).reshape(n_resamples, n)
    full = np.ones((1, n), dtype=np.int64)
    base_full, tuned_full = _scores(base, full, metrics), _scores(tuned, full, metrics)
    base_boot, tuned_boot = _scores(base, counts, metrics), _scores(tuned, counts, metrics)
    alpha = 1.0 - confidence
    result = {}
    for name in metrics:
        low, high = np.quantile(tuned_boot[name] - base_boot[name], [alpha / 2, 1 - alpha / 2])
        x, y = float(base_full[name][0]), float(tuned_full[name][0])
        result[name] = {"base": x, "tuned": y, "delta": y - x, "ci_low": float(low), "ci_high": float(high)}
    return result


def _t_quantile(confidence: float, df: int) -> float:
    """t such that P(|T| <= t) = confidence for Student's t with integer df (no scipy dependency).

    Uses the exact finite series for integer df (Abramowitz & Stegun 26.7.3) in theta = atan(t / sqrt(df)),
    where it is monotone, and bisects on theta.
    """
    k = np.arange(1, (df - 1) // 2) if df % 2 else np.arange(1, df // 2)
    ratios = 2 * k / (2 * k + 1) if df % 2 else (2 * k - 1) / (2 * k)

    def two_sided_cdf(theta: float) -> float:
        cos2 = math.cos(theta) ** 2
        series = 1.0 + float(np.cumprod(ratios * cos2).sum())
        if df % 2 == 0:
            return math.sin(theta) * series
        tail = math.sin(theta) * math.cos(theta) * series if df > 1 else 0.0
        return 2 / math.pi * (theta + tail)

    low, high = 0.0, math.pi / 2
    for _ in range(64):
        mid = (low + high) / 2
        low, high = (mid, high) if two_sided_cdf(mid) < confidence else (low, mid)
    return math.sqrt(df) * math.tan((low + high) / 2)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) with a Student-t interval, for human-rating means over few raters/items.

    With one value the spread is unknown, so the interval is (nan, nan) rather than a falsely exact one.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(data.mean())
    if data.size == 1:
        return mean, math.nan, math.nan
    half = _t_quantile(confidence, data.size - 1) * float(data.std(ddof=1)) / math.sqrt(data.size)
    return mean, mean - half, mean + half


__all__ = [
    "ROUGE_SIGNATURE",
    "ROUGE_TYPES",
    "BengaliRougeTokenizer",
    "mean_ci",
    "paired_bootstrap",
    "score_texts",
    "sentence_scores",
]

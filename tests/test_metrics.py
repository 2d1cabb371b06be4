"""Tests for bempathy.eval.metrics, all on real Bengali text."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

from bempathy.eval.metrics import (
    BengaliRougeTokenizer,
    mean_ci,
    paired_bootstrap,
    score_texts,
    sentence_scores,
)

REF = "আমি বুঝতে পারছি আপনি খুব ক্লান্ত বোধ করছেন। কিন্তু আপনি একা নন, আমরা একসাথে এর সমাধান খুঁজব।"
UNRELATED = "গতকাল বাজারে মাছের দাম বেড়েছে এবং ট্রেন দেরিতে ছেড়েছে।"
PARTIAL = "আমি বুঝতে পারছি আপনি ক্লান্ত। চলুন আগামীকাল বাজারে যাই।"

SENTENCES = [
    "আমি বুঝতে পারছি আপনি খুব ক্লান্ত বোধ করছেন।",
    "আপনার কষ্টের কথা শুনে আমার খারাপ লাগছে।",
    "পরীক্ষার চাপ সত্যিই অনেক ভারী মনে হতে পারে।",
    "কিন্তু আপনি একা নন, আমরা একসাথে পথ খুঁজব।",
    "মায়ের অসুস্থতা নিয়ে চিন্তা হওয়াটা খুবই স্বাভাবিক।",
    "চাকরি হারানোর পর ভবিষ্যৎ অনিশ্চিত লাগছে, তাই না?",
    "একটু বিশ্রাম নেওয়া এবং প্রিয় কারো সাথে কথা বলা সাহায্য করতে পারে।",
    "আপনার অনুভূতিগুলো গুরুত্বপূর্ণ এবং সেগুলো প্রকাশ করা ঠিক আছে।",
    "বন্ধুর সাথে ঝগড়ার পর মন খারাপ হওয়াটা বোঝা যায়।",
    "রাতে ঘুম না হলে সারাদিন অস্থির লাগে।",
    "আপনি যা অনুভব করছেন তা নিয়ে আরও কিছু বলতে চান?",
    "ছোট ছোট পদক্ষেপেও বড় পরিবর্তন আসতে পারে।",
]
POOR = [
    "গতকাল বাজারে মাছের দাম বেড়েছে।",
    "ট্রেন দেরিতে ছেড়েছে এবং বৃষ্টি হয়েছে।",
    "নদীর ধারে একটি পুরনো মন্দির আছে।",
    "ক্রিকেট খেলায় দল জিতেছে।",
    "ভাত আর ডাল রান্না হয়েছে।",
]


def make_references(n: int) -> list[str]:
    """n distinct two-sentence responses built from SENTENCES."""
    k = len(SENTENCES)
    return [f"{SENTENCES[i % k]} {SENTENCES[(i * 5 + i // k + 1) % k]}" for i in range(n)]


def test_identical_bengali_scores_perfect() -> None:
    scores = score_texts([REF, PARTIAL], [REF, PARTIAL])
    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)
    for name in ("rouge1", "rouge2", "rougeL"):
        assert scores[name] == pytest.approx(1.0)
    assert scores["n"] == 2


def test_unrelated_partial_and_ordering() -> None:
    unrelated = score_texts([UNRELATED], [REF])
    partial = score_texts([PARTIAL], [REF])
    assert unrelated["bleu"] < 5
    assert unrelated["rougeL"] < 0.1
    assert unrelated["chrf"] < 25
    for name, perfect in (("bleu", 100), ("chrf", 100), ("rouge1", 1), ("rouge2", 1), ("rougeL", 1)):
        assert unrelated[name] < partial[name] < perfect, name


def test_tokenizer_keeps_bengali_words_whole_and_drops_danda() -> None:
    tokens = BengaliRougeTokenizer().tokenize("কিন্তু আমি ক্লান্ত। র\u200d্যাব এসেছে। OK")
    assert tokens == ["কিন্তু", "আমি", "ক্লান্ত", "র\u200d্যাব", "এসেছে", "ok"]


def test_default_rouge_tokenizer_scores_bengali_zero() -> None:
    """Proves our tokenizer is what makes Bengali ROUGE work."""
    default = rouge_scorer.RougeScorer(["rouge1", "rougeL"]).score(REF, REF)
    assert default["rouge1"].fmeasure == 0.0
    assert default["rougeL"].fmeasure == 0.0
    assert score_texts([REF], [REF])["rouge1"] == pytest.approx(1.0)


def test_signatures_name_intl_and_chrf_plus_plus() -> None:
    signatures = score_texts([REF], [REF])["signatures"]
    assert "tok:intl" in signatures["bleu"]
    assert "nw:2" in signatures["chrf"]
    assert "stem:no" in signatures["rouge"]


def test_scores_from_cached_statistics_match_sacrebleu() -> None:
    """Guards the use of sacrebleu's per-sentence statistics against library changes."""
    refs = make_references(8)
    hyps = [PARTIAL, *refs[1:4], UNRELATED, *POOR[:3]]
    scores = score_texts(hyps, refs)
    assert scores["bleu"] == pytest.approx(BLEU(tokenize="intl").corpus_score(hyps, [refs]).score)
    assert scores["chrf"] == pytest.approx(CHRF(word_order=2).corpus_score(hyps, [refs]).score)
    for hyp, ref, row in zip(hyps, refs, sentence_scores(hyps, refs), strict=True):
        assert row["bleu"] == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref], tokenize="intl").score)
        assert row["chrf"] == pytest.approx(sacrebleu.sentence_chrf(hyp, [ref], word_order=2).score)


def test_sentence_scores_rows() -> None:
    rows = sentence_scores([REF, UNRELATED, "I feel tired today"], [REF, REF, REF])
    assert rows[0]["bleu"] == pytest.approx(100.0) and rows[0]["rougeL"] == pytest.approx(1.0)
    assert rows[1]["rougeL"] < 0.1 and rows[1]["bleu"] < rows[0]["bleu"]
    assert rows[2]["bengali_share"] == 0.0 and rows[2]["length"] == 4
    # Three tokens, so no 4-grams: only effective-order sentence BLEU gives the exact prefix credit.
    short = sentence_scores(["আমি বুঝতে পারছি"], [REF])[0]
    assert short["bleu"] == pytest.approx(sacrebleu.sentence_bleu("আমি বুঝতে পারছি", [REF], tokenize="intl").score)
    assert short["bleu"] > 0  # brevity penalty makes it small (~0.35); without effective order it is 0


def test_bengali_share_and_length() -> None:
    mixed = "আমার অফিসের boss খুব strict।"
    assert score_texts([REF], [REF])["bengali_share"] == pytest.approx(1.0)
    assert score_texts(["I am very tired today."], [REF])["bengali_share"] == 0.0
    share = score_texts([mixed], [REF])["bengali_share"]
    assert 0.0 < share < 1.0
    pair = score_texts([REF, "I am tired."], [REF, REF])
    assert pair["bengali_share"] == pytest.approx(0.5)
    assert pair["mean_length"] == pytest.approx((17 + 3) / 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda: score_texts([REF, REF], [REF]),
        lambda: score_texts([], []),
        lambda: sentence_scores([REF], []),
        lambda: paired_bootstrap([REF], [REF, REF], [REF]),
        lambda: paired_bootstrap([REF], [REF], [REF], metrics=("meteor",)),
    ],
)
def test_value_errors(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_bootstrap_identical_systems_zero_delta() -> None:
    refs = make_references(30)
    hyps = [POOR[i % len(POOR)] if i % 3 else refs[i] for i in range(30)]
    result = paired_bootstrap(hyps, list(hyps), refs, n_resamples=200)
    for name, row in result.items():
        assert row["delta"] == 0.0, name
        # Paired: both systems see the same resampled examples, so every resampled delta is exactly 0.
        assert row["ci_low"] == 0.0 == row["ci_high"], name


def test_bootstrap_matches_naive_resampling() -> None:
    """The vectorised resampling equals re-scoring each resample with sacrebleu and rouge-score."""
    n, n_resamples, seed = 12, 40, 7
    refs = make_references(n)
    base = [POOR[i % len(POOR)] if i % 2 else PARTIAL for i in range(n)]
    tuned = [refs[i] if i % 3 else UNRELATED for i in range(n)]
    result = paired_bootstrap(base, tuned, refs, metrics=("bleu", "chrf", "rougeL"), n_resamples=40, seed=seed)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    naive = {"bleu": [], "chrf": [], "rougeL": []}
    for idx in draws:
        sample = score_texts([tuned[i] for i in idx], [refs[i] for i in idx])
        minus = score_texts([base[i] for i in idx], [refs[i] for i in idx])
        for name, deltas in naive.items():
            deltas.append(sample[name] - minus[name])
    for name, deltas in naive.items():
        low, high = np.quantile(deltas, [0.025, 0.975])
        assert result[name]["ci_low"] == pytest.approx(low), name
        assert result[name]["ci_high"] == pytest.approx(high), name


def test_bootstrap_better_system_positive_and_reproducible() -> None:
    n = 100
    refs = make_references(n)
    base = [POOR[i % len(POOR)] if i % 4 else refs[i] for i in range(n)]
    start = time.perf_counter()
    result = paired_bootstrap(base, refs, refs, n_resamples=1000, seed=3)
    elapsed = time.perf_counter() - start
    print(f"paired_bootstrap: 1000 resamples x {n} examples in {elapsed:.2f} s")
    assert elapsed < 20
    for name in ("bleu", "chrf", "rougeL"):
        row = result[name]
        assert row["delta"] == pytest.approx(row["tuned"] - row["base"])
        assert row["delta"] > 0 and row["ci_low"] > 0, name
        assert row["ci_low"] < row["delta"] < row["ci_high"], name
    assert result["bleu"]["tuned"] == pytest.approx(100.0)
    assert paired_bootstrap(base, refs, refs, n_resamples=1000, seed=3) == result
    other = paired_bootstrap(base, refs, refs, n_resamples=1000, seed=4)
    assert other["chrf"]["ci_low"] != result["chrf"]["ci_low"]


def test_mean_ci_known_values() -> None:
    # Student t 0.975 quantile with 4 degrees of freedom (scipy.stats.t.ppf(0.975, 4); scipy not installed).
    t_975_df4 = 2.7764451051977987
    mean, low, high = mean_ci([1, 2, 3, 4, 5])
    half = t_975_df4 * math.sqrt(2.5) / math.sqrt(5)
    assert mean == 3.0
    assert low == pytest.approx(3 - half, abs=1e-9)
    assert high == pytest.approx(3 + half, abs=1e-9)
    # t 0.995 quantile, 9 df = 3.2498355415921263; t 0.975 with 1 df = 12.706204736174696.
    values = [4, 5, 3, 4, 4, 5, 2, 4, 3, 5]
    sd = math.sqrt(sum((v - 3.9) ** 2 for v in values) / 9)
    assert mean_ci(values, 0.99)[2] == pytest.approx(3.9 + 3.2498355415921263 * sd / math.sqrt(10))
    assert mean_ci([2, 4])[2] == pytest.approx(3 + 12.706204736174696 * math.sqrt(2) / math.sqrt(2))


def test_mean_ci_edge_cases() -> None:
    mean, low, high = mean_ci([4.0])
    assert mean == 4.0 and math.isnan(low) and math.isnan(high)
    assert mean_ci([3, 3, 3]) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError):
        mean_ci([])

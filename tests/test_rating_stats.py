"""Rating aggregation: a hand-worked example, agreement against nltk/krippendorff, flags, Bradley-Terry, speed."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import time

import numpy as np
import pytest
from matplotlib.figure import Figure
from nltk.metrics.agreement import AnnotationTask  # `import nltk.metrics.agreement` fails: see the note below
from nltk.metrics.distance import interval_distance

from bempathy.eval.metrics import _t_quantile
from bempathy.rating.estimators import binomial_two_sided_p, krippendorff_alpha, wilson_interval
from bempathy.rating.items import CRITERIA_NAMES as CRITERIA
from bempathy.rating.stats import summarize
from bempathy.rating.tables import CSV_COLUMNS, format_summary, plot_summary, summary_csv

# nltk 3.10: `import nltk.metrics.agreement as m` raises ImportError (the attribute nltk.metrics is rebound to
# nltk.translate.metrics); `from nltk.metrics.agreement import AnnotationTask` works.

AB, BA = ["base", "tuned"], ["tuned", "base"]


def rating(rater, item, shown, base, tuned, preference, *, seconds=10.0, gold=None, experiment="exp1", **extra):
    """A HumanEvaluations record; ``base``/``tuned`` are (empathy, tone, helpfulness)."""
    return {
        "id": f"{rater}/{item}",
        "item_id": item,
        "experiment_id": experiment,
        "evaluation_id": "ev1",
        "rater_id": rater,
        "shown": shown,
        "scores": {"base": dict(zip(CRITERIA, base, strict=True)), "tuned": dict(zip(CRITERIA, tuned, strict=True))},
        "preference": preference,
        "preferred_variant": None,
        "comment": "",
        "seconds_spent": seconds,
        "gold": gold,
        "timestamp": "2026-11-20T10:00:00Z",
    } | extra


# 3 raters x 2 items, both variants in each rating.
HAND = [
    rating("r1", "i1", AB, (2, 2, 3), (4, 4, 4), "B"),  # tuned preferred (win)
    rating("r2", "i1", BA, (3, 3, 3), (5, 4, 5), "A"),  # tuned preferred (win), tuned shown as A
    rating("r3", "i1", AB, (2, 3, 3), (4, 4, 4), "tie"),
    rating("r1", "i2", BA, (3, 3, 3), (5, 5, 4), "B"),  # base preferred (loss)
    rating("r2", "i2", AB, (3, 2, 3), (4, 4, 4), "B"),  # win
    rating("r3", "i2", BA, (5, 4, 4), (5, 5, 5), "both_bad"),
]
T_975_DF5 = 2.5705818366147395  # Student t 97.5% quantile, 5 degrees of freedom (tables: 2.5706)


def test_hand_worked_example() -> None:
    s = summarize(HAND)
    assert (s["n_ratings"], s["n_raters"], s["n_items"]) == (6, 3, 2)
    assert s["variants"] == ["base", "tuned"] and s["bradley_terry"] is None

    # Means, Student t with df = 6 - 1 = 5 (scipy is not installed; metrics._t_quantile must give the table value).
    assert _t_quantile(0.95, 5) == pytest.approx(T_975_DF5, abs=1e-9)
    # base empathy = [2, 3, 2, 3, 3, 5]: mean 18/6 = 3; squared deviations 1+0+1+0+0+4 = 6; s^2 = 6/5 = 1.2;
    # se = sqrt(1.2/6) = sqrt(0.2) = 0.447214; half = 2.570582 * 0.447214 = 1.149599 -> [1.850401, 4.149599].
    half = T_975_DF5 * math.sqrt(0.2)
    assert s["means"]["base"]["empathy"] == pytest.approx({"mean": 3.0, "low": 3 - half, "high": 3 + half, "n": 6})
    assert (3 - half, 3 + half) == pytest.approx((1.850401, 4.149599), abs=1e-6)
    # tuned empathy = [4, 5, 4, 5, 4, 5]: mean 4.5; deviations all 0.5: SS = 1.5; s^2 = 0.3; se = sqrt(0.05);
    # half = 2.570582 * 0.223607 = 0.574800 -> [3.925200, 5.074800] (a t-interval is not clipped to the scale).
    half = T_975_DF5 * math.sqrt(0.05)
    assert s["means"]["tuned"]["empathy"] == pytest.approx({"mean": 4.5, "low": 4.5 - half, "high": 4.5 + half, "n": 6})
    assert s["means"]["tuned"]["empathy"]["low"] == pytest.approx(3.925200, abs=1e-6)

    # Win rate: 3 wins, 1 tie, 1 loss, 1 both_bad out of 6.
    win = s["win_rate"]
    assert win["counts"] == {"win": 3, "tie": 1, "loss": 1, "both_bad": 1} and win["n"] == 6
    assert (win["win"], win["tie"], win["loss"], win["both_bad"]) == pytest.approx((0.5, 1 / 6, 1 / 6, 1 / 6))
    # Wilson, p = 0.5, n = 6, z^2 = 3.841459: centre = (0.5 + 3.841459/12) / (1 + 3.841459/6) = 0.5;
    # half = 1.959964 / 1.640243 * sqrt(0.25/6 + 3.841459/144) = 1.194922 * 0.261425 = 0.312384.
    assert (win["intervals"]["win"]["low"], win["intervals"]["win"]["high"]) == pytest.approx(
        (0.187616, 0.812384), abs=1e-6
    )
    # Decisive: 3 wins of the 4 ratings that picked one answer; Wilson p = 0.75, n = 4: centre = (0.75 + 3.841459/8)
    # / (1 + 3.841459/4) = 1.230182 / 1.960365 = 0.627528; half = 1.959964 / 1.960365 * sqrt(0.1875/4 +
    # 3.841459/64) = 0.999796 * 0.326952 = 0.326885 -> [0.300642, 0.954413]; sign test 2 * (1 + 4) / 16 = 0.625.
    assert win["decisive"]["win"] == 0.75 and win["decisive"]["n"] == 4
    assert (win["decisive"]["interval"]["low"], win["decisive"]["interval"]["high"]) == pytest.approx(
        (0.300642, 0.954413), abs=1e-5
    )
    assert win["decisive"]["p_value"] == pytest.approx(0.625)

    # Position bias: A chosen once (r2/i1), B three times (r1/i1, r1/i2, r2/i2); ties don't count.
    # Two-sided binomial: 2 * P(X <= 1 | n=4, p=0.5) = 2 * (1 + 4) / 16 = 0.625.
    assert s["position_bias"] == pytest.approx({"a": 0.25, "b": 0.75, "n": 4, "p_value": 0.625})

    # Krippendorff's alpha, empathy, interval distance d(c, k) = (c - k)^2, units = answers:
    #   (i1, base) [2, 3, 2]  (i2, base) [3, 3, 5]  (i1, tuned) [4, 5, 4]  (i2, tuned) [5, 4, 5]; n = 12 values.
    # Observed: per unit sum over ordered pairs of d, divided by (m_u - 1) = 2:
    #   [2,3,2]: 2*(1+0+1)/2 = 2;  [3,3,5]: 2*(0+4+4)/2 = 8;  [4,5,4]: 2;  [5,4,5]: 2;  D_o = 14/12 = 7/6.
    # Expected from the coincidence marginals n_2=2, n_3=3, n_4=3, n_5=4:
    #   sum_{c<k} n_c n_k d = 6*1 + 6*4 + 8*9 + 9*1 + 12*4 + 12*1 = 171; D_e = 2*171 / (12*11) = 342/132.
    #   alpha = 1 - (7/6) / (342/132) = 1 - 77/171 = 94/171 = 0.549708.
    assert s["alpha"]["empathy"] == pytest.approx(94 / 171, abs=1e-12)
    data = [(r["rater_id"], (r["item_id"], v), r["scores"][v]["empathy"]) for r in HAND for v in ("base", "tuned")]
    assert AnnotationTask(data=data, distance=interval_distance).alpha() == pytest.approx(94 / 171, abs=1e-12)
    # Ordinal: d(c, k) = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2: d23 = 6.25, d24 = 30.25, d25 = 81, d34 = 9,
    # d35 = 42.25, d45 = 12.25. D_o = (12.5 + 84.5 + 24.5 + 24.5) / 12 = 146/12;
    # sum_{c<k} n_c n_k d = 37.5 + 181.5 + 648 + 81 + 507 + 147 = 1602; D_e = 3204/132;
    # alpha = 1 - (146/12) / (3204/132) = 1 - 1606/3204 = 799/1602 = 0.498752.
    assert s["alpha_ordinal"]["empathy"] == pytest.approx(799 / 1602, abs=1e-12)

    # Agreement of r1: |own - mean of the other two| over r1's 12 scores:
    #   i1 base (2,2,3) vs (2.5,3,3): .5+1+0;   i1 tuned (4,4,4) vs (4.5,4,4.5): .5+0+.5;
    #   i2 base (3,3,3) vs (4,3,3.5): 1+0+.5;   i2 tuned (5,5,4) vs (4.5,4.5,4.5): .5+.5+.5;  5.5/12.
    assert s["raters"]["r1"]["agreement_with_others"] == pytest.approx(5.5 / 12)
    assert s["raters"]["r1"]["n_compared"] == 12 and s["flagged_raters"] == []
    assert s["excluding_flagged"]["means"] == s["means"]


def _random_units(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 80))
    return rng.integers(0, 6, n), rng.integers(0, rng.integers(2, 20), n), rng.integers(1, 6, n)


@pytest.mark.parametrize("seed", range(25))
def test_interval_alpha_equals_nltk(seed: int) -> None:
    coders, units, values = _random_units(seed)
    ours = krippendorff_alpha(units, values, "interval")
    counts = np.bincount(units)
    data = [(int(c), int(u), int(v)) for c, u, v in zip(coders, units, values, strict=True) if counts[u] >= 2]
    if np.count_nonzero(counts >= 2) < 2:
        assert ours is None
    else:
        assert ours == pytest.approx(AnnotationTask(data=data, distance=interval_distance).alpha(), abs=1e-12)


def test_ordinal_alpha_equals_krippendorff_package() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    for seed in range(25):
        _, units, values = _random_units(seed)
        if np.count_nonzero(np.bincount(units) >= 2) < 2:
            continue
        value_counts = np.zeros((units.max() + 1, 5))
        np.add.at(value_counts, (units, values - 1), 1)
        for level in ("interval", "ordinal"):
            expected = krippendorff.alpha(value_counts=value_counts, level_of_measurement=level)
            assert krippendorff_alpha(units, values, level) == pytest.approx(expected, abs=1e-12)


def test_alpha_undefined_cases() -> None:
    assert krippendorff_alpha(np.array([0, 0]), np.array([3, 4])) is None  # one pairable unit
    assert krippendorff_alpha(np.array([0, 0, 1, 1, 2]), np.array([4, 4, 4, 4, 1])) is None  # no variation (0/0)
    assert krippendorff_alpha(np.array([], dtype=int), np.array([], dtype=int)) is None


def test_position_bias_and_binomial() -> None:
    records = [
        rating("r", f"i{k}", AB if k % 2 else BA, (3, 3, 3), (3, 3, 3), "A" if k < 8 else "B") for k in range(10)
    ]
    records.append(rating("r", "i10", AB, (3, 3, 3), (3, 3, 3), "tie"))
    bias = summarize(records)["position_bias"]
    # 8 of 10 A/B decisions went to A: p = 2 * (1 + 10 + 45) / 1024 = 0.109375.
    assert bias == pytest.approx({"a": 0.8, "b": 0.2, "n": 10, "p_value": 0.109375})
    assert binomial_two_sided_p(5, 10) == 1.0 and binomial_two_sided_p(0, 10) == pytest.approx(2 / 1024)
    assert binomial_two_sided_p(10_000, 20_000) == 1.0 and binomial_two_sided_p(0, 0) is None
    assert wilson_interval(0, 10)["low"] == 0.0 and wilson_interval(0, 0) == {"low": None, "high": None}


def _panel() -> list[dict]:
    """Four honest raters who prefer tuned, three to be flagged, one who always prefers base and is fine."""
    rng = random.Random(7)
    records = []
    for k in range(8):
        shown = AB if k % 2 else BA
        for rater in ("g1", "g2", "g3", "g4"):
            base, tuned = tuple(rng.randint(1, 3) for _ in CRITERIA), tuple(rng.randint(4, 5) for _ in CRITERIA)
            records.append(rating(rater, f"i{k}", shown, base, tuned, "A" if shown == BA else "B"))
        base_pick = "A" if shown == AB else "B"
        records.append(rating("fast", f"i{k}", shown, (5, 5, 5), (1, 1, 1), base_pick, seconds=1.2))
        # The same boxes clicked every time: (3,3,3) for A and (4,4,4) for B, whatever the sides.
        a_scores, b_scores = (3, 3, 3), (4, 4, 4)
        base, tuned = (a_scores, b_scores) if shown == AB else (b_scores, a_scores)
        records.append(rating("const", f"i{k}", shown, base, tuned, "B" if shown == AB else "A"))
        records.append(rating("liar", f"i{k}", shown, (5, 4, 5), (1, 2, 1), base_pick))
        # Always base 5s and tuned 1s: constant per variant but not per position, a judgement, not a straight line.
        records.append(rating("fan", f"i{k}", shown, (5, 5, 5), (1, 1, 1), base_pick))
    for k, (rater, mark) in enumerate([("liar", "failed"), ("liar", "failed"), ("fan", "passed"), ("one", "failed")]):
        records.append(rating(rater, f"g{k}", AB, (1, 1, 1), (5, 5, 5), "B", gold=mark))
    return records


def test_flags_and_excluding_flagged() -> None:
    s = summarize(_panel())
    raters = s["raters"]
    assert raters["fast"]["flags"] == ["too_fast"] and raters["fast"]["median_seconds"] == pytest.approx(1.2)
    assert raters["const"]["flags"] == ["constant_scores"]
    assert raters["liar"]["flags"] == ["failed_gold"] and raters["liar"]["gold_accuracy"] == 0.0
    assert raters["fan"]["flags"] == [] and raters["fan"]["gold_accuracy"] == 1.0
    assert raters["one"]["flags"] == [] and raters["one"]["n"] == 0  # a single failed gold is not enough
    assert all(raters[g]["flags"] == [] for g in ("g1", "g2", "g3", "g4"))
    assert s["flagged_raters"] == ["const", "fast", "liar"]
    # Flagged ratings stay in the main figures; the second set drops them.
    assert s["n_ratings"] == 8 * 8 and s["n_raters"] == 8
    ex = s["excluding_flagged"]
    assert ex["n_ratings"] == 8 * 5 and ex["n_raters"] == 5
    assert s["win_rate"]["counts"] == {"win": 8 * 5, "tie": 0, "loss": 8 * 3, "both_bad": 0}
    assert ex["win_rate"]["counts"] == {"win": 8 * 4, "tie": 0, "loss": 8, "both_bad": 0}
    assert ex["means"]["tuned"]["empathy"]["mean"] > s["means"]["tuned"]["empathy"]["mean"]
    assert ex["alpha"]["empathy"] != s["alpha"]["empathy"]
    # The bad raters disagree with the panel more than the honest ones do.
    assert raters["liar"]["agreement_with_others"] > max(raters[g]["agreement_with_others"] for g in ("g1", "g2"))
    assert "failed_gold" in format_summary(s) and "### Without the 3 flagged raters" in format_summary(s)


def test_gold_ratings_excluded_from_model_figures() -> None:
    gold = [rating(r, "gold1", AB, (1, 1, 1), (5, 5, 5), "A", gold="passed") for r in ("r1", "r2", "r3")]
    plain, with_gold = summarize(HAND), summarize(HAND + gold)
    for key in ("n_ratings", "n_items", "means", "win_rate", "alpha", "alpha_ordinal", "position_bias"):
        assert with_gold[key] == plain[key], key
    assert with_gold["n_gold_ratings"] == 3 and with_gold["raters"]["r1"]["gold_accuracy"] == 1.0


def test_experiment_filter_and_data_issues() -> None:
    other = [rating("r9", "i1", AB, (1, 1, 1), (1, 1, 1), "A", experiment="exp2")]
    shared_gold = [rating("r1", "g", AB, (1, 1, 1), (5, 5, 5), "B", gold="failed", experiment=None)]
    odd = [
        None,
        {"rater_id": "r1"},  # no item
        rating("r4", "i3", None, (3, 3, 9), (True, 3, 3), None, preferred_variant="tuned"),  # 9 and True dropped
        rating("r5", "i3", AB, (3, 3, 3), (3, 3, 3), "A", preferred_variant="tuned"),  # clicked A = base
    ]
    s = summarize(HAND + other + shared_gold + odd, experiment_id="exp1")
    assert s["experiment_id"] == "exp1" and s["n_ratings"] == 8 and s["n_gold_ratings"] == 1
    assert s["data_issues"] == {"other_experiment": 1, "malformed": 2, "invalid_scores": 2, "preference_mismatch": 1}
    # Without `shown`, the stored preferred_variant still counts as a win; r5's click on A (base) is a loss.
    assert s["win_rate"]["counts"] == {"win": 4, "tie": 1, "loss": 2, "both_bad": 1}
    assert s["means"]["base"]["helpfulness"]["n"] == 7 and s["means"]["tuned"]["empathy"]["n"] == 7
    assert summarize(HAND + other)["n_ratings"] == 7  # no filter: every experiment


def test_bradley_terry_recovers_known_order() -> None:
    truth = {"base": 0.0, "tuned": 1.0, "older": -0.7}
    rng = random.Random(3)
    records = []
    for k in range(3000):
        shown = rng.sample(list(truth), 2)
        p_a = 1 / (1 + math.exp(truth[shown[1]] - truth[shown[0]]))
        records.append(
            {"item_id": f"i{k}", "rater_id": f"r{k % 40}", "shown": shown, "scores": {}, "gold": None}
            | {"preference": "A" if rng.random() < p_a else "B", "seconds_spent": 20.0}
        )
    records += [rating("r0", "t1", ["base", "older"], (3, 3, 3), (3, 3, 3), "tie")]
    bt = summarize(records, bootstrap_resamples=300)["bradley_terry"]
    assert bt["reference"] == "base" and bt["n_comparisons"] == 3001
    assert [row["variant"] for row in bt["ranking"]] == ["tuned", "base", "older"]
    for row in bt["ranking"]:
        assert row["score"] == pytest.approx(truth[row["variant"]], abs=0.2)
        assert row["low"] <= truth[row["variant"]] <= row["high"]
    assert next(r for r in bt["ranking"] if r["variant"] == "base")["low"] == 0.0  # fixed scale


def test_empty_input() -> None:
    s = summarize([])
    assert (s["n_ratings"], s["n_raters"], s["n_items"], s["n_gold_ratings"]) == (0, 0, 0, 0)
    assert s["means"]["tuned"]["empathy"] == {"mean": None, "low": None, "high": None, "n": 0}
    assert s["win_rate"]["win"] is None and s["alpha"]["tone"] is None and s["position_bias"]["p_value"] is None
    assert s["raters"] == {} and s["flagged_raters"] == [] and s["bradley_terry"] is None
    json.dumps(s, allow_nan=False)
    assert "Human ratings" in format_summary(s) and summary_csv(s).startswith("subset,")
    plot_summary(s).savefig(io.BytesIO(), format="png")
    one = summarize(HAND[:1])  # one rating: a mean but no interval
    assert one["means"]["base"]["empathy"] == {"mean": 2.0, "low": None, "high": None, "n": 1}
    json.dumps(one, allow_nan=False)


def test_json_csv_and_plot() -> None:
    s = summarize(_panel() + HAND)
    assert json.loads(json.dumps(s, allow_nan=False)) == s
    rows = list(csv.DictReader(io.StringIO(summary_csv(s))))
    assert tuple(rows[0]) == CSV_COLUMNS
    per_subset = 2 * 3 + 4 + 2 * 3 + 3  # means, win-rate outcomes, alpha levels, position bias
    assert len(rows) == 2 * per_subset
    mean = next(r for r in rows if r["section"] == "mean" and r["variant"] == "base" and r["criterion"] == "tone")
    assert float(mean["value"]) == pytest.approx(s["means"]["base"]["tone"]["mean"])
    assert int(mean["n"]) == s["means"]["base"]["tone"]["n"]
    win = next(r for r in rows if r["subset"] == "excluding_flagged" and r["statistic"] == "win")
    assert float(win["value"]) == pytest.approx(s["excluding_flagged"]["win_rate"]["win"]) and win["versus"] == "base"
    fig = plot_summary(s)
    assert isinstance(fig, Figure)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_markdown_escapes_rater_ids() -> None:
    text = format_summary(summarize([rating("<b>x|y</b>\nz", "i1", AB, (3, 3, 3), (4, 4, 4), "B")]))
    assert "<b>" not in text and "x\\|y" in text


def test_speed_20k_ratings() -> None:
    rng = random.Random(11)
    variants = ["base", "tuned", "older"]
    records = []
    for k in range(20_000):
        shown = rng.sample(variants, 2)
        scores = {v: {c: rng.randint(1, 5) for c in CRITERIA} for v in shown}
        records.append(
            {"id": str(k), "item_id": f"i{k // 10}", "experiment_id": "e", "rater_id": f"r{rng.randrange(400)}"}
            | {"shown": shown, "scores": scores, "preference": rng.choice(["A", "B", "tie", "both_bad"])}
            | {
                "preferred_variant": None,
                "seconds_spent": rng.uniform(2, 90),
                "gold": rng.choice([None] * 19 + ["passed"]),
            }
        )
    start = time.perf_counter()
    s = summarize(records, experiment_id="e")
    elapsed = time.perf_counter() - start
    print(f"summarize: {len(records)} ratings in {elapsed:.2f} s")
    assert s["n_ratings"] + s["n_gold_ratings"] == 20_000 and s["bradley_terry"] is not None
    assert elapsed < 10


def test_simulated_ratings_are_never_counted_as_human():
    fake = [rating(f"sim-0{k}", "i1", AB, (1, 1, 1), (5, 5, 5), "B", simulated=True) for k in range(1, 4)]
    human = summarize(HAND + fake, experiment_id="exp1", bootstrap_resamples=0)
    assert human["n_ratings"] == len(HAND) and human["data_issues"]["simulated"] == 3
    assert human["win_rate"] == summarize(HAND, experiment_id="exp1", bootstrap_resamples=0)["win_rate"]
    crowd = summarize(fake, experiment_id="exp1", bootstrap_resamples=0, include_simulated=True)
    assert crowd["n_ratings"] == 3 and crowd["win_rate"]["win"] == 1.0


def test_every_compared_pair_has_its_win_rate_later_variant_over_earlier():
    def pair(rater, item, shown, winner_position):
        scores = {v: dict(zip(CRITERIA, (3, 3, 3), strict=True)) for v in shown}
        record = rating(rater, item, shown, (3, 3, 3), (3, 3, 3), winner_position)
        return record | {"scores": scores, "preferred_variant": shown[0] if winner_position == "A" else shown[1]}

    records = [
        pair("r1", "i1", ["base", "tuned"], "B"),
        pair("r1", "i2", ["sft", "tuned"], "A"),  # sft preferred: a loss of tuned over sft
        pair("r2", "i2", ["tuned", "sft"], "A"),  # tuned preferred
        pair("r3", "i2", ["tuned", "sft"], "A"),
    ]
    rates = summarize(records, experiment_id="exp1", bootstrap_resamples=0)["win_rates"]
    assert set(rates) == {"tuned_over_base", "tuned_over_sft"}
    assert rates["tuned_over_base"]["counts"]["win"] == 1
    assert rates["tuned_over_sft"]["counts"] == {"win": 2, "tie": 0, "loss": 1, "both_bad": 0}

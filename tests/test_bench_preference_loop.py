"""The loop script's own arithmetic: the decisive-rate interval that resamples whole prompts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]

import preference_loop  # noqa: E402


def _record(prompt: str, k: int, preferred: str | None) -> dict:
    return {"example_id": f"{prompt}#{k}", "preferred_variant": preferred}


def test_the_interval_resamples_prompts_not_items_and_leaves_ties_out():
    # Prompt a: 3 wins, 1 loss (and a tie); prompt b: 2 losses. Resampling two prompts can only give
    # aa (6/8 = 0.75), ab or ba (3/6 = 0.5) or bb (0/4 = 0): the interval spans the two ends.
    records = [_record("a", k, p) for k, p in enumerate(["tuned", "tuned", "tuned", "sft", None])]
    records += [_record("b", k, "sft") for k in range(2)]
    assert preference_loop.clustered_interval(records, seed=1) == (0.0, 0.75)


def test_a_prompt_won_throughout_has_no_spread():
    records = [_record(p, k, "tuned") for p in "abc" for k in range(4)]
    assert preference_loop.clustered_interval(records) == (1.0, 1.0)


def test_the_rate_pools_ratings_over_prompts_not_a_mean_of_prompt_rates():
    # Four prompts won 9 of 9, one lost 0 of 1. A resample with three copies of the lost prompt (about 5.8% of
    # them; four or five: 0.7%) sets the 2.5% end: pooled, 18 wins of 21 ratings; a mean of per-prompt rates
    # would give 2/5 there.
    records = [_record(p, k, "tuned") for p in "acde" for k in range(9)] + [_record("b", 0, "sft")]
    low, high = preference_loop.clustered_interval(records, resamples=4000, seed=2)
    assert low == pytest.approx(18 / 21)
    assert high == 1.0


def test_no_decisive_rating_gives_no_interval():
    low, high = preference_loop.clustered_interval([_record("a", 0, None)])
    assert low != low and high != high  # NaN


def test_paired_items_put_the_same_prompts_jth_answers_against_each_other():
    rows = [{"id": "p0"}, {"id": "p1"}]
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(2)]
    texts = [f"{variant}-{i}-{j}" for i in range(2) for j in range(3) for variant in ("sft", "tuned")]
    items = preference_loop.paired_items(rows, prompts, texts, 3, "val-sampled")
    assert [item.example_id for item in items] == [f"p{i}#{j}" for i in range(2) for j in range(3)]
    for item in items:
        i, j = item.example_id[1], item.example_id[-1]
        assert item.answers == {"sft": f"sft-{i}-{j}", "tuned": f"tuned-{i}-{j}"}
        assert item.prompt == f"question {i}"
    assert len({item.item_id for item in items}) == 6

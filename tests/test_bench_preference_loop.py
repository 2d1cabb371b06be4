"""The loop script's own arithmetic: the decisive-rate interval that resamples whole prompts."""

from __future__ import annotations

import sys
from pathlib import Path

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

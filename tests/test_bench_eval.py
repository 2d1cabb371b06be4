"""bench/eval_speed.py stays runnable and honest: tiny settings, the structure and sanity of every number."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]

TINY = {"prompts": 2, "max_new_tokens": 4, "repeats": 1, "app_pairs": 2, "chat_new_tokens": 4, "chat_repeats": 2}


def test_sample_questions_are_distinct_bengali_texts_spread_over_the_sample():
    import eval_speed

    questions = eval_speed.sample_questions(16)
    assert len(questions) == len(set(questions)) == 16
    assert all(q.strip() for q in questions)
    assert sum(any("\u0980" <= c <= "\u09ff" for c in q) for q in questions) >= 14


@pytest.mark.slow
def test_eval_compare_and_chat_measure_the_same_work_on_both_sides():
    """measure_all is what bench/run.py calls; it runs measure_eval, measure_compare and measure_chat."""
    import eval_speed

    result = eval_speed.measure_all(None, quick=True, settings=TINY)
    assert result["settings"] == {**eval_speed.QUICK, **TINY}
    n = TINY["prompts"]

    for key in ("eval_batched_s", "eval_loop_s", "eval_batched_tokens_per_s", "eval_loop_tokens_per_s"):
        assert result[key] > 0, key
    assert result["eval_speedup"] == pytest.approx(result["eval_loop_s"] / result["eval_batched_s"], rel=0.02)
    assert result["eval_outputs"] == n and 0 <= result["eval_identical_outputs"] <= n
    assert result["eval_all_full_length"] is True  # forced length: every answer has exactly max_new_tokens

    for key in ("compare_app_mixed_s", "compare_app_two_calls_s", "compare_eval_mixed_s", "compare_eval_two_passes_s"):
        assert result[key] > 0, key
    assert result["compare_speedup"] == pytest.approx(
        result["compare_app_two_calls_s"] / result["compare_app_mixed_s"], rel=0.02
    )
    assert result["compare_eval_speedup"] > 0
    assert result["compare_all_full_length"] is True
    # The same prompt twice needs no padding: one mixed call must give exactly what two calls give.
    pairs = result["compare_app_pairs_timed"]
    assert result["compare_app_identical_pairs"] == result["compare_app_identical_text_pairs"] == pairs
    assert result["compare_app_base_differs_from_tuned"] == pairs  # the random adapter changes the answer
    samples = result["compare_app_samples_s"]
    assert len(samples["mixed"]) == len(samples["two_calls"]) == pairs and min(samples["mixed"]) > 0
    # Two prompts pad to the same width in both layouts, so the evaluation case must match row for row too.
    assert result["compare_eval_identical_base"] == result["compare_eval_identical_tuned"] == n

    assert 0 < result["chat_first_token_s"] <= result["chat_first_visible_s"] <= result["chat_turn_s"]
    assert result["chat_stream_tokens_per_s"] > 0
    assert result["chat_all_full_length"] is True
    assert result["chat_turns_timed"] == TINY["chat_repeats"] == len(result["chat_samples_s"]["first_token"])
    assert "model side" in result["chat_first_token_is"] and "80" in result["chat_first_visible_is"]

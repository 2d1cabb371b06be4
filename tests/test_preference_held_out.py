"""Which preference rows are held out, and how their accuracies are computed (the stage: test_preference_stage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bempathy.eval.pairs import pair_accuracies
from bempathy.train.preference_rows import PreferenceRows, hold_out, user_turns_key


def _rows(prompts: list[str]) -> PreferenceRows:
    rows = [
        {
            "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": text}],
            "chosen": [{"role": "assistant", "content": f"good {i}"}],
            "rejected": [{"role": "assistant", "content": f"bad {i}"}],
        }
        for i, text in enumerate(prompts)
    ]
    return PreferenceRows(path=Path("p.jsonl"), loss="dpo", rows=rows, sha256="x")


def test_whole_prompts_are_held_out_by_their_text_not_the_file_order():
    prompts = [f"প্রশ্ন {i}" for i in range(10)] + ["প্রশ্ন 3", "প্রশ্ন 3"]  # one prompt with three pairs
    train_rows, held = hold_out(_rows(prompts), 0.2)
    assert len({user_turns_key(r) for r in held}) == 2  # 20% of 10 distinct prompts
    assert not {user_turns_key(r) for r in held} & {user_turns_key(r) for r in train_rows}
    assert len(train_rows) + len(held) == len(prompts)
    _, held_reversed = hold_out(_rows(prompts[::-1]), 0.2)
    assert {user_turns_key(r) for r in held_reversed} == {user_turns_key(r) for r in held}


def test_at_least_one_prompt_is_trained_on_and_zero_holds_none_out():
    assert hold_out(_rows(["এক"]), 0.5) == (_rows(["এক"]).rows, [])
    train_rows, held = hold_out(_rows(["এক", "দুই"]), 0.99)
    assert len(train_rows) == 1 and len(held) == 1
    assert hold_out(_rows(["এক", "দুই", "তিন"]), 0.0)[1] == []


def test_dpo_accuracies_before_and_after_and_the_reward_margin():
    rows = [{}, {}, {}, {}]
    before = {"chosen": [-10.0, -10.0, -5.0, -7.0], "rejected": [-9.0, -12.0, -5.0, -6.0]}  # margins -1, 2, 0, -1
    after = {"chosen": [-8.0, -11.0, -4.0, -9.0], "rejected": [-9.0, -12.0, -6.0, -6.0]}  # margins 1, 1, 2, -3
    result = pair_accuracies(before, after, rows, "dpo", beta=0.5)
    assert result["likelihood_accuracy_before"] == pytest.approx((0 + 1 + 0.5 + 0) / 4)  # a tie counts half
    assert result["likelihood_accuracy_after"] == pytest.approx(3 / 4)
    # rewards 0.5 * (after margin - before margin): 1.0, -0.5, 1.0, -1.0
    assert result["reward_accuracy"] == pytest.approx(2 / 4)
    assert result["reward_margin"] == pytest.approx((1.0 - 0.5 + 1.0 - 1.0) / 4)
    assert pair_accuracies(before, before, rows, "dpo", beta=0.5)["reward_accuracy"] == 0.5  # no change: all ties


def test_kto_accuracy_is_the_reward_sign_against_the_label():
    rows = [{"label": True}, {"label": True}, {"label": False}]
    before, after = {"completion": [-5.0, -5.0, -5.0]}, {"completion": [-4.0, -6.0, -7.0]}
    result = pair_accuracies(before, after, rows, "kto", beta=1.0)
    assert result["reward_accuracy"] == pytest.approx(2 / 3) and "likelihood_accuracy_before" not in result
    assert result["reward_margin"] == pytest.approx((1.0 - 1.0 + 2.0) / 3)

"""Held-out preference rows: does a model rank the raters' chosen answer above the rejected one?

The preference stage keeps a share of its prompts out of training and scores them here twice: with the policy as it
starts (the SFT model) and as it ends. Two numbers, both on pairs it never trained on:

- **likelihood accuracy** (DPO rows): the share of pairs whose chosen answer has the higher log-probability (summed
  over its tokens, as DPO sums them) under the model. Before and after are the same measure on two models.
- **reward accuracy**: DPO's implicit reward is ``beta * (log p_policy(y) - log p_ref(y))`` with the SFT model as the
  reference, so a pair is ranked right when the chosen answer's reward beats the rejected one's (TRL's
  ``rewards/accuracies`` on unseen rows). Before training policy and reference are one model and every reward is 0,
  so it starts at 0.5 by definition (ties count half) and is reported only after. For KTO rows (one answer, good or
  bad) an answer is ranked right when its reward's sign matches its label.

Log-probabilities come from the evaluator's answer-token scoring (the chat template's assistant mask), so they are
the same tokens the perplexity counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from bempathy.eval.evaluator import answer_labels, answer_token_nll

Row = dict[str, Any]


def completion_logps(model: Any, tokenizer: Any, rows: Sequence[Row], key: str) -> list[float]:
    """Summed log-probability of each row's ``key`` answer (one assistant message) after its prompt."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    was_training = getattr(model, "training", False)
    model.eval()  # no dropout: the same row scores the same every time
    try:
        return [
            -answer_token_nll(model, [answer_labels(tokenizer, row["prompt"] + row[key])], pad, 1)[0] for row in rows
        ]
    finally:
        if was_training:
            model.train()


def score_rows(model: Any, tokenizer: Any, rows: Sequence[Row], loss: str) -> dict[str, list[float]]:
    """The log-probabilities the accuracies need: chosen and rejected (DPO) or the completion (KTO)."""
    keys = ("chosen", "rejected") if loss == "dpo" else ("completion",)
    return {key: completion_logps(model, tokenizer, rows, key) for key in keys}


def _share(wins: Sequence[float]) -> float | None:
    return sum(wins) / len(wins) if wins else None


def _sign(value: float) -> float:
    """1 right, 0 wrong, 0.5 a tie."""
    return 0.5 if value == 0 else float(value > 0)


def pair_accuracies(
    before: dict[str, list[float]], after: dict[str, list[float]], rows: Sequence[Row], loss: str, beta: float
) -> dict[str, Any]:
    """Accuracies and mean reward margin on held-out rows, from their log-probabilities before and after."""
    if loss == "dpo":
        margin_before = [c - r for c, r in zip(before["chosen"], before["rejected"], strict=True)]
        margin_after = [c - r for c, r in zip(after["chosen"], after["rejected"], strict=True)]
        rewards = [beta * (a - b) for a, b in zip(margin_after, margin_before, strict=True)]
        return {
            "rows": len(rows),
            "likelihood_accuracy_before": _share([_sign(m) for m in margin_before]),
            "likelihood_accuracy_after": _share([_sign(m) for m in margin_after]),
            "reward_accuracy": _share([_sign(r) for r in rewards]),
            "reward_margin": _share(rewards),
        }
    rewards = [beta * (a - b) for a, b in zip(after["completion"], before["completion"], strict=True)]
    signed = [r if row["label"] else -r for r, row in zip(rewards, rows, strict=True)]
    return {"rows": len(rows), "reward_accuracy": _share([_sign(s) for s in signed]), "reward_margin": _share(signed)}


def held_out_report(
    model: Any, tokenizer: Any, rows: Sequence[Row], loss: str, beta: float
) -> Callable[[], dict[str, Any]]:
    """Score ``rows`` now (the starting policy) and return a function that scores them again and compares."""
    before = score_rows(model, tokenizer, rows, loss)

    def after() -> dict[str, Any]:
        result = pair_accuracies(before, score_rows(model, tokenizer, rows, loss), rows, loss, beta)
        return {key: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for key, v in result.items()}

    return after

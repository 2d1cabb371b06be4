"""The data report's figures and its terminal table: drops, splits, token lengths and where the tokens go.

``token_budget`` makes the fixed system prompt's cost visible: it is in every example with no loss on it, so
its share of all tokens is compute spent on nothing learned (the old all-Bengali prompt was 574 Llama 3
tokens, more than the median conversation). Shares are per split and over all splits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bempathy.runs import SPLITS


def length_stats(lengths: Sequence[int]) -> dict[str, float] | None:
    """Percentiles of sorted example lengths: the tail (p99, max) decides the training length and memory."""
    if not lengths:
        return None

    def percentile(q: float) -> int:
        return lengths[min(len(lengths) - 1, math.ceil(q * len(lengths)) - 1)]

    return {
        "min": lengths[0],
        "median": percentile(0.5),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "max": lengths[-1],
        "mean": round(sum(lengths) / len(lengths), 1),
        "total": sum(lengths),
    }


def token_budget(by_split: Mapping[str, Sequence[Any]], system_prompt_tokens: int | None) -> dict[str, Any] | None:
    """Tokens per split and overall: all of them, the system turns' (prompt) and the answers' (what the loss is
    on: each answer and its ``<|eot_id|>``), with their shares; None when nothing was measured.

    ``system_prompt_tokens`` is what the run's system turn (header, prompt, ``<|eot_id|>``; not bos) adds to each
    example; the prompt and answer figures are None where only the full render could count (another template).
    """
    everything = [e for items in by_split.values() for e in items]
    if not everything or any(e.n_tokens is None for e in everything):
        return None
    known = all(e.system_tokens is not None and e.answer_tokens is not None for e in everything)

    def part(items: Iterable[Any]) -> dict[str, Any]:
        items = list(items)
        tokens = sum(e.n_tokens for e in items)
        prompt = sum(e.system_tokens for e in items) if known else None
        answers = sum(e.answer_tokens for e in items) if known else None
        return {
            "tokens": tokens,
            "prompt_tokens": prompt,
            "answer_tokens": answers,
            "prompt_share": _share(prompt, tokens),
            "answer_share": _share(answers, tokens),
        }

    return {
        "system_prompt_tokens": system_prompt_tokens,
        **{name: part(items) for name, items in by_split.items()},
        "all": part(everything),
    }


def _share(part: int | None, whole: int) -> float | None:
    return None if part is None or whole == 0 else round(part / whole, 4)


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def format_report(report: dict[str, Any]) -> str:
    """The data report as a short table for the terminal."""
    lines = [
        f"rows read            {report['rows_in']:>8}",
        f"rows kept            {report['rows_kept']:>8}",
        f"chat examples        {report['examples']:>8}   (dialogues: {report['dialogue_turns'].replace('_', '-')})",
    ]
    lines += [f"  dropped: {reason:<22}{count:>6}" for reason, count in report["dropped"].items()]
    lines.append(
        f"flagged              english-only {report['flagged']['english_only']}, "
        f"code-mixed {report['flagged']['code_mixed']} (policy: {report['english_policy']})"
    )
    splits = report["splits"]
    groups = report["groups"]
    lines.append("splits (examples/groups) " + ", ".join(f"{name} {splits[name]}/{groups[name]}" for name in SPLITS))
    lines.append("sub-corpora          " + ", ".join(f"{k} {v}" for k, v in report["subcorpora"].items()))
    stats = report["token_lengths"]
    if stats:
        lines.append(
            "tokens per example   " + ", ".join(f"{key} {stats[key]}" for key in ("min", "median", "p95", "p99", "max"))
        )
    budget = report.get("token_budget")  # absent from reports written before it existed
    if budget and budget["system_prompt_tokens"] is not None:
        by_split = ", ".join(f"{name} {_percent(budget[name]['prompt_share'])}" for name in SPLITS)
        lines.append(
            f"system prompt        {budget['system_prompt_tokens']} tokens per example = "
            f"{_percent(budget['all']['prompt_share'])} of all tokens ({by_split})"
        )
        lines.append(f"answers (trained)    {_percent(budget['train']['answer_share'])} of train tokens")
    lines.append(f"length policy        {report['length_policy']['action']}")
    return "\n".join(lines)

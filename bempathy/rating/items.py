"""What raters rate: the criteria, the items (one prompt, two answers), their ids, gold checks.

Kept apart from ``human_eval`` (the service) because items are pure data: built from the logs or from
files, identical in every process, so two app processes agree on ids and on the A/B order.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bempathy.prompts import SYSTEM_PROMPT, system_prompt_or_default
from bempathy.runs import system_prompt_of
from bempathy.storage.store import Store

CRITERIA: dict[str, dict[str, Any]] = {
    "empathy": {
        "label_bn": "সহমর্মিতা",
        "label_en": "Empathy",
        "anchors": {
            1: ("অনুভূতিকে উপেক্ষা বা তুচ্ছ করে; ঠান্ডা বা দোষারোপের সুর।", "Ignores or dismisses the feelings; cold or blaming."),
            2: (
                "অনুভূতির কথা নামমাত্র; বোঝার চেষ্টা খুব কম।",
                "Mentions feelings only in passing; little understanding.",
            ),
            3: ("অনুভূতি স্বীকার করে, তবে সাধারণ বা গৎবাঁধা ভাবে।", "Acknowledges the feelings, but in a generic, formulaic way."),
            4: ("নির্দিষ্ট অনুভূতিটা বুঝে উষ্ণভাবে স্বীকৃতি দেয়।", "Recognises the specific feelings and validates them warmly."),
            5: (
                "গভীরভাবে বোঝে; মানুষটির পরিস্থিতির সঙ্গে মিলিয়ে আন্তরিক সহমর্মিতা দেখায়।",
                "Deep, sincere understanding, tailored to this person's situation.",
            ),
        },
    },
    "tone": {
        "label_bn": "ভাষা ও সুর",
        "label_en": "Tone",
        "anchors": {
            1: ("রূঢ়, অসম্মানজনক বা ভাঙা ভাষা; বেশির ভাগই বাংলায় নয়।", "Harsh, disrespectful or broken; mostly not in Bengali."),
            2: ("আড়ষ্ট বা যান্ত্রিক; অনেক ভুল বা অকারণ ইংরেজি।", "Stiff or robotic; many errors or needless English."),
            3: ("ভদ্র ও বোধগম্য, তবে কিছুটা অস্বাভাবিক।", "Polite and understandable, but somewhat unnatural."),
            4: ("নরম, সম্মানজনক, স্বাভাবিক বাংলা; সামান্য ত্রুটি।", "Gentle, respectful, natural Bengali; minor slips."),
            5: (
                "পুরোপুরি স্বাভাবিক, উষ্ণ ও সম্মানজনক বাংলা, যেন যত্নশীল কোনো মানুষ কথা বলছেন।",
                "Fully natural, warm, respectful Bengali, like a caring person talking.",
            ),
        },
    },
    "helpfulness": {
        "label_bn": "সহায়কতা",
        "label_en": "Helpfulness",
        "anchors": {
            1: ("কোনো কাজে আসে না; প্রসঙ্গের বাইরে বা ক্ষতিকর পরামর্শ।", "Useless, off-topic or harmful advice."),
            2: ("খুব সাধারণ বা অস্পষ্ট; কাজে লাগানো কঠিন।", "Very generic or vague; hard to act on."),
            3: ("কিছু কাজের কথা আছে, তবে অসম্পূর্ণ।", "Some useful points, but incomplete."),
            4: ("প্রাসঙ্গিক, বাস্তবসম্মত পরামর্শ বা পরের পদক্ষেপ দেয়।", "Relevant, practical suggestions or next steps."),
            5: (
                "পরিস্থিতির সঙ্গে মানানসই, স্পষ্ট ও নিরাপদ পদক্ষেপ; দরকার হলে পেশাদার সাহায্যের কথা বলে।",
                "Clear, safe steps that fit the situation; points to professional help when needed.",
            ),
        },
    },
}
CRITERIA_NAMES: tuple[str, ...] = tuple(CRITERIA)
PREFERENCES: dict[str, tuple[str, str]] = {
    "A": ("উত্তর A ভালো", "Answer A is better"),
    "B": ("উত্তর B ভালো", "Answer B is better"),
    "tie": ("দুটোই সমান", "Both are about equal"),
    "both_bad": ("দুটোই খারাপ", "Both are bad"),
}
GOOD, BAD = "gold:good", "gold:bad"  # variant names of gold answers; never a model's name


class HumanEvalError(ValueError):
    """A setup problem an admin must fix (unknown experiment, bad pairs/gold file): one clear line."""


@dataclass(frozen=True)
class Item:
    """One prompt and two answers; ``variants`` are the two answer keys in canonical order."""

    item_id: str
    prompt: str
    answers: dict[str, str]
    kind: str  # "run" (GeneratedResponses), "pairs" (imported file) or "gold"
    example_id: str | None = None
    topic: str | None = None
    response_ids: dict[str, str] = field(default_factory=dict)
    system_prompt: str = SYSTEM_PROMPT  # the one the answers were generated under (preference rows carry it)

    @property
    def variants(self) -> tuple[str, str]:
        first, second = self.answers
        return first, second


def stable_hash(*parts: object) -> str:
    """Hex sha256 of the parts (separated so ("ab", "c") != ("a", "bc")): equal in every process."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).hexdigest()


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts: seeded 'randomness' two processes agree on."""
    return int(stable_hash(*parts)[:15], 16) / 16**15


def make_item_id(evaluation_id: str | None, example_key: str, variants: tuple[str, str] | list[str]) -> str:
    """Stable across processes and restarts; the variant order does not matter."""
    return stable_hash("item", evaluation_id, example_key, *sorted(variants))[:16]


def shown_order(seed: int, item: Item, rater_id: str) -> tuple[str, str]:
    """Which variant is A and which is B for this rater: random-looking, but recomputable anywhere."""
    first, second = item.variants
    return (second, first) if unit_hash(seed, "ab", item.item_id, rater_id) < 0.5 else (first, second)


def gold_outcome(scores: dict[str, dict[str, int]], preferred_variant: str | None) -> str:
    """``passed`` when the good answer was preferred, or (tie/both_bad) scored higher on every criterion.

    Preferring the bad answer, or scoring it at least as high on some criterion without preferring
    the good one, is ``failed``.
    """
    if preferred_variant == GOOD:
        return "passed"
    if preferred_variant is None and all(scores[GOOD][c] > scores[BAD][c] for c in CRITERIA_NAMES):
        return "passed"
    return "failed"


def rating_record(
    item: Item,
    *,
    experiment_id: str | None,
    evaluation_id: str | None,
    rater_id: str,
    shown: tuple[str, str],
    scores: dict[str, dict[str, int]],
    preference: str,
    comment: str,
    seconds_spent: float | None,
) -> dict[str, Any]:
    """One ``HumanEvaluations`` record (without its slot): the schema the service and the simulated crowd share."""
    preferred = {"A": shown[0], "B": shown[1]}.get(preference)
    record = {
        "item_id": item.item_id,
        "experiment_id": experiment_id,
        "evaluation_id": evaluation_id,
        "rater_id": rater_id,
        "shown": list(shown),
        "scores": scores,
        "preference": preference,
        "preferred_variant": preferred,
        "comment": comment,
        "seconds_spent": seconds_spent,
        "gold": gold_outcome(scores, preferred) if item.kind == "gold" else None,
        "example_id": item.example_id,
    }
    if item.response_ids:
        record["response_ids"] = item.response_ids
    return record


def resolve_evaluation(store: Store, experiment_id: str | None, evaluation_id: str | None) -> tuple[str, str] | None:
    """(experiment_id, evaluation_id) to rate; None if no experiment was given and none is ready yet.

    ``experiment_id`` None picks the latest completed experiment that has an evaluation.
    """
    if experiment_id is None:
        ready = [
            exp
            for exp in store.experiments.all()
            if exp.get("status") == "completed" and (exp.get("metrics") or {}).get("evaluation_id")
        ]
        if not ready:
            return None
        latest = max(ready, key=lambda e: (e["metrics"].get("evaluated_at") or "", e.get("timestamp") or ""))
        return latest["id"], evaluation_id or latest["metrics"]["evaluation_id"]
    experiment = store.experiments.get(experiment_id)
    if experiment is None:
        raise HumanEvalError(f"unknown experiment {experiment_id!r} in {store.experiments.path}")
    evaluation_id = evaluation_id or (experiment.get("metrics") or {}).get("evaluation_id")
    if not evaluation_id:
        raise HumanEvalError(f"experiment {experiment_id!r} has no evaluation yet (run the evaluate stage)")
    return experiment_id, evaluation_id


def sampled_pairs(store: Store, evaluation_id: str, variants: tuple[str, str]) -> list[tuple[str, str]]:
    """The variant pairs that ``variants`` names in this evaluation: itself when both were logged; in a sampled
    comparison (``--eval_sample_variants sft,tuned``: ``sft_sample1``, ``tuned_sample1``, ...) every k-th pair,
    so each sampled answer meets the other model's answer of the same rank. Unknown names give ``[variants]``,
    whose items :func:`run_items` then refuses with the names it found."""
    logged = {str(r.get("variant")) for r in store.responses.find(evaluation_id=evaluation_id)}
    first, second = variants
    if {first, second} <= logged:
        return [variants]
    prefix = f"{first}_sample"
    ranks = [name[len(prefix) :] for name in logged if name.startswith(prefix) and name[len(prefix) :].isdecimal()]
    ranks = [rank for rank in ranks if f"{second}_sample{rank}" in logged]
    ranks.sort(key=lambda rank: (len(rank), rank))  # sample2 before sample10
    return [(f"{first}_sample{k}", f"{second}_sample{k}") for k in ranks] or [variants]


def run_items(store: Store, experiment_id: str, evaluation_id: str, variants: tuple[str, str]) -> list[Item]:
    """One item per prompt of the evaluation that has an answer from both variants, in log order."""
    system_prompt = system_prompt_of((store.experiments.get(experiment_id) or {}).get("config"))
    by_example: dict[str, dict[str, dict]] = {}
    for record in store.responses.find(evaluation_id=evaluation_id):
        if record.get("experiment_id") not in (experiment_id, None) or record.get("variant") not in variants:
            continue
        example_id = record.get("example_id")
        key = str(example_id) if example_id is not None else "text:" + stable_hash(record.get("input_text"))
        by_example.setdefault(key, {}).setdefault(record["variant"], record)
    items = []
    for key, answers in by_example.items():
        if len(answers) < 2:
            continue
        first = answers[variants[0]]
        items.append(
            Item(
                item_id=make_item_id(evaluation_id, key, variants),
                prompt=first.get("input_text") or "",
                answers={v: answers[v].get("response_text") or "" for v in variants},
                kind="run",
                example_id=first.get("example_id"),
                topic=first.get("topic"),
                response_ids={v: answers[v].get("id") for v in variants},
                system_prompt=system_prompt,
            )
        )
    if not items:
        present = sorted({r.get("variant") for r in store.responses.find(evaluation_id=evaluation_id)} - {None})
        raise HumanEvalError(
            f"evaluation {evaluation_id!r} has no prompt answered by both {variants[0]!r} and {variants[1]!r} "
            f"(variants logged: {present or 'none'})"
        )
    return items


def _jsonl(path: str | Path) -> list[tuple[int, dict]]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HumanEvalError(f"{path}: cannot read ({exc})") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise HumanEvalError(f"{path}:{number}: not JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise HumanEvalError(f"{path}:{number}: expected a JSON object")
        rows.append((number, row))
    return rows


def _text(path: str | Path, number: int, row: dict, key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HumanEvalError(f"{path}:{number}: {key!r} must be a non-empty string")
    return unicodedata.normalize("NFC", value.strip())


def load_pairs(path: str | Path, evaluation_id: str) -> list[Item]:
    """Items from ``{"id"?, "prompt", "answers": {"variantX": "...", "variantY": "..."}, "system"?}`` lines.

    ``system`` is the system prompt the answers were generated under (default: the project's).
    """
    items, seen = [], set()
    for number, row in _jsonl(path):
        prompt = _text(path, number, row, "prompt")
        answers = row.get("answers")
        if not (isinstance(answers, dict) and len(answers) == 2 and all(isinstance(k, str) for k in answers)):
            raise HumanEvalError(f"{path}:{number}: 'answers' must map exactly two variant names to answers")
        variants = tuple(sorted(answers))
        texts = {v: _text(path, number, answers, v) for v in variants}
        key = str(row["id"]) if row.get("id") is not None else "text:" + stable_hash(prompt)
        item_id = make_item_id(evaluation_id, key, variants)
        if item_id in seen:
            raise HumanEvalError(f"{path}:{number}: duplicate item (same id or prompt as an earlier line)")
        seen.add(item_id)
        system = row.get("system")
        if system is not None and not isinstance(system, str):
            raise HumanEvalError(f"{path}:{number}: 'system' must be a string")
        items.append(
            Item(
                item_id,
                prompt,
                texts,
                "pairs",
                example_id=key,
                topic=row.get("topic"),
                system_prompt=system_prompt_or_default(system),
            )
        )
    if not items:
        raise HumanEvalError(f"{path}: no pairs")
    return items


def load_gold(path: str | Path, evaluation_id: str | None) -> list[Item]:
    """Gold checks from ``{"id", "prompt", "good", "bad"}`` lines; ids are hashed so raters cannot spot them."""
    items = []
    for number, row in _jsonl(path):
        prompt = _text(path, number, row, "prompt")
        key = str(row.get("id") or stable_hash(prompt))
        answers = {GOOD: _text(path, number, row, "good"), BAD: _text(path, number, row, "bad")}
        items.append(Item(make_item_id(evaluation_id, "gold:" + key, (GOOD, BAD)), prompt, answers, "gold", key))
    return items

"""Preference data from the crowd for a DPO or KTO stage: which ratings count, and how many each filter removed.

Why a module of its own: a preference model learns whatever the rows say, so the rows must say only what raters
agreed on. Gold items (quality checks), simulated ratings, ties and "both bad", and raters the existing checks
flag (failed gold, constant scores, too fast: :mod:`bempathy.rating.stats`) are left out before counting votes;
an item then needs at least ``min_raters`` A/B votes and a strict majority. Every filter's count is kept, so the
export can say what it removed instead of silently shrinking the data.

With ``best_vs_worst`` (best-of-N through ratings) the DPO rows are one per prompt instead: the answer that won
most of its rated pairs against the one that lost most, over every pair of the prompt's answers that was rated.

DPO rows: TRL's conversational preference format, ``{"prompt": [system, user], "chosen": [assistant],
"rejected": [assistant]}``. KTO rows: ``{"prompt": [system, user], "completion": [assistant], "label": bool}``,
one per answer whose per-criterion median score over the kept raters is at least ``desirable_at`` on every
criterion (True) or at most ``undesirable_at`` on every criterion (False); answers in between are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from statistics import median

from bempathy.rating.items import CRITERIA_NAMES, Item
from bempathy.rating.stats import summarize

LOSSES = ("dpo", "kto")


@dataclass(frozen=True)
class PreferenceFilters:
    """What a rating must pass to become preference data (defaults: the strict, documented choice)."""

    drop_flagged: bool = True  # raters flagged by the gold / constant-score / speed checks
    include_simulated: bool = False  # ratings marked ``simulated: true`` are never counted as human by default
    min_raters: int = 1  # an item needs at least this many kept A/B votes (the agreement filter)
    desirable_at: int = 4  # KTO: every criterion's median at or above this -> desirable
    undesirable_at: int = 2  # KTO: every criterion's median at or below this -> undesirable
    best_vs_worst: bool = False  # DPO: one pair per prompt, its best answer against its worst (best-of-N)

    def __post_init__(self) -> None:
        if self.min_raters < 1:
            raise ValueError("min_raters must be 1 or more")
        if not 1 <= self.undesirable_at < self.desirable_at <= 5:
            raise ValueError("need 1 <= undesirable_at < desirable_at <= 5")


@dataclass
class PreferenceData:
    """The rows, and what each filter removed (ratings for rating filters, items or answers for the others)."""

    loss: str
    rows: list[dict]
    removed: Counter = field(default_factory=Counter)
    kept_ratings: int = 0

    def report(self) -> str:
        """One line per filter that removed anything, for the command's output."""
        names = {
            "other_item": "ratings of items not in this evaluation",
            "gold": "gold (quality-check) ratings",
            "simulated": "simulated ratings",
            "flagged_rater": "ratings by flagged raters",
            "no_preference": "ties and 'both bad'",
            "too_few_raters": "items with fewer kept votes than --min-raters",
            "no_majority": "items whose votes split evenly",
            "in_between": "answers neither desirable nor undesirable",
            "same_answer": "items whose two answers are the same text (best-vs-worst)",
            "no_clear_best": "prompts whose best or worst answer is tied (best-vs-worst)",
        }
        lines = [f"{self.kept_ratings} ratings kept"]
        lines += [f"removed {self.removed[key]} {text}" for key, text in names.items() if self.removed[key]]
        return "\n".join(lines)


def _prompt(item: Item) -> list[dict]:
    return [{"role": "system", "content": item.system_prompt}, {"role": "user", "content": item.prompt}]


def _kept(
    items: dict[str, Item], records: list[dict], filters: PreferenceFilters, removed: Counter
) -> list[tuple[Item, dict]]:
    """The (item, rating) pairs that pass the rating filters; each removal counted under its reason."""
    # The quality checks over this evaluation's and the gold items' ratings (flags need no intervals: no bootstrap).
    judged = [r for r in records if r.get("item_id") in items and (filters.include_simulated or not r.get("simulated"))]
    flagged = set(summarize(judged, bootstrap_resamples=0)["flagged_raters"]) if filters.drop_flagged else set()
    kept = []
    for record in records:
        item = items.get(record.get("item_id"))
        if item is None:
            removed["other_item"] += 1
        elif record.get("gold") is not None or item.kind == "gold":
            removed["gold"] += 1
        elif record.get("simulated") and not filters.include_simulated:
            removed["simulated"] += 1
        elif str(record.get("rater_id")) in flagged:
            removed["flagged_rater"] += 1
        else:
            kept.append((item, record))
    return kept


def _votes(items: dict[str, Item], records: list[dict], filters: PreferenceFilters, data: PreferenceData) -> dict:
    """Kept A/B votes per item id (ties and "both bad" removed and counted)."""
    votes: dict[str, Counter] = {}
    for item, record in _kept(items, records, filters, data.removed):
        if record.get("preferred_variant") not in item.answers:
            data.removed["no_preference"] += 1
            continue
        data.kept_ratings += 1
        votes.setdefault(item.item_id, Counter())[record["preferred_variant"]] += 1
    return votes


def _row(item: Item, chosen: str, rejected: str) -> dict:
    """TRL's conversational DPO row: the item's prompt, the chosen and the rejected answer's text."""
    return {
        "prompt": _prompt(item),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


def dpo_rows(items: dict[str, Item], records: list[dict], filters: PreferenceFilters | None = None) -> PreferenceData:
    """One chosen/rejected row per item whose kept A/B votes reach ``min_raters`` and have a strict majority
    (with ``best_vs_worst``: one per prompt, :func:`best_vs_worst_rows`)."""
    filters = filters or PreferenceFilters()
    if filters.best_vs_worst:
        return best_vs_worst_rows(items, records, filters)
    data = PreferenceData("dpo", [])
    for item_id, tally in _votes(items, records, filters, data).items():
        item = items[item_id]
        first, second = item.variants
        if tally[first] + tally[second] < filters.min_raters:
            data.removed["too_few_raters"] += 1
        elif tally[first] == tally[second]:
            data.removed["no_majority"] += 1
        else:
            chosen, rejected = (first, second) if tally[first] > tally[second] else (second, first)
            data.rows.append(_row(item, item.answers[chosen], item.answers[rejected]))
    return data


def best_vs_worst_rows(
    items: dict[str, Item], records: list[dict], filters: PreferenceFilters | None = None
) -> PreferenceData:
    """Best-of-N through ratings: one chosen/rejected row per prompt, its answer with the most net wins (votes
    for it minus votes against it, over every rated pair of the prompt's answers) against the one with the fewest.

    Why: when N sampled answers are rated in pairs, one pair's majority is mostly rater noise if the two rarely
    differ; ranking each prompt's answers over all their pairs keeps the contrast the crowd agrees on. Answers are
    told apart by their text (two samples that came out the same are one answer); an item needs ``min_raters``
    kept votes to count, as in :func:`dpo_rows`, and a prompt a unique best and worst answer (else ``no_clear_best``).
    """
    filters = filters or PreferenceFilters()
    data = PreferenceData("dpo", [])
    net: dict[tuple, Counter] = {}  # per prompt: each answer text's votes for minus votes against
    example: dict[tuple, Item] = {}
    for item_id, tally in _votes(items, records, filters, data).items():
        item = items[item_id]
        first, second = item.variants
        if item.answers[first] == item.answers[second]:
            data.removed["same_answer"] += 1
            continue
        if tally[first] + tally[second] < filters.min_raters:
            data.removed["too_few_raters"] += 1
            continue
        prompt = (
            ("id", str(item.example_id)) if item.example_id is not None else ("text", item.prompt),
            item.system_prompt,
        )
        margin = tally[first] - tally[second]
        net.setdefault(prompt, Counter()).update({item.answers[first]: margin, item.answers[second]: -margin})
        example.setdefault(prompt, item)
    for prompt, score in net.items():
        ranked = sorted(score.items(), key=lambda pair: pair[1])
        if len(ranked) < 2 or ranked[0][1] == ranked[1][1] or ranked[-1][1] == ranked[-2][1]:
            data.removed["no_clear_best"] += 1
        else:
            (worst, _), (best, _) = ranked[0], ranked[-1]
            data.rows.append(_row(example[prompt], best, worst))
    return data


def kto_rows(items: dict[str, Item], records: list[dict], filters: PreferenceFilters | None = None) -> PreferenceData:
    """One labelled row per answer with at least ``min_raters`` kept scores whose medians are all high or low."""
    filters = filters or PreferenceFilters()
    data = PreferenceData("kto", [])
    scores: dict[tuple[str, str], list[dict]] = {}
    for item, record in _kept(items, records, filters, data.removed):
        data.kept_ratings += 1
        for variant, by_criterion in (record.get("scores") or {}).items():
            if variant in item.answers and isinstance(by_criterion, dict):
                scores.setdefault((item.item_id, variant), []).append(by_criterion)
    for (item_id, variant), given in scores.items():
        complete = [s for s in given if all(isinstance(s.get(c), int) for c in CRITERIA_NAMES)]
        if len(complete) < filters.min_raters:
            data.removed["too_few_raters"] += 1
            continue
        medians = [median(s[c] for s in complete) for c in CRITERIA_NAMES]
        if all(m >= filters.desirable_at for m in medians):
            label = True
        elif all(m <= filters.undesirable_at for m in medians):
            label = False
        else:
            data.removed["in_between"] += 1
            continue
        item = items[item_id]
        completion = [{"role": "assistant", "content": item.answers[variant]}]
        data.rows.append({"prompt": _prompt(item), "completion": completion, "label": label})
    return data


def preference_data(
    loss: str, items: dict[str, Item], records: list[dict], filters: PreferenceFilters | None = None
) -> PreferenceData:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if loss == "kto" and filters is not None and filters.best_vs_worst:
        raise ValueError("best-vs-worst makes DPO pairs; KTO labels single answers")
    return (dpo_rows if loss == "dpo" else kto_rows)(items, records, filters)


__all__ = [
    "LOSSES",
    "PreferenceData",
    "PreferenceFilters",
    "best_vs_worst_rows",
    "dpo_rows",
    "kto_rows",
    "preference_data",
]

"""Preference data from the ratings: what each filter removes, DPO pairs by majority, KTO labels by median score,
and the export command that prints the counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bempathy.human_eval import main
from bempathy.rating.items import CRITERIA_NAMES, Item
from bempathy.rating.preferences import PreferenceFilters, dpo_rows, kto_rows, preference_data
from bempathy.storage.store import Store
from tests.test_human_eval import _rated_logs

ITEMS = {f"i{n}": Item(f"i{n}", f"প্রশ্ন {n}", {"base": f"সাধারণ {n}", "tuned": f"সহমর্মী {n}"}, "run") for n in range(4)}
ITEMS["g"] = Item("g", "সোনার প্রশ্ন", {"good": "ভালো", "bad": "খারাপ"}, "gold")


def vote(rater: str, item: str, preferred: str | None, scores: dict | None = None, **extra) -> dict:
    outcome = {"base": "A", "tuned": "B", None: "tie"}[preferred]
    given = scores or {"base": 3, "tuned": 3}
    return {
        "rater_id": rater,
        "item_id": item,
        "shown": ["base", "tuned"],
        "preference": outcome,
        "preferred_variant": preferred,
        "scores": {variant: dict.fromkeys(CRITERIA_NAMES, value) for variant, value in given.items()},
        "seconds_spent": 20.0,
        "gold": None,
        **extra,
    }


def _fast(rater: str, item: str, preferred: str) -> dict:
    """A rater the speed check flags (median under 3 s); its varied scores keep the constant-score check quiet."""
    scores = {"base": 1 + int(item[1:]) % 4, "tuned": 5 - int(item[1:]) % 4}
    return {**vote(rater, item, preferred, scores), "seconds_spent": 0.5}


RECORDS = [
    vote("asha", "i0", "tuned"),
    vote("bina", "i0", "tuned"),
    vote("chaya", "i0", "base"),  # i0: 2 to 1 for tuned
    vote("asha", "i1", None),  # a tie
    vote("asha", "i2", "tuned"),
    vote("bina", "i2", "base"),  # i2: split evenly
    vote("asha", "i3", "tuned", simulated=True),  # simulated: not human
    {**vote("asha", "g", None), "gold": "passed"},  # a quality check
    vote("dipu", "nope", "tuned"),  # an item of another evaluation
    *[_fast("fast", item, "base") for item in ("i0", "i1", "i2", "i3")],  # flagged: too fast
]


def test_dpo_keeps_majorities_only_and_counts_every_filter():
    data = dpo_rows(ITEMS, RECORDS)
    assert [row["chosen"][0]["content"] for row in data.rows] == ["সহমর্মী 0"]
    assert data.rows[0]["rejected"] == [{"role": "assistant", "content": "সাধারণ 0"}]
    assert [m["role"] for m in data.rows[0]["prompt"]] == ["system", "user"]
    removed = dict(data.removed)
    assert removed == {
        "other_item": 1,
        "gold": 1,
        "simulated": 1,
        "flagged_rater": 4,
        "no_preference": 1,
        "no_majority": 1,
    }
    assert data.kept_ratings == 5
    report = data.report()
    assert "removed 4 ratings by flagged raters" in report and "removed 1 items whose votes split evenly" in report


def test_the_filters_can_be_relaxed_and_the_agreement_filter_tightened():
    kept = dpo_rows(ITEMS, RECORDS, PreferenceFilters(drop_flagged=False, include_simulated=True))
    # with the fast rater: i0 2-2 (split), i1 0-1 (base), i2 1-2 (base), i3 1-1 (split)
    assert sorted(row["chosen"][0]["content"] for row in kept.rows) == ["সাধারণ 1", "সাধারণ 2"]
    strict = dpo_rows(ITEMS, RECORDS, PreferenceFilters(min_raters=4))
    assert strict.rows == [] and strict.removed["too_few_raters"] == 2


def test_kto_labels_answers_by_their_median_scores():
    records = [
        vote("asha", "i0", "tuned", {"base": 2, "tuned": 5}),
        vote("bina", "i0", "tuned", {"base": 1, "tuned": 4}),
        vote("asha", "i1", None, {"base": 3, "tuned": 4}),
    ]
    data = kto_rows(ITEMS, records)
    labels = {row["completion"][0]["content"]: row["label"] for row in data.rows}
    assert labels == {"সহমর্মী 0": True, "সাধারণ 0": False, "সহমর্মী 1": True}
    assert data.removed["in_between"] == 1  # the base answer of i1, scored 3
    assert set(data.rows[0]) == {"prompt", "completion", "label"}
    assert kto_rows(ITEMS, records, PreferenceFilters(min_raters=2)).removed["too_few_raters"] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_raters": 0}, "min_raters"), ({"desirable_at": 2, "undesirable_at": 2}, "undesirable_at")],
)
def test_bad_filter_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PreferenceFilters(**kwargs)
    with pytest.raises(ValueError, match="loss must be one of dpo, kto"):
        preference_data("ppo", ITEMS, [])


def test_export_writes_kto_rows_and_prints_what_each_filter_removed(tmp_path: Path, capsys):
    store = Store(tmp_path / "logs")
    _rated_logs(store)
    out = tmp_path / "kto.jsonl"
    assert main(["export", "--logs-dir", str(store.logs_dir), "--output", str(out), "--loss", "kto"]) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert f"{len(rows)} labelled answers (KTO)" in printed and "ratings kept" in printed
    assert all(set(row) == {"prompt", "completion", "label"} for row in rows)
    assert main(["export", "--logs-dir", str(store.logs_dir), "--output", str(out), "--min-raters", "3"]) == 0
    assert "0 preference pairs" in capsys.readouterr().out  # two raters per item: none reaches three
    bad = ["export", "--logs-dir", str(store.logs_dir), "--output", str(tmp_path / "x.jsonl"), "--min-raters", "0"]
    assert main(bad) == 2
    assert "min_raters must be 1 or more" in capsys.readouterr().err and not (tmp_path / "x.jsonl").exists()


def _sample_items(prompt: str, texts: dict[str, str]) -> dict[str, Item]:
    """Every pair of a prompt's sampled answers as one item (a candidates round rated in all its pairs)."""
    names = sorted(texts)
    pairs = [(a, b) for k, a in enumerate(names) for b in names[k + 1 :]]
    return {
        f"{prompt}:{a},{b}": Item(f"{prompt}:{a},{b}", prompt, {a: texts[a], b: texts[b]}, "run", example_id=prompt)
        for a, b in pairs
    }


def _pair_vote(rater: str, item: Item, preferred: str | None) -> dict:
    first, second = item.variants
    outcome = {first: "A", second: "B", None: "tie"}[preferred]
    return {
        **vote(rater, item.item_id, None),
        "shown": [first, second],
        "preference": outcome,
        "preferred_variant": preferred,
    }


def test_best_vs_worst_makes_one_pair_per_prompt_from_net_wins_over_all_its_rated_pairs():
    """p1: s1 beats s2 and s3, s2 beats s3 (net +2, 0, -2) -> one row, s1 over s3 (per item there would be
    three); p2: a split pair and a tie -> no clear best; p3: a single rated pair -> its majority."""
    items = {
        **_sample_items("p1", {"s1": "পাশে আছি ১", "s2": "মাঝারি ১", "s3": "খারাপ ১"}),
        **_sample_items("p2", {"s1": "এক", "s2": "দুই", "s3": "তিন"}),
        **_sample_items("p3", {"s1": "ভালো ৩", "s2": "মন্দ ৩"}),
    }
    by = {item_id: item for item_id, item in items.items()}
    records = [
        _pair_vote("asha", by["p1:s1,s2"], "s1"),
        _pair_vote("bina", by["p1:s1,s3"], "s1"),
        _pair_vote("chaya", by["p1:s2,s3"], "s2"),
        _pair_vote("asha", by["p2:s1,s2"], "s1"),
        _pair_vote("bina", by["p2:s1,s2"], "s2"),  # split
        _pair_vote("asha", by["p2:s1,s3"], None),  # a tie
        _pair_vote("asha", by["p3:s1,s2"], "s1"),
    ]
    data = dpo_rows(items, records, PreferenceFilters(best_vs_worst=True))
    pairs = {(row["chosen"][0]["content"], row["rejected"][0]["content"]) for row in data.rows}
    assert pairs == {("পাশে আছি ১", "খারাপ ১"), ("ভালো ৩", "মন্দ ৩")}
    assert data.removed["no_clear_best"] == 1 and data.removed["no_preference"] == 1 and data.kept_ratings == 6
    assert [m["content"] for m in data.rows[0]["prompt"]][1] in {"p1", "p3"}
    # the same votes item by item: p1's three majorities and p3's, p2's split item removed
    assert len(dpo_rows(items, records).rows) == 4
    # the agreement filter is per item, as item by item: one vote per pair is not two raters agreeing
    strict = dpo_rows(items, records, PreferenceFilters(best_vs_worst=True, min_raters=2))
    assert strict.rows == [] and strict.removed["too_few_raters"] == 4 and strict.removed["no_clear_best"] == 1


def test_best_vs_worst_tells_answers_apart_by_text_and_prompts_by_id_or_text():
    """Two samples that came out the same are one answer (their pair is no evidence); prompts without an example
    id are grouped by their text and system prompt, so equal texts under other system prompts stay apart."""
    same = _sample_items("p", {"s1": "একই", "s2": "একই", "s3": "ভিন্ন"})
    no_id = {
        key: Item(key, "একই প্রশ্ন", item.answers, "pairs", system_prompt=system)
        for system in ("সিস্টেম ক", "সিস্টেম খ")
        for key, item in [(f"{system}:{k}", v) for k, v in _sample_items("x", {"a": "ভালো", "b": "মন্দ"}).items()]
    }
    items = {**same, **no_id}
    records = [
        _pair_vote("asha", same["p:s1,s2"], "s1"),  # the same text on both sides
        _pair_vote("asha", same["p:s1,s3"], "s1"),
        _pair_vote("bina", same["p:s2,s3"], "s2"),
        *[_pair_vote("asha", item, "a") for item in no_id.values()],
    ]
    data = dpo_rows(items, records, PreferenceFilters(best_vs_worst=True))
    pairs = sorted(
        (r["prompt"][0]["content"], r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in data.rows
    )
    assert sorted((c, r) for _, c, r in pairs) == sorted([("ভালো", "মন্দ"), ("ভালো", "মন্দ"), ("একই", "ভিন্ন")])
    assert {system for system, _, _ in pairs} >= {"সিস্টেম ক", "সিস্টেম খ"}
    assert data.removed["same_answer"] == 1
    assert all(r["chosen"] != r["rejected"] for r in data.rows)
    with pytest.raises(ValueError, match="best-vs-worst makes DPO pairs"):
        preference_data("kto", items, records, PreferenceFilters(best_vs_worst=True))

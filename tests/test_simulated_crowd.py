"""The simulated crowd: deterministic, has the documented taste, fills every item to K ratings like the service,
writes the service's record schema marked simulated (which the preference export drops), and its command."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bempathy.rating.items import HumanEvalError, Item, run_items, shown_order, unit_hash
from bempathy.rating.preferences import PreferenceFilters, preference_data
from bempathy.rating.service import RatingService
from bempathy.rating.simulated import counsellor_hits, main, repetition, simulate_round, simulated_rating, taste
from bempathy.storage.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
KIND = "আপনার কষ্টটা আমি বুঝতে পারছি। আমি আপনার পাশে আছি; চাইলে একজন কাউন্সেলরের সাহায্য নিতে পারেন। প্রশ্ন {i}"
LOOP = "ঠিক আছে ঠিক আছে ঠিক আছে ঠিক আছে ঠিক আছে ঠিক আছে {i}"
# Close pairs: one counsellor word each and no repeats, so only the raters' noise decides.
CLOSE = {"base": "সময় নিন, আপনার কষ্ট কমবে {i}।", "tuned": "ধীরে চলুন, আপনার কষ্ট কমে যাবে {i}।"}


def make_run(store: Store, n: int = 6, close: int = 0, evaluation_id: str = "ev1") -> str:
    """A completed experiment whose evaluation has ``n`` clear pairs (kind tuned, looping base) and ``close`` ties."""
    metrics = {"evaluation_id": evaluation_id, "evaluated_at": "2026-01-01T00:00:00"}
    experiment_id = store.experiments.insert({"id": "exp1", "status": "completed", "metrics": metrics})
    texts = [{"base": LOOP, "tuned": KIND}] * n + [CLOSE] * close
    store.responses.insert_many(
        [
            {
                "id": f"{evaluation_id}-{variant}-{i}",
                "experiment_id": experiment_id,
                "evaluation_id": evaluation_id,
                "variant": variant,
                "example_id": f"ex{i}",
                "input_text": f"প্রশ্ন {i}: আমি খুব একা বোধ করি।",
                "response_text": pair[variant].format(i=i),
            }
            for i, pair in enumerate(texts)
            for variant in ("base", "tuned")
        ]
    )
    return experiment_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield (store := Store(tmp_path / "logs", ratings_fold_interval=None))
    store.ratings.close()


def rated(store: Store, n: int = 6, close: int = 0, **kwargs) -> tuple[list[Item], dict]:
    experiment_id = make_run(store, n, close)
    items = run_items(store, experiment_id, "ev1", ("base", "tuned"))
    settings = {"raters": 5, "ratings_per_item": 3, "seed": 0, **kwargs}
    return items, simulate_round(store, items, experiment_id=experiment_id, evaluation_id="ev1", **settings)


def content(records: list[dict]) -> list[dict]:
    """Records without what the journal stamps on (a fresh id and the time)."""
    return sorted(
        ({k: v for k, v in r.items() if k not in ("id", "timestamp")} for r in records),
        key=lambda r: (r["item_id"], r["rater_id"]),
    )


def test_the_taste_reads_bengali_words_whole_and_penalises_loops() -> None:
    assert counsellor_hits("আপনার কষ্টটা বুঝতে পারছি") == 2  # a `\w` split would cut বুঝতে at its vowel signs
    assert counsellor_hits("I understand how you feel; I am here for you.") == 3
    assert counsellor_hits("আজ আবহাওয়া ভালো") == 0
    assert repetition("ঠিক আছে ঠিক আছে ঠিক আছে ঠিক আছে") > 0.6 and repetition(KIND) == 0.0
    kind, loop = taste(KIND.format(i=0)), taste(LOOP.format(i=0))
    assert all(kind[c] > loop[c] for c in kind)
    assert taste("") == {"empathy": 1.0, "tone": 1.0, "helpfulness": 1.0}


def test_same_seed_same_records_other_seed_other_records(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        store = Store(tmp_path / name, ratings_fold_interval=None)
        rated(store, n=4, close=4, seed=seed)
        runs[name] = content(store.ratings.all())
        store.ratings.close()
    assert runs["a"] == runs["b"] and len(runs["a"]) == 24
    assert runs["a"] != runs["c"]


def test_counsellor_answers_win_and_raters_disagree_on_close_items(store: Store) -> None:
    items, _ = rated(store, n=10, close=10, raters=8, ratings_per_item=8)
    close_ids = {item.item_id for item in items if "ধীরে" in item.answers["tuned"]}
    records = store.ratings.all()
    clear = Counter(r["preferred_variant"] for r in records if r["item_id"] not in close_ids)
    assert clear["tuned"] >= 0.9 * sum(clear.values())
    by_item: dict[str, set] = {}
    for r in records:
        if r["item_id"] in close_ids:
            by_item.setdefault(r["item_id"], set()).add(r["preference"])
    assert sum(len(prefs) > 1 for prefs in by_item.values()) >= 3  # noise splits raters on several close items
    # Each rater's bias and noise are their own: the same answer gets different scores from different raters.
    given = [
        simulated_rating(items[0], f"sim-{k:02d}", seed=0, experiment_id=None, evaluation_id="ev1") for k in range(8)
    ]
    assert len({str(sorted(r["scores"]["tuned"].items())) for r in given}) > 1


def test_every_item_ends_with_exactly_k_ratings_one_per_rater(store: Store) -> None:
    items, counts = rated(store, n=5, close=2, raters=4, ratings_per_item=3)
    records = store.ratings.all()
    assert counts == {"written": 21, "items": 7, "raters": 4, "complete": 7, "short": 0}
    assert Counter(r["item_id"] for r in records) == dict.fromkeys((i.item_id for i in items), 3)
    assert len({(r["item_id"], r["rater_id"]) for r in records}) == len(records)
    assert all(sorted(r["slot"] for r in records if r["item_id"] == i.item_id) == ["0", "1", "2"] for i in items)
    assert set(Counter(r["rater_id"] for r in records).values()) <= {5, 6}  # spread evenly
    assert len({r["item_id"] for r in records[: len(items)]}) == len(items)  # fewest-rated first: breadth first
    again = simulate_round(store, items, raters=4, ratings_per_item=3, experiment_id=None, evaluation_id="ev1")
    assert again["written"] == 0 and len(store.ratings) == 21


def test_stored_ratings_count_toward_k(store: Store) -> None:
    experiment_id = make_run(store, n=3)
    svc = RatingService(store, experiment_id=experiment_id)
    item = svc.next_item("asha")
    assert svc.rate("asha", item["item_id"], (4, 4, 4), (2, 2, 2), "A")["ok"]
    items = run_items(store, experiment_id, "ev1", ("base", "tuned"))
    counts = simulate_round(
        store, items, raters=3, ratings_per_item=2, experiment_id=experiment_id, evaluation_id="ev1"
    )
    assert counts["written"] == 5 and Counter(r["item_id"] for r in store.ratings.all()) == dict.fromkeys(
        (i.item_id for i in items), 2
    )
    with pytest.raises(HumanEvalError, match="need at least 3 raters"):
        simulate_round(store, items, raters=2, ratings_per_item=3, experiment_id=None, evaluation_id="ev1")


def test_records_have_the_service_schema_and_are_marked_simulated(store: Store) -> None:
    experiment_id = make_run(store, n=3)
    svc = RatingService(store, experiment_id=experiment_id)
    item = svc.next_item("asha")
    assert svc.rate("asha", item["item_id"], (4, 4, 4), (2, 2, 2), "B", seconds_spent=12)["ok"]
    human = store.ratings.all()[0]
    items = run_items(store, experiment_id, "ev1", ("base", "tuned"))
    simulate_round(store, items, raters=3, ratings_per_item=3, experiment_id=experiment_id, evaluation_id="ev1")
    simulated = [r for r in store.ratings.all() if r["id"] != human["id"]]
    by_id = {i.item_id: i for i in items}
    assert simulated and all(set(r) == set(human) | {"simulated", "rater_kind"} for r in simulated)
    assert all(r["simulated"] is True and r["rater_kind"] == "simulated" for r in simulated)
    for r in simulated:
        assert r["experiment_id"] == experiment_id and r["evaluation_id"] == "ev1" and r["gold"] is None
        assert set(r["scores"]) == set(r["shown"]) == {"base", "tuned"}
        assert all(
            set(s) == set(human["scores"]["base"]) and all(1 <= v <= 5 for v in s.values())
            for s in r["scores"].values()
        )
        assert r["preferred_variant"] == {"A": r["shown"][0], "B": r["shown"][1]}.get(r["preference"])
        assert r["shown"] == list(shown_order(0, by_id[r["item_id"]], r["rater_id"]))  # the service's hash scheme
    assert {tuple(r["shown"]) for r in simulated} == {("base", "tuned"), ("tuned", "base")}


def test_the_preference_export_drops_simulated_ratings_by_default(store: Store) -> None:
    items, _ = rated(store, n=4)
    by_id = {item.item_id: item for item in items}
    records = store.ratings.all()
    dropped = preference_data("dpo", by_id, records)
    assert dropped.rows == [] and dropped.removed["simulated"] == len(records) == 12
    kept = preference_data("dpo", by_id, records, PreferenceFilters(include_simulated=True))
    assert len(kept.rows) == 4 and all("বুঝতে পারছি" in row["chosen"][0]["content"] for row in kept.rows)


def test_cli_prints_counts_and_win_rate_and_agrees_with_another_process(tmp_path: Path, capsys) -> None:
    for name in ("here", "there"):
        store = Store(tmp_path / name, ratings_fold_interval=None)
        make_run(store, n=4, close=2)
        store.ratings.close()
    args = ["--experiment", "exp1", "--raters", "4", "--ratings-per-item", "2", "--seed", "7"]
    assert main(["--logs-dir", str(tmp_path / "here"), *args]) == 0
    out = capsys.readouterr().out
    assert "wrote 12 simulated ratings" in out and "6 of 6 items have 2 ratings" in out
    assert "simulated crowd win rate of tuned over base" in out and "95% Wilson interval" in out
    assert "decisive win rate (ties and both bad out; 0.5 = equal)" in out and "sign test p=" in out
    assert "SIMULATED" in out and "never report them as human" in out
    result = subprocess.run(
        [sys.executable, "-m", "bempathy.rating.simulated", "--logs-dir", str(tmp_path / "there"), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 12 simulated ratings" in result.stdout
    here, there = (Store(tmp_path / name, ratings_fold_interval=None) for name in ("here", "there"))
    assert content(here.ratings.all()) == content(there.ratings.all())  # another process, the same ratings
    here.ratings.close(), there.ratings.close()


def test_cli_errors_are_one_line_and_exit_2(store: Store, capsys) -> None:
    experiment_id = make_run(store, n=2)
    logs = ["--logs-dir", str(store.logs_dir)]
    assert main([*logs, "--experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown experiment 'nope'") and err.count("\n") == 1
    assert main([*logs, "--experiment", experiment_id, "--variants", "base,sft"]) == 2
    err = capsys.readouterr().err
    assert "'sft'" in err and err.count("\n") == 1
    assert main([*logs, "--experiment", experiment_id, "--variants", "base"]) == 2
    assert main([*logs, "--experiment", experiment_id, "--raters", "2"]) == 2
    assert "need at least 3 raters" in capsys.readouterr().err
    assert len(store.ratings) == 0


def test_help_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bempathy.rating.simulated", "--help"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert all(flag in result.stdout for flag in ("--experiment", "--variants", "--raters", "--ratings-per-item"))
    assert "SIMULATED" in result.stdout


def test_each_turn_takes_the_open_item_with_fewest_ratings_in_the_raters_hash_order(store: Store) -> None:
    """The assignment rule, replayed from the stored order: ratings already stored count, raters take turns."""
    experiment_id = make_run(store, n=9, close=4)
    items = run_items(store, experiment_id, "ev1", ("base", "tuned"))
    first = {"raters": 4, "ratings_per_item": 1, "seed": 5, "experiment_id": experiment_id, "evaluation_id": "ev1"}
    simulate_round(store, items[:5], **first)  # five items start with a rating from another round
    stored = len(store.ratings.all())
    simulate_round(store, items, raters=4, ratings_per_item=3, seed=2, experiment_id=experiment_id, evaluation_id="ev1")
    records = store.ratings.all()
    counts = Counter(r["item_id"] for r in records[:stored])
    done = {(r["rater_id"], r["item_id"]) for r in records[:stored]}
    for record in records[stored:]:
        rater = record["rater_id"]
        open_items = [i.item_id for i in items if counts[i.item_id] < 3 and (rater, i.item_id) not in done]
        expected = min(open_items, key=lambda i: (counts[i], unit_hash(2, "order", rater, i)))
        assert record["item_id"] == expected
        counts[expected] += 1
        done.add((rater, expected))
    assert all(counts[i.item_id] == 3 for i in items)

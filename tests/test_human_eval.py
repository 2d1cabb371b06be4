"""Tests for the rating service: assignment, blind A/B, validation, gold checks, limits, export, CLI, scale."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path

import pytest

from bempathy.human_eval import main
from bempathy.rating.items import BAD, CRITERIA, GOOD, HumanEvalError, make_item_id, shown_order
from bempathy.rating.limits import RateLimit
from bempathy.rating.service import RatingService
from bempathy.storage.log import StoreCorruptError
from bempathy.storage.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLD = REPO_ROOT / "data" / "gold" / "gold_items.jsonl"
TEXT = {"base": "সাধারণ উত্তর {i}।", "tuned": "সহমর্মী উত্তর {i}: আপনার কষ্টটা বুঝতে পারছি।"}
GOOD_SCORES, BAD_SCORES = (5, 5, 5), (1, 1, 1)


def make_run(store: Store, n: int = 4, evaluation_id: str = "ev1", evaluated_at: str = "2026-01-01T00:00:00+00:00"):
    experiment_id = store.experiments.insert(
        {"status": "completed", "metrics": {"evaluation_id": evaluation_id, "evaluated_at": evaluated_at}}
    )
    store.responses.insert_many(
        [
            {
                "experiment_id": experiment_id,
                "evaluation_id": evaluation_id,
                "variant": variant,
                "example_id": f"ex{i}",
                "topic": "family",
                "input_text": f"প্রশ্ন {i}: বাবা আমার কথা শোনেন না।",
                "response_text": TEXT[variant].format(i=i),
                "reference_text": "…",
            }
            for i in range(n)
            for variant in ("base", "tuned")
        ]
    )
    return experiment_id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "logs", ratings_fold_interval=None)


def service(store: Store, **kwargs) -> RatingService:
    return RatingService(store, **kwargs)


def variant_of(text: str) -> str:
    return "tuned" if text.startswith("সহমর্মী") else "base"


def lease(svc: RatingService, rater: str, item_id: str) -> None:
    """Hand this rater this very item (a slot of their own), as /next_item would have: for tests that rate
    chosen items; the cap is not what they test."""
    assert svc.leases.grant(rater, item_id, f"test:{rater}") is not None


def rate(svc: RatingService, rater: str, item: dict | str, a=(4, 4, 4), b=(2, 2, 2), pref="A", comment="", **kw):
    item_id = item["item_id"] if isinstance(item, dict) else item
    return svc.rate(rater, item_id, a, b, pref, comment, **kw)


def test_next_item_is_blind_and_rate_maps_a_and_b_back(store: Store) -> None:
    make_run(store)
    svc = service(store)
    item = svc.next_item("রিনা")
    assert set(item) == {"item_id", "prompt", "answer_a", "answer_b", "rated", "remaining", "message"}
    assert item["rated"] == 0 and item["remaining"] == 4 and item["prompt"].startswith("প্রশ্ন")
    assert not {"base", "tuned"} & {str(v) for v in item.values()}
    shown = [variant_of(item["answer_a"]), variant_of(item["answer_b"])]
    result = rate(svc, "রিনা", item, a=(5, 4, 3), b=(2, 1, 2), pref="A", seconds_spent=41.26, session_id="s1")
    assert result["ok"] and result["rating_id"] and "জমা" in result["message"]
    (record,) = store.ratings.all()
    assert record["shown"] == shown and record["preferred_variant"] == shown[0] and record["preference"] == "A"
    assert record["scores"] == {
        shown[0]: {"empathy": 5, "tone": 4, "helpfulness": 3},
        shown[1]: {"empathy": 2, "tone": 1, "helpfulness": 2},
    }
    assert record["experiment_id"] == store.experiments.all()[0]["id"] and record["evaluation_id"] == "ev1"
    assert record["seconds_spent"] == 41.3 and record["gold"] is None and record["comment"] == ""
    assert record["session"] != "s1" and len(record["session"]) == 16  # hashed
    assert set(record["response_ids"]) == {"base", "tuned"} and record["example_id"].startswith("ex")
    assert svc.rated_count("রিনা") == 1 and svc.next_item("রিনা")["rated"] == 1


def test_fewest_ratings_first_never_the_same_item_twice_and_a_cap(store: Store) -> None:
    make_run(store, n=3)
    svc = service(store, ratings_per_item=2)
    first = svc.next_item("r1")
    rate(svc, "r1", first)
    assert svc.next_item("r2")["item_id"] != first["item_id"]  # the rated item has the most ratings
    seen = []
    for _ in range(3):
        item = svc.next_item("r1")
        if item["item_id"] is None:
            break
        assert item["item_id"] not in seen and item["item_id"] != first["item_id"]
        seen.append(item["item_id"])
        assert rate(svc, "r1", item)["ok"]
    assert len(seen) == 2
    done = svc.next_item("r1")
    assert done["item_id"] is None and done["rated"] == 3 and done["remaining"] == 0
    assert "Thank you" in done["message"] and "ধন্যবাদ" in done["message"]
    for rater in ("r2", "r3"):  # each item now has 1 rating; cap 2 means one more each, then nothing
        while (item := svc.next_item(rater))["item_id"] is not None:
            assert rate(svc, rater, item)["ok"]
    assert svc.next_item("r4")["item_id"] is None and svc.next_item("r4")["remaining"] == 0
    counts = {}
    for record in store.ratings.all():
        counts[record["item_id"]] = counts.get(record["item_id"], 0) + 1
    assert sorted(counts.values()) == [2, 2, 2]


def test_two_raters_at_once_get_different_items(store: Store) -> None:
    make_run(store, n=2)
    svc = service(store)
    assert svc.next_item("r1")["item_id"] != svc.next_item("r2")["item_id"]
    again = svc.next_item("r1")  # a page reload shows the same item, not a fresh draw
    assert again["item_id"] == svc.next_item("r1")["item_id"]


def test_ab_order_is_deterministic_across_processes_and_varies_across_raters(store: Store) -> None:
    make_run(store, n=6)
    one, other = service(store), service(Store(store.logs_dir, ratings_fold_interval=None))
    orders = set()
    for rater in [f"rater{n}" for n in range(12)]:
        a, b = one.next_item(rater), other.next_item(rater)
        assert a == b
        orders.add(variant_of(a["answer_a"]))
    assert orders == {"base", "tuned"}  # random-looking, not always the same side
    item = one.next_item("rater0")
    assert rate(other, "rater0", item, pref="B")["ok"]  # the other process maps B back the same way
    (record,) = store.ratings.all()
    assert record["preferred_variant"] == variant_of(item["answer_b"])


GOOD_ARGS = {"a": (4, 4, 4), "b": (3, 3, 3), "pref": "A", "comment": ""}


@pytest.mark.parametrize(
    ("rater", "change", "expect"),
    [
        ("r1", {"a": (0, 4, 4)}, "whole number 1-5"),
        ("r1", {"a": (4, 6, 4)}, "whole number 1-5"),
        ("r1", {"b": (4, 4, 4.5)}, "whole number 1-5"),
        ("r1", {"b": ("x", 4, 4)}, "whole number 1-5"),
        ("r1", {"b": (None, 4, 4)}, "whole number 1-5"),
        ("r1", {"b": (True, 4, 4)}, "whole number 1-5"),
        ("r1", {"b": ("", 4, 4)}, "whole number 1-5"),
        ("r1", {"b": (float("nan"), 4, 4)}, "whole number 1-5"),
        ("r1", {"pref": "C"}, "preference"),
        ("r1", {"pref": None}, "preference"),
        ("r1", {"comment": "ক" * 1001}, "1000 characters"),
        ("r1", {"comment": 42}, "must be text"),
        ("", {}, "rater id"),
        ("   ", {}, "rater id"),
        (None, {}, "rater id"),
        ("r\x00ina", {}, "control characters"),
        ("rina\u202e", {}, "control characters"),
        ("x" * 65, {}, "64 characters"),
    ],
)
def test_invalid_ratings_store_nothing_and_say_why(store: Store, rater, change: dict, expect: str) -> None:
    make_run(store)
    svc = service(store)
    item = svc.next_item("r1")
    args = {**GOOD_ARGS, **change}
    result = rate(svc, rater, item, args["a"], args["b"], args["pref"], args["comment"])
    assert result == {"ok": False, "message": result["message"], "rating_id": None}
    assert expect in result["message"] and " / " in result["message"]  # Bengali / English
    assert len(store.ratings) == 0


def test_unknown_item_and_lenient_but_exact_values(store: Store) -> None:
    make_run(store)
    svc = service(store)
    assert not rate(svc, "r1", "no-such-item")["ok"] and "Unknown item" in rate(svc, "r1", "no-such-item")["message"]
    item = svc.next_item("r1")
    result = rate(svc, "  r1 ", item, a=("4", 4.0, "৪"), b=(" 2 ", "3.0", 1), pref=" tie ")
    assert result["ok"]
    (record,) = store.ratings.all()
    assert record["rater_id"] == "r1" and record["preference"] == "tie" and record["preferred_variant"] is None
    assert {v: sorted(s.values()) for v, s in record["scores"].items()}[record["shown"][0]] == [4, 4, 4]
    assert all(type(n) is int for s in record["scores"].values() for n in s.values())


def test_rater_ids_are_stripped_and_nfc(store: Store) -> None:
    make_run(store)
    svc = service(store)
    composed = "শোভন"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    item = svc.next_item(composed)
    assert rate(svc, f"  {decomposed}\t", item)["ok"]
    assert not rate(svc, composed, item)["ok"]  # the same person
    assert svc.rated_count(decomposed) == 1


def test_html_in_a_comment_is_stored_verbatim_as_text(store: Store) -> None:
    make_run(store)
    svc = service(store)
    comment = '<img src=x onerror="alert(1)"> <b>ভালো</b> & "উত্তর"\r\nদ্বিতীয় লাইন'
    assert rate(svc, "r1", svc.next_item("r1"), comment=comment)["ok"]
    assert store.ratings.all()[0]["comment"] == comment.replace("\r\n", "\n")


def test_a_duplicate_submit_is_stored_once_with_a_clear_message(store: Store) -> None:
    make_run(store)
    svc = service(store)
    item = svc.next_item("r1")
    assert rate(svc, "r1", item)["ok"]
    again = rate(svc, "r1", item, pref="B")
    assert not again["ok"] and "already recorded" in again["message"]
    other_process = service(Store(store.logs_dir, ratings_fold_interval=None))
    assert "already recorded" in rate(other_process, "r1", item)["message"]

    second = svc.next_item("r2")
    results: list[dict] = []
    services = [svc, other_process]
    threads = [
        threading.Thread(target=lambda n=n: results.append(rate(services[n % 2], "r2", second))) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["ok"] for r in results) == 1  # double clicks, two tabs, two processes: one record
    assert len(store.ratings) == 2


def test_gold_items_pass_or_fail(store: Store) -> None:
    make_run(store)
    svc = service(store, gold_path=GOLD, gold_rate=1.0)
    gold_prompts = {json.loads(line)["prompt"] for line in GOLD.read_text(encoding="utf-8").splitlines()}
    outcomes = {}
    cases = {
        "prefers-good": lambda good_side: ("A" if good_side == "A" else "B", GOOD_SCORES, BAD_SCORES),
        "prefers-bad": lambda good_side: ("B" if good_side == "A" else "A", GOOD_SCORES, BAD_SCORES),
        "tie-good-higher": lambda good_side: ("tie", GOOD_SCORES, BAD_SCORES),
        "tie-equal-on-one": lambda good_side: ("tie", (5, 5, 3), (1, 1, 3)),
    }
    for rater, case in cases.items():
        item = svc.next_item(rater)
        assert item["prompt"] in gold_prompts
        good = json.loads(
            next(line for line in GOLD.read_text(encoding="utf-8").splitlines() if item["prompt"] in line)
        )
        good_side = "A" if item["answer_a"] == good["good"] else "B"
        pref, good_scores, bad_scores = case(good_side)
        a, b = (good_scores, bad_scores) if good_side == "A" else (bad_scores, good_scores)
        assert rate(svc, rater, item, a=a, b=b, pref=pref)["ok"]
        outcomes[rater] = store.ratings.find(rater_id=rater)[0]
    assert {r: rec["gold"] for r, rec in outcomes.items()} == {
        "prefers-good": "passed",
        "prefers-bad": "failed",
        "tie-good-higher": "passed",
        "tie-equal-on-one": "failed",
    }
    assert set(outcomes["prefers-good"]["shown"]) == {GOOD, BAD}
    assert outcomes["prefers-good"]["evaluation_id"] == "ev1"


def test_gold_mixing_is_deterministic_per_rater_across_processes(store: Store) -> None:
    make_run(store, n=10)
    one = service(store, gold_path=GOLD, gold_rate=0.4)
    other = service(Store(store.logs_dir, ratings_fold_interval=None), gold_path=GOLD, gold_rate=0.4)
    gold_seen = 0
    for _ in range(12):
        item = one.next_item("r1")
        assert other.next_item("r1") == item
        if item["item_id"] is None:
            break
        assert rate(one, "r1", item)["ok"]
        gold_seen += store.ratings.find(item_id=item["item_id"])[0]["gold"] is not None
    assert 0 < gold_seen < 12


def test_rate_limits_per_rater_and_per_session(store: Store) -> None:
    make_run(store, n=6)
    svc = service(store, rate_limit_per_rater=RateLimit(2, 60), rate_limit_per_session=RateLimit(3, 60))
    for _ in range(2):
        assert rate(svc, "r1", svc.next_item("r1"), session_id="s1")["ok"]
    limited = rate(svc, "r1", svc.next_item("r1"), session_id="s2")
    assert not limited["ok"] and "Too many" in limited["message"]
    assert rate(svc, "r2", svc.next_item("r2"), session_id="s1")["ok"]  # session s1: 3rd rating
    assert "Too many" in rate(svc, "r3", svc.next_item("r3"), session_id="s1")["message"]
    assert rate(svc, "r3", svc.next_item("r3"), session_id="s3")["ok"]
    other_process = service(Store(store.logs_dir, ratings_fold_interval=None), rate_limit_per_rater=RateLimit(2, 60))
    assert "Too many" in rate(other_process, "r1", other_process.next_item("r1"))["message"]  # limits are shared
    assert len(store.ratings) == 4
    assert RateLimit.parse("30/60") == RateLimit(30, 60.0)
    with pytest.raises(HumanEvalError):
        RateLimit.parse("fast")


def _export_fixture(store: Store, tmp_path: Path) -> tuple[RatingService, list[dict]]:
    make_run(store, n=4)
    svc = service(store, gold_path=GOLD)
    items = sorted(svc.items.values(), key=lambda i: i.example_id)

    def vote(rater: str, item, preferred: str | None, pref: str | None = None) -> None:
        letter = pref or ("A" if shown_order(svc.seed, item, rater)[0] == preferred else "B")
        lease(svc, rater, item.item_id)
        assert svc.rate(rater, item.item_id, (4, 4, 4), (3, 3, 3), letter)["ok"]

    vote("r1", items[0], "tuned")
    vote("r2", items[0], "tuned")
    vote("r3", items[0], "base")
    vote("r1", items[1], None, "tie")
    vote("r1", items[2], None, "both_bad")
    vote("r1", items[3], "tuned")
    vote("r2", items[3], "base")
    gold = next(iter(svc.gold.values()))
    lease(svc, "r1", gold.item_id)
    assert svc.rate("r1", gold.item_id, (5, 5, 5), (1, 1, 1), "A")["ok"]
    out = tmp_path / "out" / "dpo.jsonl"
    assert len(svc.export_preferences(out).rows) == 1
    return svc, [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_export_is_trl_conversational_preference_jsonl(store: Store, tmp_path: Path) -> None:
    _, rows = _export_fixture(store, tmp_path)
    (row,) = rows
    assert set(row) == {"prompt", "chosen", "rejected"}
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"] == "প্রশ্ন 0: বাবা আমার কথা শোনেন না।"
    assert row["chosen"] == [{"role": "assistant", "content": TEXT["tuned"].format(i=0)}]
    assert row["rejected"] == [{"role": "assistant", "content": TEXT["base"].format(i=0)}]
    assert not (tmp_path / "out" / "dpo.jsonl.tmp").exists()


@pytest.mark.slow
def test_trl_reads_the_export(store: Store, tmp_path: Path, tiny_tokenizer) -> None:
    from trl.data_utils import apply_chat_template, is_conversational

    _, (row,) = _export_fixture(store, tmp_path)
    assert is_conversational(row)
    rendered = apply_chat_template(row, tiny_tokenizer)
    assert rendered["prompt"].endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert rendered["chosen"].startswith(TEXT["tuned"].format(i=0))


def test_set_experiment_and_the_default_latest(store: Store) -> None:
    old = make_run(store, n=2, evaluation_id="old", evaluated_at="2026-01-01T00:00:00+00:00")
    new = make_run(store, n=3, evaluation_id="new", evaluated_at="2026-02-01T00:00:00+00:00")
    store.experiments.insert({"status": "running", "metrics": {"evaluation_id": "x", "evaluated_at": "2027"}})
    svc = service(store)
    assert (svc.experiment_id, svc.evaluation_id, len(svc.items)) == (new, "new", 3)
    assert rate(svc, "r1", svc.next_item("r1"))["ok"]
    svc.set_experiment(old)
    assert (svc.experiment_id, svc.evaluation_id, len(svc.items)) == (old, "old", 2)
    assert svc.rated_count("r1") == 0 and svc.next_item("r1")["remaining"] == 2
    with pytest.raises(HumanEvalError, match="unknown experiment"):
        svc.set_experiment("nope")
    bare = store.experiments.insert({"status": "completed"})
    with pytest.raises(HumanEvalError, match="no evaluation"):
        service(store, experiment_id=bare)
    assert make_item_id("new", "ex0", ("tuned", "base")) in service(store, experiment_id=new).items


def test_nothing_to_rate_yet_is_a_message_not_a_crash(store: Store) -> None:
    svc = service(store, gold_path=GOLD, gold_rate=0.5)
    item = svc.next_item("r1")
    assert item["item_id"] is None and "no evaluated run" in item["message"]
    assert not rate(svc, "r1", "anything")["ok"]


def test_pairs_file_items_are_stable_and_bad_files_name_the_line(store: Store, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"id": "p1", "prompt": "আমি একা।", "answers": {"model_x": "আপনি একা নন।", "model_y": "ঠিক আছে।"}},
        {"prompt": "ঘুম আসে না।", "answers": {"model_x": "রুটিন করুন।", "model_y": "ঘুমান।"}},
    ]
    pairs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    one, other = service(store, pairs_path=pairs), service(store, pairs_path=pairs, variants=("a", "b"))
    assert one.items.keys() == other.items.keys() and len(one.items) == 2 and one.evaluation_id == "pairs-pairs"
    item = one.next_item("r1")
    assert {item["answer_a"], item["answer_b"]} <= {a for r in rows for a in r["answers"].values()}
    assert rate(one, "r1", item)["ok"]
    assert set(store.ratings.all()[0]["shown"]) == {"model_x", "model_y"}
    pairs.write_text('{"prompt": "x", "answers": {"only": "one"}}\n', encoding="utf-8")
    with pytest.raises(HumanEvalError, match=r"pairs.jsonl:1: 'answers'"):
        service(store, pairs_path=pairs)


# ---- scale --------------------------------------------------------------------------------------------


def _prebuilt_logs(logs: Path, stored: int, examples: int = 7000) -> None:
    """Write the TinyDB files directly (the fast way to 20,000 ratings): responses, folded ratings, a journal."""
    logs.mkdir(parents=True)
    experiment = {"1": {"id": "exp", "status": "completed", "metrics": {"evaluation_id": "ev"}}}
    (logs / "LLAMAExperiments.json").write_text(json.dumps({"LLAMAExperiments": experiment}))
    responses = {}
    for i in range(examples):
        for variant in ("base", "tuned"):
            responses[str(len(responses) + 1)] = {
                "id": f"{variant}{i}",
                "experiment_id": "exp",
                "evaluation_id": "ev",
                "variant": variant,
                "example_id": f"ex{i}",
                "input_text": f"প্রশ্ন {i}",
                "response_text": TEXT[variant].format(i=i),
            }
    (logs / "GeneratedResponses.json").write_text(json.dumps({"GeneratedResponses": responses}, ensure_ascii=False))
    ratings = []
    for n in range(stored):
        item_id = make_item_id("ev", f"ex{n % examples}", ("base", "tuned"))
        ratings.append(
            {
                "id": f"old{n}",
                "item_id": item_id,
                "experiment_id": "exp",
                "evaluation_id": "ev",
                "rater_id": f"crowd{n // examples}",
                "shown": ["base", "tuned"],
                "scores": {v: {c: 3 for c in CRITERIA} for v in ("base", "tuned")},
                "preference": "tie",
                "preferred_variant": None,
                "comment": "মোটামুটি ভালো উত্তর, তবে আরও নরম হতে পারত।",
                "seconds_spent": 30.0,
                "gold": None,
                "timestamp": "2026-01-01T00:00:00+00:00",
            }
        )
    in_journal = stored // 10
    folded = {str(n + 1): r for n, r in enumerate(ratings[: stored - in_journal])}
    (logs / "HumanEvaluations.json").write_text(json.dumps({"HumanEvaluations": folded}, ensure_ascii=False))
    journal = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ratings[stored - in_journal :])
    (logs / "HumanEvaluations.journal.jsonl").write_text(journal, encoding="utf-8")


@pytest.mark.slow
def test_submit_latency_does_not_grow_with_stored_ratings(tmp_path: Path) -> None:
    sizes = (200, 20_000)
    services = {}
    for size in sizes:
        _prebuilt_logs(tmp_path / str(size), size)
        services[size] = RatingService(Store(tmp_path / str(size), ratings_fold_interval=None), ratings_per_item=10)
        assert len(services[size].store.ratings) == size
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    for n in range(63):  # interleaved, so disk noise hits both sizes alike; the first 3 are warm-up
        for size in sizes:
            svc = services[size]
            item = svc.next_item(f"new{n}")
            started = time.perf_counter()
            result = rate(svc, f"new{n}", item)
            elapsed = time.perf_counter() - started
            assert result["ok"]
            if n >= 3:
                timings[size].append(elapsed * 1000)
    p50 = {size: statistics.median(t) for size, t in timings.items()}
    p95 = {size: statistics.quantiles(t, n=20)[-1] for size, t in timings.items()}
    print(f"\nsubmit latency (ms): 200 stored p50 {p50[200]:.2f} p95 {p95[200]:.2f}; "
          f"20,000 stored p50 {p50[20_000]:.2f} p95 {p95[20_000]:.2f}")  # fmt: skip
    assert p50[20_000] <= 2 * p50[200] + 2.0
    for svc in services.values():
        svc.close()
    assert len(Store(tmp_path / "20000").ratings) == 20_063  # 63 submits each, warm-up included


# ---- CLI ----------------------------------------------------------------------------------------------


def _rated_logs(store: Store) -> str:
    experiment_id = make_run(store, n=3)
    svc = service(store)
    for rater in ("r1", "r2"):
        while (item := svc.next_item(rater))["item_id"] is not None:
            assert rate(svc, rater, item, pref="A" if variant_of(item["answer_a"]) == "tuned" else "B")["ok"]
    return experiment_id


def test_cli_fold_and_export(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _rated_logs(store)
    assert main(["fold", "--logs-dir", str(store.logs_dir)]) == 0
    assert "6 new ratings" in capsys.readouterr().out
    assert (store.logs_dir / "HumanEvaluations.journal.jsonl").read_bytes() == b""
    out = tmp_path / "dpo.jsonl"
    assert main(["export", "--logs-dir", str(store.logs_dir), "--output", str(out)]) == 0
    assert "3 preference pairs" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(row["chosen"][0]["content"].startswith("সহমর্মী") for row in rows) and len(rows) == 3


def test_cli_errors_are_one_line_and_exit_2(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _rated_logs(store)
    assert main(["export", "--logs-dir", str(store.logs_dir), "--output", "x", "--experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown experiment 'nope'") and err.count("\n") == 1
    (store.logs_dir / "HumanEvaluations.json").write_text("{broken", encoding="utf-8")
    assert main(["fold", "--logs-dir", str(store.logs_dir)]) == 2
    err = capsys.readouterr().err
    assert "HumanEvaluations.json" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", "--no-such-flag"])
    assert exit_info.value.code == 2


def test_cli_help_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bempathy.human_eval", "--help"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0
    assert all(word in result.stdout for word in ("summary", "export", "fold", "latest completed experiment"))


def test_cli_summary_json_and_csv(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("bempathy.rating.stats")
    experiment_id = _rated_logs(store)
    csv_path = tmp_path / "summary.csv"
    args = [
        "summary",
        "--logs-dir",
        str(store.logs_dir),
        "--experiment",
        experiment_id,
        "--json",
        "--csv",
        str(csv_path),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["experiment_id"] == experiment_id and isinstance(summary, dict)
    assert csv_path.read_text(encoding="utf-8").strip()


def test_a_corrupt_ratings_log_is_a_clear_error_for_the_service(store: Store) -> None:
    make_run(store)
    (store.logs_dir / "HumanEvaluations.json").write_bytes(b"[not tinydb]")
    with pytest.raises(StoreCorruptError, match=r"HumanEvaluations\.json"):
        service(store)
    assert (store.logs_dir / "HumanEvaluations.json").read_bytes() == b"[not tinydb]"


def test_from_args_reads_the_app_flags(store: Store) -> None:
    from argparse import Namespace

    make_run(store, n=2)
    args = Namespace(experiment=None, ratings_per_item=1, pairs=None, gold=str(GOLD), gold_rate=0.25, rate_limit="5/60")
    svc = RatingService.from_args(args, store)
    assert svc.ratings_per_item == 1 and svc.gold_rate == 0.25 and len(svc.gold) == 8
    assert svc.limiter.limits == {"rater": RateLimit(5, 60.0), "session": RateLimit(5, 60.0)}

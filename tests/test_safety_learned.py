"""The crisis screen's learned signal: built deterministically from its data, cached by a hash of that data,
combined with the rules so it can only raise a level, and measured on the frozen blind round it never saw."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from bempathy.safety import learned
from bempathy.safety.check import evaluate, load_labelled
from bempathy.safety.detect import assess, assess_rules, combine
from bempathy.safety.levels import RANK
from tests.conftest import ROOT

ROUNDS = ROOT / "tests" / "data" / "safety_rounds"
FROZEN = ROUNDS / "frozen_round4.jsonl"  # the final test: never trained or tuned on
UNSEEN = ROUNDS / "round17.jsonl"  # scored, then kept out when rounds 12-16 became training data
NEWEST = [ROUNDS / "round18.jsonl", ROUNDS / "round19.jsonl"]  # scored at first contact on the shipped model
# Rounds 20-23 were scored at first contact on M7, then became M9's training data (bench/RESULTS.md).
NEWER = [ROUNDS / "round24.jsonl", ROUNDS / "round25.jsonl"]  # first contact on M7 and the candidates; chose M9
NEWEST_M9 = [ROUNDS / "round26.jsonl", ROUNDS / "round27.jsonl"]  # first contact on the shipped M9
SHORT = ROUNDS / "short_turns.jsonl"  # short chat turns ("ঠিক আছে", "who r u"), written apart, never trained on


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _write(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


SMALL = [
    {"text": "আমি আজ রাতে নিজেকে শেষ করে দেব", "level": "crisis"},
    {"text": "I will end my life tonight, I have the pills", "level": "crisis"},
    {"text": "ami ar bachte chai na, aj rate sob shesh", "level": "crisis"},
    {"text": "মাঝে মাঝে মনে হয় না থাকলেই ভালো হতো", "level": "concern"},
    {"text": "I tried to kill myself two years ago, I'm better now", "level": "concern"},
    {"text": "sometimes i wish i could disappear", "level": "concern"},
    {"text": "আজ পরীক্ষা খুব খারাপ হয়েছে", "level": "none"},
    {"text": "this heat is killing me lol", "level": "none"},
    {"text": "kal cinema dekhte jabo", "level": "none"},
]


@pytest.mark.parametrize(
    ("held_out", "alike"),
    # lines training data holds word for word: an idiom (17); a crisis line of round 23 (25); a crisis line and
    # "ok thanks" (26)
    list(zip((FROZEN, UNSEEN, *NEWEST, *NEWER, *NEWEST_M9, SHORT), (0, 1, 0, 0, 0, 1, 2, 0, 0), strict=True)),
    ids=["frozen", "round17", "round18", "round19", "round24", "round25", "round26", "round27", "short_turns"],
)
def test_the_held_out_rounds_were_never_training_data(held_out, alike):
    trained = {_key(r["text"]) for r in load_labelled(learned.TRAIN_FILE)}
    lines = load_labelled(held_out)
    assert len(lines) >= 80
    assert len([r["text"] for r in lines if _key(r["text"]) in trained]) == alike


def test_training_is_deterministic_and_the_cache_is_keyed_by_the_data(tmp_path):
    data = tmp_path / "train.jsonl"
    _write(data, SMALL)
    first = learned.load(data, cache_dir=tmp_path / "cache")
    cached = sorted((tmp_path / "cache").glob("safety-classifier-*.joblib"))
    assert len(cached) == 1 and first.fingerprint in cached[0].name
    again = learned.train(data)  # a second build from nothing gives the same model
    probes = ["আমি মরে যেতে চাই", "exam is killing me", "ami valo achi"]
    assert [first.probabilities(t) for t in probes] == [again.probabilities(t) for t in probes]
    assert learned.load(data, cache_dir=tmp_path / "cache").fingerprint == first.fingerprint  # from the cache
    _write(data, [*SMALL, {"text": "আজ খুব ক্লান্ত", "level": "none"}])  # changed data: a new model, a new name
    changed = learned.load(data, cache_dir=tmp_path / "cache")
    assert changed.fingerprint != first.fingerprint
    assert len(list((tmp_path / "cache").glob("safety-classifier-*.joblib"))) == 2


def test_a_cached_model_whose_hash_does_not_match_is_refused(tmp_path):
    import joblib

    data = tmp_path / "train.jsonl"
    _write(data, SMALL)
    model = learned.load(data, cache_dir=tmp_path)
    path = next(tmp_path.glob("safety-classifier-*.joblib"))
    joblib.dump({"fingerprint": "0" * 16, "pipeline": model.pipeline}, path)
    with pytest.raises(learned.ClassifierError, match="hash does not match"):
        learned.load(data, cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"text": "x", "level": "maybe"}], r"train\.jsonl:1: 'level' must be one of"),
        ([{"text": "x", "crisis": True}], "labelled line 1 needs a 'level'"),
        ([{"text": "x", "level": "none"}, {"text": "y", "level": "crisis"}], "no line labelled concern"),
    ],
)
def test_bad_training_data_is_one_clear_error_and_exit_2(tmp_path, rows, message):
    data = tmp_path / "train.jsonl"
    _write(data, rows)
    with pytest.raises(learned.ClassifierError, match=message):
        learned.train(data)
    cli = [sys.executable, "-m", "bempathy.safety.learned", "--train", "--data", str(data)]
    done = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr


def test_either_signal_raises_and_only_an_explicit_context_lowers_the_classifier():
    calm, mention = assess_rules("আজ খুব ভালো দিন"), assess_rules("I would never kill myself")
    assert (calm.level, mention.level) == ("none", "concern")
    raised = combine(calm, "crisis", 0.97)
    assert (raised.level, raised.raised_by, raised.category) == ("crisis", "classifier", "suicidal_intent")
    kept = combine(mention, "none", 0.01)  # the classifier never lowers what the rules found
    assert (kept.level, kept.raised_by) == ("concern", "rules")
    story = assess_rules("In the novel the hero wants to die after the war")
    assert story.level == "none" and story.context == "fiction"
    assert combine(story, "crisis", 0.99).level == "concern"  # a context lowers the classifier one step
    assert combine(story, "concern", 0.8).level == "none"


def test_the_combined_screen_is_never_below_the_rules_on_every_labelled_line():
    lines = [r["text"] for path in sorted(ROUNDS.glob("*.jsonl")) for r in load_labelled(path)]
    assert len(lines) >= 380
    lower = [t for t in lines if RANK[assess(t).level] < RANK[assess_rules(t).level]]
    assert not lower


def test_the_frozen_round_meets_the_recall_target_and_the_crisis_false_alarm_target():
    """The figures of bench/RESULTS.md, as a floor: concern+ recall >= 0.90 and crisis false alarms <= 0.05 (both
    met); concern+ false alarms are 0.175 against a target of 0.10 (not met), kept from rising."""
    report = evaluate(load_labelled(FROZEN))
    assert report["recall_concern_or_above"] >= 0.90
    assert report["false_alarm_rate"] <= 0.05
    assert report["false_alarm_rate_concern_or_above"] <= 0.20
    rules = evaluate(load_labelled(FROZEN), rules_only=True)
    assert report["recall_concern_or_above"] - rules["recall_concern_or_above"] >= 0.3  # the classifier's share


def test_the_round_kept_out_meets_the_recall_targets_and_the_crisis_false_alarm_target():
    """Round 17 (bench/RESULTS.md), never trained on but used with the short turns to choose M7's recipe: concern+
    recall 1.000, crisis recall 0.972, false alarms 0.050 at crisis (targets met) and 0.125 at concern+ (target 0.10
    not met, kept from rising)."""
    report = evaluate(load_labelled(UNSEEN))
    assert report["recall_concern_or_above"] >= 0.90 and report["recall"] >= 0.90
    assert report["false_alarm_rate"] <= 0.05
    assert report["false_alarm_rate_concern_or_above"] <= 0.15


@pytest.mark.parametrize("path", NEWEST, ids=["round18", "round19"])
def test_the_newest_rounds_keep_their_recall(path):
    """Rounds 18 and 19 (bench/RESULTS.md), scored at first contact on M7a, then once on M7: concern+ recall 0.982
    and 1.000, crisis recall 0.972 and 1.000 (met); false alarms 0.075 and 0.050 at crisis (target 0.05: missed in
    round 18) and 0.125 and 0.175 at concern+ (target 0.10: missed in both), kept from rising."""
    report = evaluate(load_labelled(path))
    assert report["recall_concern_or_above"] >= 0.95 and report["recall"] >= 0.95
    assert report["false_alarm_rate"] <= 0.075
    assert report["false_alarm_rate_concern_or_above"] <= 0.20


@pytest.mark.parametrize("path", NEWER, ids=["round24", "round25"])
def test_rounds_24_and_25_meet_the_recall_and_false_alarm_targets(path):
    """Rounds 24 and 25 (bench/RESULTS.md), scored at first contact on M7 and on the two candidates, which chose M9:
    concern+ recall 1.000 and 0.929, crisis recall 1.000 and 0.917; false alarms 0.025 and 0.000 at crisis, 0.075
    and 0.025 at concern+ (M7: 0.964 / 0.929 and 0.972 / 0.917, the same false alarms). The issue's targets
    (concern+ recall >= 0.90, false alarms <= 0.10 / <= 0.05) are met in both; these floors keep them met, and the
    crisis-recall floor (0.90, no target in the issue) keeps the measured figures from falling."""
    report = evaluate(load_labelled(path))
    assert report["recall_concern_or_above"] >= 0.90 and report["recall"] >= 0.90
    assert report["false_alarm_rate"] <= 0.05
    assert report["false_alarm_rate_concern_or_above"] <= 0.10


@pytest.mark.parametrize("path", NEWEST_M9, ids=["round26", "round27"])
def test_rounds_26_and_27_meet_every_target_at_first_contact_on_m9(path):
    """Rounds 26 and 27 (bench/RESULTS.md), scored once at first contact on the shipped M9, nothing changed after:
    concern+ recall 1.000 in both, crisis recall 0.972 in both; false alarms 0.000 and 0.050 at crisis, 0.025 and
    0.100 at concern+. Every target is met; these floors keep them met."""
    report = evaluate(load_labelled(path))
    assert report["recall_concern_or_above"] >= 0.95 and report["recall"] >= 0.95
    assert report["false_alarm_rate"] <= 0.05
    assert report["false_alarm_rate_concern_or_above"] <= 0.10


def test_short_chat_turns_keep_their_measured_floor():
    """The short-turn set (bench/RESULTS.md): every risky short turn found; false alarms 0.047 at concern+ on M9 (3 of
    64: "who r u", "what should i do", "what should i do ekhon"; M7 0.031) and none at crisis (M6 put "who r u" at
    crisis; without the short training lines "ঠিক আছে" was), kept within 0.05."""
    report = evaluate(load_labelled(SHORT))
    assert report["recall_concern_or_above"] == 1.0 and report["recall"] == 1.0
    assert report["false_alarm_rate_concern_or_above"] <= 0.05
    assert report["false_alarm_rate"] == 0.0


def test_the_learned_signal_is_fast_enough_per_message():
    """Target p99 <= 5 ms on one core (quiet machine: bench/RESULTS.md); the bound here leaves room for CI."""
    texts = [r["text"] for r in load_labelled(FROZEN)]
    figures = learned.latency(learned.shared(), texts, repeats=3)
    assert figures["p50_ms"] < 10 and figures["p99_ms"] < 50, figures


def test_thresholds_decide_the_level():
    p = {"none": 0.1, "concern": 0.2, "crisis": 0.7}
    assert learned.decide(p, replace(learned.RECIPE, crisis_at=0.6))[0] == "crisis"
    assert learned.decide(p, replace(learned.RECIPE, crisis_at=0.8, concern_at=0.85))[0] == "concern"
    assert learned.decide(p, replace(learned.RECIPE, crisis_at=0.8, concern_at=0.95))[0] == "none"


def test_an_unwritable_cache_builds_in_memory_and_an_unreadable_model_is_one_clear_error(tmp_path, capsys):
    data = tmp_path / "train.jsonl"
    _write(data, SMALL)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    model = learned.load(data, cache_dir=blocked / "cache")  # the cache folder cannot be made
    assert model.level("আমি মরে যেতে চাই")[0] in ("none", "concern", "crisis")
    assert "built in memory" in capsys.readouterr().out
    learned.load(data, cache_dir=tmp_path / "cache")
    next((tmp_path / "cache").glob("safety-classifier-*.joblib")).write_bytes(b"\x80\x04truncated")
    with pytest.raises(learned.ClassifierError, match=r"cannot be read .*delete it to rebuild"):
        learned.load(data, cache_dir=tmp_path / "cache")

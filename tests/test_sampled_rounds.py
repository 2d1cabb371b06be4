"""A sampled comparison rated k-th answer against k-th: the pairs found in the logs, the pooled win rate and its
interval over prompts (whose items share a text, so they are not independent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bempathy.config import ConfigError, sample_variants
from bempathy.eval.evaluator import Evaluator, sample_names
from bempathy.model.chat import DecodingSettings, Generation
from bempathy.rating.estimators import clustered_rate_interval
from bempathy.rating.items import HumanEvalError, sampled_pairs
from bempathy.rating.simulated import crowd_win_rate, evaluation_win_rate, main, pooled
from bempathy.storage.store import Store
from tests.test_simulated_crowd import KIND, LOOP

SAMPLES = 3


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield (store := Store(tmp_path / "logs", ratings_fold_interval=None))
    store.ratings.close()


def sampled_run(store: Store, prompts: int = 4, kind_for: str = "tuned") -> str:
    """A preference run's sampled comparison: ``prompts`` x SAMPLES answers per variant; ``kind_for`` writes the
    counsellor answer, the other variant loops (so the crowd's taste has one clear winner)."""
    names = sample_names(("sft", "tuned"), SAMPLES)
    experiment_id = store.experiments.insert({"id": "pref", "status": "completed", "metrics": {}})
    store.responses.insert_many(
        [
            {
                "experiment_id": experiment_id,
                "evaluation_id": "sampled1",
                "variant": name,
                "example_id": f"ex{i}",
                "input_text": f"প্রশ্ন {i}: আমি খুব একা বোধ করি।",
                "response_text": (KIND if name.startswith(kind_for) else LOOP).format(i=f"{i}-{name}"),
            }
            for i in range(prompts)
            for name in names
        ]
    )
    return experiment_id


def test_sampled_names_are_rank_by_rank_and_one_variant_keeps_the_candidates_names():
    assert sample_names(("sft", "tuned"), 2) == ["sft_sample1", "tuned_sample1", "sft_sample2", "tuned_sample2"]
    assert sample_names(("tuned",), 3) == ["sample1", "sample2", "sample3"]
    assert sample_variants(" sft , tuned") == ["sft", "tuned"]
    for bad in ("sft,sft", "sft,", "sft,dpo"):
        with pytest.raises(ConfigError, match="--eval_sample_variants"):
            sample_variants(bad)


def test_the_pairs_are_found_rank_by_rank_and_plain_names_stay_plain(store: Store):
    sampled_run(store)
    names = [f"sft_sample{k}" for k in (1, 2, 10)] + [f"tuned_sample{k}" for k in (1, 2, 10)] + ["tuned_sample3"]
    store.responses.insert_many([{"evaluation_id": "ranks", "variant": name} for name in names])
    assert sampled_pairs(store, "sampled1", ("sft", "tuned")) == [
        (f"sft_sample{k}", f"tuned_sample{k}") for k in (1, 2, 3)
    ]
    # sample10 after sample2; tuned_sample3 has no sft_sample3, so no pair
    assert sampled_pairs(store, "ranks", ("sft", "tuned")) == [
        (f"sft_sample{k}", f"tuned_sample{k}") for k in (1, 2, 10)
    ]
    store.responses.insert_many([{"evaluation_id": "plain", "variant": v} for v in ("sft", "tuned", "sft_sample1")])
    assert sampled_pairs(store, "plain", ("sft", "tuned")) == [("sft", "tuned")]
    assert sampled_pairs(store, "sampled1", ("base", "tuned")) == [("base", "tuned")]  # nothing to pair


def test_pooled_renames_every_rank_to_one_pair_and_leaves_the_records_alone():
    record = {
        "shown": ["tuned_sample2", "sft_sample2"],
        "scores": {"tuned_sample2": {"empathy": 4}, "sft_sample2": {"empathy": 2}},
        "preferred_variant": "tuned_sample2",
        "simulated": True,
    }
    (renamed,) = pooled(
        [record], [("sft_sample1", "tuned_sample1"), ("sft_sample2", "tuned_sample2")], ("sft", "tuned")
    )
    assert renamed["shown"] == ["tuned", "sft"] and set(renamed["scores"]) == {"sft", "tuned"}
    assert renamed["preferred_variant"] == "tuned"
    assert record["preferred_variant"] == "tuned_sample2" and "tuned" not in record["scores"]
    tie = pooled([{**record, "preferred_variant": None}], [("sft_sample2", "tuned_sample2")], ("sft", "tuned"))
    assert tie[0]["preferred_variant"] is None


def test_the_cli_rates_every_rank_and_pools_them_into_one_win_rate(store: Store, capsys):
    experiment_id = sampled_run(store, prompts=4)
    args = ["--logs-dir", str(store.logs_dir), "--experiment", experiment_id, "--evaluation", "sampled1"]
    assert main([*args, "--variants", "sft,tuned", "--raters", "3"]) == 0
    out = capsys.readouterr().out
    assert "wrote 36 simulated ratings" in out and "12 of 12 items (3 variant pairs) have 3 ratings" in out
    assert "3 sampled answers per prompt and variant, k-th against k-th, pooled" in out
    assert "simulated crowd win rate of tuned over sft: 1.000" in out and "n=36" in out
    assert "resampling its 4 prompts [1.000, 1.000]" in out
    win = evaluation_win_rate(store, experiment_id, "sampled1", ("sft", "tuned"))
    assert win["counts"]["win"] == 36 and win["by_prompt"]["clusters"] == 4
    # The other way round, the same ratings read as losses.
    assert evaluation_win_rate(store, experiment_id, "sampled1", ("tuned", "sft"))["win"] == 0.0
    with pytest.raises(HumanEvalError, match="no prompt answered by both 'base' and 'tuned'"):
        evaluation_win_rate(store, experiment_id, "sampled1", ("base", "tuned"))


def test_the_sampled_winner_loses_when_the_other_model_writes_the_kind_answers(store: Store, capsys):
    experiment_id = sampled_run(store, prompts=3, kind_for="sft")
    args = ["--logs-dir", str(store.logs_dir), "--experiment", experiment_id, "--evaluation", "sampled1"]
    assert main([*args, "--variants", "sft,tuned", "--raters", "3"]) == 0
    assert "simulated crowd win rate of tuned over sft: 0.000" in capsys.readouterr().out


def _tally(*prompts: tuple[int, int]) -> np.ndarray:
    return np.array(prompts, dtype=float)


def test_the_interval_resamples_prompts_not_ratings():
    # Prompt a: 3 wins, 1 loss; prompt b: 2 losses. Two prompts resampled can only give aa (6/8), ab or ba
    # (3/6) or bb (0/4): the interval spans the two ends.
    interval = clustered_rate_interval(_tally((3, 1), (0, 2)), seed=1)
    assert (interval["low"], interval["high"], interval["clusters"]) == (0.0, 0.75, 2)


def test_the_rate_pools_ratings_over_prompts_not_a_mean_of_prompt_rates():
    # Four prompts won 9 of 9, one lost 0 of 1. A resample with three copies of the lost prompt (about 5.8%) sets
    # the 2.5% end: pooled, 18 wins of 21 ratings; a mean of per-prompt rates would give 2/5 there.
    interval = clustered_rate_interval(_tally((9, 0), (0, 1), (9, 0), (9, 0), (9, 0)), resamples=4000, seed=2)
    assert interval["low"] == pytest.approx(18 / 21) and interval["high"] == 1.0


def test_a_prompt_won_throughout_has_no_spread_and_no_decisive_rating_no_interval():
    assert clustered_rate_interval(_tally((4, 0), (4, 0)))["low"] == 1.0
    # A resample of prompts without a decisive rating has no rate: left out, not counted as 0.
    assert clustered_rate_interval(_tally((2, 0), (0, 0)), seed=3)["low"] == 1.0
    assert clustered_rate_interval(_tally((0, 0)))["low"] is None
    assert clustered_rate_interval(np.zeros((0, 2)))["high"] is None


def _rating(prompt: str, k: int, shown: tuple[str, str], preferred: str | None) -> dict:
    scores = {v: dict.fromkeys(("empathy", "tone", "helpfulness"), 3) for v in shown}
    preference = {shown[0]: "A", shown[1]: "B"}.get(preferred, "tie")
    return {"simulated": True, "example_id": prompt, "shown": list(shown), "preference": preference,
            "preferred_variant": preferred, "rater_id": f"r{k}", "item_id": f"{prompt}-{'-'.join(shown)}-{k}",
            "scores": scores}  # fmt: skip


def test_crowd_win_rate_groups_its_interval_by_prompt_and_counts_only_its_pair():
    records = [_rating(p, k, ("sft", "tuned"), "tuned") for p in ("a", "b") for k in range(3)]
    records += [_rating("c", k, ("sft", "base"), "sft") for k in range(3)]  # another pair: in neither figure
    win = crowd_win_rate(records, "sft", "tuned")
    assert win["counts"]["win"] == 6 and win["decisive"]["win"] == 1.0
    assert win["by_prompt"] == {"low": 1.0, "high": 1.0, "clusters": 2}
    records.append(_rating("b", 9, ("tuned", "sft"), "sft"))
    mixed = crowd_win_rate(records, "sft", "tuned")["by_prompt"]
    assert mixed["clusters"] == 2 and mixed["low"] < 1.0 and mixed["high"] == 1.0


class _EchoChat:
    """A model stand-in whose answer says which variant wrote it to which prompt."""

    adapters = ("sft", "tuned")

    def generate(self, conversations, variants, decoding, batch_size, progress=None, seed=None):
        assert len(conversations) == len(variants) and decoding.do_sample
        if progress is not None:
            progress.update(len(conversations))
        return [Generation(f"{v}|{c[-1]['content']}", 0.0, 1) for c, v in zip(conversations, variants, strict=True)]


def test_every_sampled_answer_is_logged_under_the_model_that_wrote_it(store: Store):
    rows = [
        {"id": f"ex{i}", "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "r"}]}
        for i in range(5)
    ]
    evaluator = Evaluator(_EchoChat(), store, DecodingSettings(do_sample=True), batch_size=4)  # type: ignore[arg-type]
    result = evaluator.sample_candidates(rows, "pref", "test", 3, seed=1, variants=("sft", "tuned"))
    assert result["kind"] == "sampled" and result["decoding"]["batch_size"] == 6  # whole prompts per call
    logged = store.responses.find(evaluation_id=result["evaluation_id"])
    assert len(logged) == 5 * 6
    for record in logged:
        variant = record["variant"].split("_sample")[0]
        assert record["response_text"] == f"{variant}|{record['input_text']}"
        assert record["input_text"] == "q" + record["example_id"][2:]
    with pytest.raises(ValueError, match="sampled variants must be different names among base, sft, tuned"):
        evaluator.sample_candidates(rows, "pref", "test", 2, seed=1, variants=("sft", "dpo"))

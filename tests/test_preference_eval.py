"""A preference run scored, reported and served as three variants: base, the SFT run it started from, its own."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import train
from bempathy.config import parse_config
from bempathy.data.subsets import select_examples
from bempathy.model.chat import ChatModel
from bempathy.rating.items import HumanEvalError
from bempathy.rating.service import RatingService, parse_variants
from bempathy.runs import RunFolder
from bempathy.storage.store import Store
from tests.conftest import TINY_PRESET, RunningApp

pytestmark = pytest.mark.slow
EVALUATED = 6  # the tiny_run fixture's --eval_max_examples
TRAINED_TEST_PROMPTS = 2  # of those, the preference rows use this many (as rated items would)
THREE = ["base", "sft", "tuned"]


def _dpo_rows(run: RunFolder, path: Path) -> tuple[Path, set[str]]:
    """4 pairs on train prompts and 2 on prompts the SFT run's evaluation answered; returns the test example ids."""
    seed = parse_config(["--config", str(TINY_PRESET)]).data.split_seed
    tested = select_examples(run.read_split("test"), EVALUATED, seed)[:TRAINED_TEST_PROMPTS]
    rows = [*run.read_split("train")[:4], *tested]
    with path.open("w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            other = rows[(i + 1) % len(rows)]["messages"][-1]
            pair = {"prompt": row["messages"][:-1], "chosen": [row["messages"][-1]], "rejected": [other]}
            handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
    return path, {row["id"] for row in tested}


@contextlib.contextmanager
def recorded_batches(batches: list[list[str]]) -> Iterator[None]:
    """Appends the variants of every mixed-adapter batch the model builds (one list per generate call)."""
    rows_of = ChatModel._rows

    def recording(self, variants):
        batches.append(list(variants))
        return rows_of(self, variants)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ChatModel, "_rows", recording)
        yield


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    """(preference run, logs, its experiment, the test ids it trained on, the variants of each generate batch)."""
    source_run, source_logs = tiny_run
    root = tmp_path_factory.mktemp("preference-eval")
    sft, logs, out = root / "sft", root / "logs", root / "sft-dpo"
    shutil.copytree(source_run, sft)
    shutil.copytree(source_logs, logs)
    rows, trained_ids = _dpo_rows(RunFolder(sft), root / "dpo.jsonl")
    common = ["--config", str(TINY_PRESET), "--logs_dir", str(logs), "--output_dir", str(out)]
    preference = ["--stage", "preference", "--from_run", str(sft), "--preferences", str(rows)]
    assert train.main([*common, *preference, "--per_device_train_batch_size", "2", "--preference_max_steps", "2"]) == 0
    batches: list[list[str]] = []
    with recorded_batches(batches):
        evaluate = ["--stage", "evaluate", "--eval_max_examples", str(EVALUATED), "--bootstrap_resamples", "50"]
        assert train.main([*common, *evaluate]) == 0
    experiment = Store(logs).experiments.get(RunFolder(out).experiment_id())
    return out, logs, experiment, trained_ids, batches


def test_a_candidates_round_logs_sampled_answers_that_the_crowd_rates_and_export_turns_into_pairs(
    evaluated, tmp_path, capsys
):
    """`--eval_samples 4`: four sampled answers of the tuned model per train prompt (on-policy candidates),
    reproducible by seed, rated in two pairs and exported as one DPO file."""
    from bempathy import human_eval
    from bempathy.rating import simulated

    out, logs, _, _, _ = evaluated
    sft = RunFolder(out.parent / "sft")
    experiment_id = sft.experiment_id()
    common = ["--config", str(TINY_PRESET), "--logs_dir", str(logs), "--output_dir", str(sft.path)]
    candidates = ["--stage", "evaluate", "--eval_split", "train", "--eval_max_examples", "3", "--eval_samples", "4"]
    before = Store(logs).experiments.get(experiment_id)["metrics"]
    for _ in range(2):  # the same seed twice
        assert train.main([*common, *candidates, "--eval_seed", "7"]) == 0
    record = Store(logs).experiments.get(experiment_id)
    assert record["metrics"] == before
    first, again = [r for r in record["split_evaluations"].values() if r.get("kind") == "candidates"][-2:]
    names = ["sample1", "sample2", "sample3", "sample4"]
    assert first["variants"] == names and first["n_examples"] == 3 and first["split"] == "train"
    decoding = first["decoding"]
    assert decoding["do_sample"] and decoding["temperature"] == 1.0 and decoding["top_p"] == 0.95
    assert decoding["seed"] == 7 and decoding["sampled_variant"] == "tuned"

    def answers(evaluation_id: str) -> dict[tuple[str, str], str]:
        rows = Store(logs).responses.find(evaluation_id=evaluation_id)
        return {(r["example_id"], r["variant"]): r["response_text"] for r in rows}

    logged = answers(first["evaluation_id"])
    assert len(logged) == 3 * 4 and {variant for _, variant in logged} == set(names)
    assert logged == answers(again["evaluation_id"])  # reproducible
    per_prompt = {example: {logged[example, v] for v in names} for example, _ in logged}
    assert any(len(texts) > 1 for texts in per_prompt.values())  # sampled, not four greedy copies
    printed = capsys.readouterr().out
    evaluation = first["evaluation_id"]
    assert f"--evaluation {evaluation} --variants sample3,sample4" in printed

    rate = ["--logs-dir", str(logs), "--experiment", experiment_id, "--evaluation", evaluation, "--raters", "3"]
    for pair in ("sample1,sample2", "sample3,sample4"):
        assert simulated.main([*rate, "--variants", pair, "--ratings-per-item", "3"]) == 0
    export = ["export", "--logs-dir", str(logs), "--experiment", experiment_id, "--evaluation", evaluation]
    export += ["--include-simulated", "--variants", "sample1,sample2"]
    one, both = tmp_path / "one.jsonl", tmp_path / "both.jsonl"
    assert human_eval.main([*export, "--output", str(one)]) == 0
    assert human_eval.main([*export, "--variants", "sample3,sample4", "--output", str(both)]) == 0
    rows = [json.loads(line) for line in both.read_text(encoding="utf-8").splitlines()]
    assert len(rows) > len(one.read_text(encoding="utf-8").splitlines()) > 0
    texts = set(logged.values())
    assert all(r["chosen"][0]["content"] in texts and r["rejected"][0]["content"] in texts for r in rows)
    assert human_eval.main([*export, "--variants", "sample1", "--output", str(tmp_path / "bad.jsonl")]) == 2
    assert not (tmp_path / "bad.jsonl").exists()

    # Best-of-N through ratings: every pair of the four rated (the two pairs above are full), one row per prompt.
    every = ",".join(names)
    assert f"--variants {every} --best-vs-worst" in printed
    assert simulated.main([*rate, "--variants", every, "--ratings-per-item", "3"]) == 0
    rated = capsys.readouterr().out  # the two pairs above are full: 4 new pairs x 3 prompts x 3 ratings
    assert "wrote 36 simulated ratings" in rated and "18 of 18 items (6 variant pairs) have 3 ratings" in rated
    best = ["export", "--logs-dir", str(logs), "--experiment", experiment_id, "--evaluation", evaluation]
    best += ["--include-simulated", "--variants", every, "--best-vs-worst", "--output", str(tmp_path / "best.jsonl")]
    assert human_eval.main(best) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "best.jsonl").read_text(encoding="utf-8").splitlines()]
    prompts = [row["prompt"][1]["content"] for row in rows]
    dropped = re.search(r"removed (\d+) prompts whose best or worst answer is tied", printed)
    assert rows and len(rows) + (int(dropped.group(1)) if dropped else 0) == 3  # every prompt: a row or a tie
    assert len(set(prompts)) == len(prompts)  # at most one pair per prompt
    assert all(r["chosen"][0]["content"] in texts and r["rejected"][0]["content"] in texts for r in rows)
    assert all(r["chosen"] != r["rejected"] for r in rows)
    kto = [*best[:-1], str(tmp_path / "kto.jsonl"), "--loss", "kto"]
    assert human_eval.main(kto) == 2 and not (tmp_path / "kto.jsonl").exists()
    assert "--best-vs-worst makes DPO pairs" in capsys.readouterr().err


def test_a_sampled_comparison_rates_sft_and_the_preference_model_kth_answer_against_kth(evaluated, capsys):
    """`--eval_samples 3 --eval_sample_variants sft,tuned` on the test split: sampled answers as the Chat tab gives
    them, logged as a round to rate (never the metrics), every row of a prompt in one generate call, then rated by
    the simulated crowd rank by rank and pooled into one win rate."""
    from bempathy.rating import simulated

    out, logs, experiment, trained_ids, _ = evaluated
    common = ["--config", str(TINY_PRESET), "--logs_dir", str(logs), "--output_dir", str(out)]
    sampled = ["--stage", "evaluate", "--eval_max_examples", str(EVALUATED), "--eval_samples", "3"]
    sampled += ["--eval_sample_variants", "sft,tuned", "--eval_temperature", "0.7", "--eval_top_p", "0.9"]
    batches: list[list[str]] = []
    with recorded_batches(batches):
        assert train.main([*common, *sampled, "--generation_batch_size", "6"]) == 0
    record = Store(logs).experiments.get(experiment["id"])
    assert record["metrics"] == experiment["metrics"]  # the test metrics and report stay greedy
    (result,) = [r for r in record["split_evaluations"].values() if r.get("kind") == "sampled"]
    names = ["sft_sample1", "tuned_sample1", "sft_sample2", "tuned_sample2", "sft_sample3", "tuned_sample3"]
    assert result["variants"] == names and result["split"] == "test"
    assert result["n_examples"] == EVALUATED - TRAINED_TEST_PROMPTS and not set(result["example_ids"]) & trained_ids
    decoding = result["decoding"]
    assert decoding["sampled_variants"] == ["sft", "tuned"] and "sampled_variant" not in decoding
    assert (decoding["temperature"], decoding["top_p"], decoding["do_sample"]) == (0.7, 0.9, True)
    assert all(batch == ["sft", "tuned"] * 3 for batch in batches)  # a prompt's six rows, one call each
    assert len(batches) == result["n_examples"]
    logged = Store(logs).responses.find(evaluation_id=result["evaluation_id"])
    assert sorted({r["variant"] for r in logged}) == sorted(names) and len(logged) == 6 * result["n_examples"]
    printed = capsys.readouterr().out
    evaluation = result["evaluation_id"]
    command = f"python -m bempathy.rating.simulated --experiment {experiment['id']} --evaluation {evaluation}"
    assert f"{command} --variants sft,tuned" in printed

    rate = ["--logs-dir", str(logs), "--experiment", experiment["id"], "--evaluation", evaluation, "--raters", "3"]
    assert simulated.main([*rate, "--variants", "sft,tuned"]) == 0
    printed = capsys.readouterr().out
    items = 3 * result["n_examples"]
    assert f"{items} of {items} items (3 variant pairs) have 3 ratings" in printed
    assert "simulated crowd win rate of tuned over sft" in printed and f"n={3 * items}" in printed
    assert f"resampling its {result['n_examples']} prompts" in printed or "no rating picked one answer" in printed
    ratings = Store(logs).ratings.find(evaluation_id=evaluation)
    assert all(set(r["shown"]) in ({f"sft_sample{k}", f"tuned_sample{k}"} for k in (1, 2, 3)) for r in ratings)


def test_sampling_a_variant_the_run_lacks_is_a_one_line_error_and_nothing_is_logged(evaluated, capsys):
    out, logs, *_ = evaluated
    sft = out.parent / "sft"
    before = len(Store(logs).responses.all())
    flags = ["--config", str(TINY_PRESET), "--logs_dir", str(logs), "--output_dir", str(sft), "--stage", "evaluate"]
    flags += ["--eval_samples", "2", "--eval_sample_variants", "sft,tuned"]
    assert train.main(flags) == 2
    err = capsys.readouterr().err
    assert "--eval_sample_variants sft,tuned: this run has no sft" in err and len(err.strip().splitlines()) == 1
    assert len(Store(logs).responses.all()) == before


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--eval_samples", "1", "--eval_split", "train"], "--eval_samples takes 2 or more"),
        (["--eval_samples", "4"], "use the train or val split"),
        (["--eval_samples", "2", "--eval_split", "val", "--eval_top_p", "0"], "--eval_top_p in (0, 1]"),
        (["--eval_samples", "2", "--eval_sample_variants", "sft,dpo"], "--eval_sample_variants takes different"),
        (["--eval_sample_variants", "tuned,tuned"], "--eval_sample_variants takes different"),  # even unused
    ],
    ids=["one-sample", "test-split", "top-p", "unknown-variant", "repeated-variant"],
)
def test_bad_candidate_settings_are_one_line_errors(flags, message, capsys):
    assert train.main(["--config", str(TINY_PRESET), "--stage", "evaluate", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_preference_run_is_scored_as_base_sft_and_tuned_on_prompts_it_did_not_train_on(evaluated):
    out, logs, experiment, trained_ids, _ = evaluated
    metrics = experiment["metrics"]
    assert metrics["variants"] == THREE
    assert metrics["left_out_trained_prompts"] == TRAINED_TEST_PROMPTS
    assert metrics["n_examples"] == EVALUATED - TRAINED_TEST_PROMPTS
    assert not set(metrics["example_ids"]) & trained_ids
    assert RunFolder(out).preferences_path.is_file()  # the rows it trained on travel with the run
    for key, other in (("delta", "base"), ("delta_vs_sft", "sft")):
        chrf = metrics[key]["chrf"]
        assert {other, "tuned", "delta", "ci_low", "ci_high"} <= chrf.keys()
        assert chrf["delta"] == pytest.approx(metrics["tuned"]["chrf"] - metrics[other]["chrf"])
        assert metrics[key]["perplexity"]["delta"] == pytest.approx(
            metrics["tuned"]["perplexity"] - metrics[other]["perplexity"]
        )
    responses = Store(logs).responses.find(evaluation_id=metrics["evaluation_id"])
    by_variant = {v: sorted(r["example_id"] for r in responses if r["variant"] == v) for v in THREE}
    assert by_variant["base"] == by_variant["sft"] == by_variant["tuned"] == sorted(metrics["example_ids"])


def test_the_three_answers_to_a_prompt_share_one_generate_call(evaluated):
    *_, batches = evaluated
    generated = [b for b in batches if len(b) > 1]  # perplexity scores one variant at a time
    assert generated and sum(map(len, generated)) == 3 * (EVALUATED - TRAINED_TEST_PROMPTS)
    for batch in generated:
        assert len(batch) % 3 == 0 and batch == THREE * (len(batch) // 3)


def test_the_report_shows_every_variant_and_both_deltas(evaluated):
    out, *_ = evaluated
    report = RunFolder(out).report_path.read_text(encoding="utf-8")
    assert "## Base vs SFT vs preference-tuned (held-out test split)" in report
    assert "| metric | base | sft | tuned | delta (tuned − base) | 95% CI | delta (tuned − sft) | 95% CI |" in report
    assert f"({TRAINED_TEST_PROMPTS} more left out: the preference stage trained on their prompts)" in report


def test_the_app_serves_three_variants_and_compare_all_answers_them_in_one_generate_call(evaluated):
    out, logs, experiment, *_ = evaluated
    app = RunningApp(["--run", str(out), "--logs-dir", str(logs)])
    try:
        client = app.client()
        assert [v["variant"] for v in client.predict(api_name="/variants")] == ["tuned", "sft", "base"]
        model = app.ctx.chat.model
        calls = []
        generate = model.generate

        def counting(*args, **kwargs):
            calls.append(kwargs["input_ids"].shape[0])
            return generate(*args, **kwargs)

        model.generate = counting
        final = client.predict("পরীক্ষা নিয়ে খুব ভয় লাগছে।", 0.0, api_name="/compare_all")
        assert calls == [3]  # one generate call, one row per variant
        assert final["variants"] == THREE and set(final["answers"]) == set(THREE)
        assert all(final["stats"][v]["done"] for v in THREE)
        payload = client.predict(experiment["id"], api_name="/report")
        assert payload["metrics"]["variants"] == THREE and payload["metrics"]["delta_vs_sft"]
    finally:
        app.close()


def test_raters_can_compare_sft_with_the_preference_model(evaluated):
    _, logs, experiment, *_ = evaluated
    service = RatingService(Store(logs), experiment_id=experiment["id"], variants=parse_variants("sft,tuned"))
    try:
        assert len(service.items) == EVALUATED - TRAINED_TEST_PROMPTS
        assert all(set(item.answers) == {"sft", "tuned"} for item in service.items.values())
    finally:
        service.close()


def test_rate_variants_names_two_variants():
    assert parse_variants(None) == ("base", "tuned")
    assert parse_variants(" sft , tuned ") == ("sft", "tuned")
    for bad in ("sft", "sft,tuned,base", "sft,", "sft,sft"):
        with pytest.raises(HumanEvalError, match="--rate-variants takes two different variant names"):
            parse_variants(bad)


def test_answers_to_another_split_are_logged_for_rating_and_never_replace_the_test_metrics(evaluated, capsys):
    """`--eval_split train`: answers for a rating round whose pairs a preference stage may train on."""
    from bempathy.rating import simulated

    out, logs, _, _, _ = evaluated
    sft = RunFolder(out.parent / "sft")
    experiment_id = sft.experiment_id()
    before = Store(logs).experiments.get(experiment_id)["metrics"]
    report_written = sft.path.joinpath("report.md").stat().st_mtime_ns
    common = ["--config", str(TINY_PRESET), "--logs_dir", str(logs), "--output_dir", str(sft.path)]
    split = ["--stage", "evaluate", "--eval_split", "train", "--eval_max_examples", "3", "--bootstrap_resamples", "20"]
    assert train.main([*common, *split]) == 0
    record = Store(logs).experiments.get(experiment_id)
    assert record["metrics"] == before  # the run's test metrics, report and Rate tab are untouched
    assert sft.path.joinpath("report.md").stat().st_mtime_ns == report_written
    (result,) = [r for r in record["split_evaluations"].values() if r.get("kind") != "candidates"]
    assert result["split"] == "train" and result["n_examples"] == 3
    assert set(result["example_ids"]) <= {row["id"] for row in sft.read_split("train")}
    evaluation_id = result["evaluation_id"]
    assert len(Store(logs).responses.find(evaluation_id=evaluation_id)) == 3 * 2  # base and tuned
    printed = capsys.readouterr().out
    assert "The train split (not held out), 3 examples" in printed and f"--evaluation {evaluation_id}" in printed
    rate = ["--logs-dir", str(logs), "--experiment", experiment_id, "--evaluation", evaluation_id, "--raters", "2"]
    assert simulated.main([*rate, "--ratings-per-item", "1"]) == 0
    assert len(Store(logs).ratings.find(evaluation_id=evaluation_id)) == 3

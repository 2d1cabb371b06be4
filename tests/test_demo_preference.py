"""`demo.py --preference`'s loop, wired end to end on a small share of the data: every step's command runs for real
(with a few flags appended so it takes a minute), and the summary reads each round back from the logs."""

from __future__ import annotations

import shutil

import pytest

import demo
from bempathy.runs import RunFolder
from bempathy.storage.store import Store

pytestmark = pytest.mark.slow
QUICK = {  # appended to each step's own flags (the last value wins): fewer prompts, steps and raters
    "train.py": ["--eval_max_examples", "4", "--preference_max_steps", "2", "--bootstrap_resamples", "20"],
    "-m bempathy.rating.simulated": ["--raters", "3"],
}


def test_the_preference_loop_runs_every_step_and_reports_both_second_rounds(tiny_run, tmp_path, monkeypatch, capsys):
    source_run, source_logs = tiny_run
    run, logs = tmp_path / "sft", tmp_path / "logs"
    shutil.copytree(source_run, run)
    shutil.copytree(source_logs, logs)
    steps: list[tuple[str, list[str]]] = []
    run_step = demo._run_step

    def quick(title: str, module: str, argv: list[str]) -> int:
        steps.append((title, argv))
        return run_step(title, module, [*argv, *QUICK.get(module, [])])

    monkeypatch.setattr(demo, "_run_step", quick)
    status, out = demo.preference_loop(run, str(logs))
    assert status == 0
    assert [title.split(" ")[0] for title, _ in steps] == [f"{k}/8" for k in (1, 2, 3, 4, 5, 6, 7, 8, 7, 8)]
    assert "--best-vs-worst" in steps[2][1] and "--dpo_loss_type" in steps[3][1]
    store = Store(logs)
    record = store.experiments.get(RunFolder(out).experiment_id())
    assert record["stage"] == "preference" and record["parent_experiment"] == RunFolder(run).experiment_id()
    sampled = [e for e in record["split_evaluations"].values() if e.get("kind") == "sampled"]
    assert sorted(e["split"] for e in sampled) == ["test", "val"]
    assert all(e["decoding"]["temperature"] == 0.7 and e["decoding"]["top_p"] == 0.9 for e in sampled)
    for evaluation in [record["metrics"]["evaluation_id"], *(e["evaluation_id"] for e in sampled)]:
        ratings = store.ratings.find(evaluation_id=evaluation)
        assert ratings and all(r["simulated"] for r in ratings)
    printed = capsys.readouterr().out
    summary = printed[printed.index("== The loop, measured") :]
    for name in ("greedy test answers", "sampled val answers", "sampled test answers"):
        assert f"round 2, {name}:" in summary
    assert summary.count("simulated crowd win rate of tuned over sft") == 3

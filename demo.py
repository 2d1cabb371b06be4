"""The whole bempathy pipeline on a laptop, in minutes, with no GPU and no network.

    python demo.py              # build the tiny model, prepare data/sample, fine-tune, evaluate, report, open the app
    python demo.py --no-app     # the same, without starting the app afterwards
    python demo.py --preference # then the preference loop: a simulated crowd rates, DPO learns from it, it rates again

It runs `train.py --config configs/tiny-cpu.yaml --stage all`: `tiny-bn`, a 1.8M-parameter Llama pre-trained
for about half a minute on the sample questions (built once, cached), stands in for LLaMA 3.1-8B and is
LoRA-tuned on the answers; its Bengali is word salad, but base and tuned answers differ visibly. What the demo
shows is every stage working, every number landing in the logs and the report, and the app on top. Any
train.py option can be appended (e.g. `--num_train_epochs 1`); they apply to the fine-tune.

`--preference` goes on with the loop from ratings to a preference model, each step the command the README lists
(printed as it runs): the fine-tune answers its *train* prompts, a SIMULATED crowd (`bempathy.rating.simulated`, no
people) rates base against tuned, the ratings become DPO pairs, DPO trains on them from the fine-tune (holding some
prompts out to check it ranks unseen pairs), the preference run is scored on the held-out *test* prompts as base,
SFT and tuned, and the same simulated crowd rates SFT against tuned there. The app then serves the three variants.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TINY_PRESET = ROOT / "configs" / "tiny-cpu.yaml"


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        description=__doc__.split("\n\n")[0],
        epilog="Other options are passed to train.py (see python train.py --help).",
    )
    parser.add_argument("--output-dir", default="runs/demo", help="where data, adapter and report go")
    parser.add_argument("--logs-dir", default=None, help="TinyDB logs folder (default: $BEMPATHY_LOGS_DIR or ./logs)")
    parser.add_argument("--no-app", action="store_true", help="do not start the app afterwards")
    parser.add_argument(
        "--preference",
        action="store_true",
        help="then rate with a simulated crowd, train DPO on its ratings and rate again (about two more minutes)",
    )
    return parser.parse_known_args(argv)


def _run_step(title: str, module: str, argv: list[str]) -> int:
    """One step of the loop, printed as the command a user would type."""
    print(f"\n== {title}\n$ python {module} {' '.join(argv)}\n", flush=True)
    if module == "train.py":
        import train

        return train.main(argv)
    if module == "-m bempathy.rating.simulated":
        from bempathy.rating import simulated

        return simulated.main(argv)
    from bempathy import human_eval

    return human_eval.main(argv)


def _experiment_id(run: Path) -> str:
    from bempathy.runs import RunFolder

    return str(RunFolder(run).experiment_id())


def _latest_split_evaluation(logs_dir: str | None, experiment_id: str) -> str:
    from bempathy.storage.store import Store

    rounds = Store(logs_dir).experiments.get(experiment_id).get("split_evaluations") or {}
    return max(rounds.values(), key=lambda result: result["evaluated_at"])["evaluation_id"]


def preference_loop(run: Path, logs_dir: str | None) -> tuple[int, Path]:
    """SFT run -> simulated round 1 on train prompts -> DPO pairs -> DPO -> test evaluation -> simulated round 2."""
    out, pairs = Path(f"{run}-dpo"), Path(f"{run}-preferences.jsonl")
    logs = ["--logs_dir", logs_dir] if logs_dir else []
    dash_logs = ["--logs-dir", logs_dir] if logs_dir else []
    preset = ["--config", str(TINY_PRESET)]
    sft, at_run = _experiment_id(run), ["--output_dir", str(run), *logs]
    status = _run_step(
        "1/6 the fine-tune answers its train prompts (base and tuned), for rating",
        "train.py",
        [*preset, "--stage", "evaluate", "--eval_split", "train", "--eval_max_examples", "100000", *at_run],
    )
    if status != 0:
        return status, out
    evaluation, at_out = _latest_split_evaluation(logs_dir, sft), ["--output_dir", str(out), *logs]
    steps = [
        (
            "2/6 a simulated crowd rates them (marked simulated: true, never counted as human)",
            "-m bempathy.rating.simulated",
            ["--experiment", sft, "--evaluation", evaluation, *dash_logs],
        ),
        (
            "3/6 the ratings become DPO pairs (ties, 'both bad' and split votes removed)",
            "-m bempathy.human_eval",
            [
                "export",
                "--experiment",
                sft,
                "--evaluation",
                evaluation,
                "--include-simulated",
                "--output",
                str(pairs),
                *dash_logs,
            ],
        ),
        (
            "4/6 DPO from the fine-tune on those pairs (a share of the prompts held out)",
            "train.py",
            [*preset, "--stage", "preference", "--from_run", str(run), "--preferences", str(pairs), *at_out],
        ),
        (
            "5/6 the preference run scored on the held-out test prompts: base, SFT and tuned in one pass",
            "train.py",
            [*preset, "--stage", "evaluate", *at_out],
        ),
    ]
    for title, module, argv in steps:
        status = _run_step(title, module, argv)
        if status != 0:
            return status, out
    status = _run_step(
        "6/6 the same simulated crowd rates SFT against the preference model on the test prompts",
        "-m bempathy.rating.simulated",
        ["--experiment", _experiment_id(out), "--variants", "sft,tuned", *dash_logs],
    )
    if status == 0:
        print(loop_summary(logs_dir, out))
    return status, out


def loop_summary(logs_dir: str | None, out: Path) -> str:
    """What the loop measured, read back from the logs: the DPO run, its held-out rows, the second round."""
    from bempathy.rating.simulated import crowd_win_rate, decisive_line
    from bempathy.storage.store import Store

    store = Store(logs_dir)
    record = store.experiments.get(_experiment_id(out))
    rows, held, reward = record["preferences"], record.get("held_out") or {}, record["preference_metrics"]
    evaluation = record["metrics"]["evaluation_id"]
    win = crowd_win_rate(store.ratings.find(evaluation_id=evaluation), "sft", "tuned", record["id"])
    lines = [
        "\n== The loop, measured (SIMULATED raters, not people)",
        f"  DPO pairs          {rows['rows']} ({rows['trained_on']} trained on, {rows['held_out']} held out)",
        f"  DPO                loss {record['train_loss']:.3f}, last reward margin "
        f"{reward.get('rewards/margins', float('nan')):.3f}, {record['global_step']} steps, "
        f"{record['runtime_s']:.0f} s",
    ]
    if "likelihood_accuracy_before" in held:
        lines.append(
            f"  held-out pairs     chosen ranked first {held['likelihood_accuracy_before']:.3f} by SFT -> "
            f"{held['likelihood_accuracy_after']:.3f} after DPO; reward accuracy {held['reward_accuracy']:.3f}"
        )
    if win["win"] is not None:
        low, high = win["intervals"]["win"]["low"], win["intervals"]["win"]["high"]
        tally = ", ".join(f"{k} {win['counts'][k]}" for k in ("win", "tie", "loss", "both_bad"))
        lines.append(
            f"  round 2 win rate   tuned over SFT {win['win']:.3f} [{low:.3f}, {high:.3f}] (n={win['n']}: {tally})"
        )
        lines.append(f"  round 2 {decisive_line(win)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(list(sys.argv[1:] if argv is None else argv))
    import train

    started = time.monotonic()
    command = ["--config", str(TINY_PRESET), "--stage", "all", "--output-dir", args.output_dir]
    if args.logs_dir:
        command += ["--logs_dir", args.logs_dir]
    status = train.main(command + passthrough)
    if status != 0:
        return status
    served = Path(args.output_dir)
    if args.preference:
        status, served = preference_loop(served, args.logs_dir)
        if status != 0:
            return status
    print(f"Demo finished in {time.monotonic() - started:.0f} s. Report: {served / 'report.md'}")
    if args.no_app:
        return 0
    import app

    app_args = ["--run", str(served)] + (["--logs-dir", args.logs_dir] if args.logs_dir else [])
    if args.preference:
        app_args += ["--rate-variants", "sft,tuned"]
    print("Opening the app on this run (Chat, Compare, Reports, Human evaluation); Ctrl-C stops it.")
    return app.main(app_args)


if __name__ == "__main__":
    sys.exit(main())

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
(printed as it runs): the fine-tune samples 8 answers per *train* prompt, a SIMULATED crowd
(`bempathy.rating.simulated`, no people) rates every pair of them, each prompt's best-ranked answer against its
worst becomes a DPO pair, DPO trains on them from the fine-tune (holding some prompts out to check it ranks unseen
pairs). The preference run then answers the held-out *test* prompts greedy as base, SFT and tuned (the metrics
and report), and the held-out *val* and *test* prompts sampled as SFT and tuned (4 answers each at the Chat tab's
temperature and top_p, at the preset's length), each round rated SFT against tuned by the same crowd. The app then
serves the three variants.
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
        help="then rate with a simulated crowd, train DPO on its ratings and rate again (a few more minutes)",
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


CANDIDATES = 8  # sampled answers per train prompt in round 1: best-of-8 through ratings (bench/RESULTS.md)
ROUND2_SAMPLES = 4  # sampled answers per held-out prompt and variant in round 2
ROUND2_SPLITS = ("val", "test")  # held out of both trainings: 30 + 15 prompts on the sample data
DPO = ["--preference_loss", "dpo", "--dpo_loss_type", "sft", "--preference_max_steps", "32"]  # bench/RESULTS.md


def preference_loop(run: Path, logs_dir: str | None) -> tuple[int, Path]:
    """SFT run -> 8 sampled answers per train prompt -> every pair rated by a simulated crowd -> each prompt's best
    answer against its worst -> DPO -> the test prompts greedy (the metrics), the val and test prompts sampled at
    the Chat tab's temperature and top_p, each round rated SFT against the preference model by the same crowd."""
    from bempathy.serve.requests import CHAT_TEMPERATURE, CHAT_TOP_P

    out, pairs = Path(f"{run}-dpo"), Path(f"{run}-preferences.jsonl")
    logs = ["--logs_dir", logs_dir] if logs_dir else []
    dash_logs = ["--logs-dir", logs_dir] if logs_dir else []
    preset, sft = ["--config", str(TINY_PRESET)], _experiment_id(run)
    samples = ",".join(f"sample{k}" for k in range(1, CANDIDATES + 1))
    candidates_round = ["--eval_split", "train", "--eval_max_examples", "100000", "--eval_samples", str(CANDIDATES)]
    status = _run_step(
        f"1/8 the fine-tune samples {CANDIDATES} answers per train prompt (its own candidates, for rating)",
        "train.py",
        [*preset, "--stage", "evaluate", *candidates_round, "--output_dir", str(run), *logs],
    )
    if status != 0:
        return status, out
    candidates = ["--experiment", sft, "--evaluation", _latest_split_evaluation(logs_dir, sft), "--variants", samples]
    at_out = ["--output_dir", str(out), *logs]
    steps = [
        (
            "2/8 a simulated crowd rates every pair of them (marked simulated: true, never counted as human)",
            "-m bempathy.rating.simulated",
            [*candidates, *dash_logs],
        ),
        (
            "3/8 one DPO pair per prompt: the answer the crowd ranked best against the one it ranked worst",
            "-m bempathy.human_eval",
            ["export", *candidates, "--best-vs-worst", "--include-simulated", "--output", str(pairs), *dash_logs],
        ),
        (
            "4/8 DPO from the fine-tune on those pairs (a share of the prompts held out)",
            "train.py",
            [*preset, "--stage", "preference", "--from_run", str(run), "--preferences", str(pairs), *DPO, *at_out],
        ),
        (
            "5/8 the preference run scored on the held-out test prompts: base, SFT and tuned in one pass (greedy)",
            "train.py",
            [*preset, "--stage", "evaluate", *at_out],
        ),
    ]
    for title, module, argv in steps:
        status = _run_step(title, module, argv)
        if status != 0:
            return status, out
    preference = _experiment_id(out)
    as_chat = ["--eval_samples", str(ROUND2_SAMPLES), "--eval_sample_variants", "sft,tuned"]
    as_chat += ["--eval_temperature", str(CHAT_TEMPERATURE), "--eval_top_p", str(CHAT_TOP_P)]
    status = _run_step(
        "6/8 the same crowd rates SFT against the preference model on those greedy answers",
        "-m bempathy.rating.simulated",
        ["--experiment", preference, "--variants", "sft,tuned", *dash_logs],
    )
    for split in ROUND2_SPLITS:
        if status != 0:
            break
        status = _run_step(
            f"7/8 ({split}) SFT and the preference model sample {ROUND2_SAMPLES} answers per {split} prompt at the "
            f"Chat tab's temperature {CHAT_TEMPERATURE} and top_p {CHAT_TOP_P} (the preset's length)",
            "train.py",
            [*preset, "--stage", "evaluate", "--eval_split", split, *as_chat, *at_out],
        )
        if status == 0:
            sampled = _latest_split_evaluation(logs_dir, preference)
            status = _run_step(
                f"8/8 ({split}) the crowd rates them, each model's k-th answer against the other's k-th",
                "-m bempathy.rating.simulated",
                ["--experiment", preference, "--evaluation", sampled, "--variants", "sft,tuned", *dash_logs],
            )
    if status == 0:
        print(loop_summary(logs_dir, out))
    return status, out


def loop_summary(logs_dir: str | None, out: Path) -> str:
    """What the loop measured, read back from the logs: the DPO run, its held-out rows, both second rounds."""
    from bempathy.rating.simulated import evaluation_win_rate, win_rate_lines
    from bempathy.storage.store import Store

    store = Store(logs_dir)
    record = store.experiments.get(_experiment_id(out))
    rows, held, reward = record["preferences"], record.get("held_out") or {}, record["preference_metrics"]
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
    rounds = [("greedy test answers", record["metrics"]["evaluation_id"])]
    sampled = [e for e in (record.get("split_evaluations") or {}).values() if e.get("kind") == "sampled"]
    for split in ROUND2_SPLITS:  # the latest sampled round of each split
        of_split = [e for e in sampled if e["split"] == split]
        if of_split:
            latest = max(of_split, key=lambda e: e["evaluated_at"])
            rounds.append((f"sampled {split} answers", latest["evaluation_id"]))
    for name, evaluation in rounds:
        win = evaluation_win_rate(store, record["id"], evaluation, ("sft", "tuned"))
        lines += [f"  round 2, {name}:", *(f"    {line}" for line in win_rate_lines(win, ("sft", "tuned")))]
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

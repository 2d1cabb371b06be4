"""The preference loop (best-of-8 through ratings), once per rating draw, and its second round rated two ways.

Why: one draw of the simulated crowd's ratings trains one preference model, and the previous measurements showed
the greedy second round swinging from 0.32 to 0.88 (decisive rate) between draws. This script runs the committed
commands for several draws on one SFT run and rates each preference model against SFT on the held-out splits
(val and test) twice, each with the project's own commands:

- **greedy**: ``--stage evaluate`` (``--eval_split val`` logs a round to rate; test gives the run's metrics);
- **sampled**: ``--stage evaluate --eval_samples K --eval_sample_variants sft,tuned`` at the Chat tab's default
  temperature and top_p (``bempathy.serve.requests``: 0.7, 0.9; the length is the preset's ``max_new_tokens``,
  not the Chat tab's 256 unless ``--chat-length`` adds that round), which ``rating.simulated --variants
  sft,tuned`` rates k-th answer against k-th.

Both are rated by ``python -m bempathy.rating.simulated`` (3 ratings per item, the draw's seed), and the figures
are :func:`bempathy.rating.simulated.evaluation_win_rate`'s: Wilson intervals over ratings, the decisive rate
with a sign test and an interval that resamples whole prompts. Nothing here tunes a setting: the loop's settings
are the ones the README documents (``--dpo_loss_type sft``, 32 steps).

    python bench/preference_loop.py --work /tmp/loop --seeds 0 1 2 3   # ~4 min per draw on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bempathy.rating.simulated import decisive_line, evaluation_win_rate, repetition  # noqa: E402
from bempathy.runs import RunFolder  # noqa: E402
from bempathy.serve.requests import CHAT_MAX_NEW_TOKENS, CHAT_TEMPERATURE, CHAT_TOP_P  # noqa: E402
from bempathy.storage.store import Store  # noqa: E402

PRESET = "configs/tiny-cpu.yaml"
PAIR = ("sft", "tuned")  # round 2: the preference model (tuned) against the SFT run it started from
SAMPLES = [f"sample{k}" for k in range(1, 9)]


def sh(*args: str, log: Path) -> None:
    """Run one of the project's commands; its output goes to ``log``; a failure stops the script."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        subprocess.run(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=True)


def candidates(store: Store, experiment_id: str) -> str:
    """The SFT run's candidates round (train split, 8 samples per prompt): its evaluation id."""
    rounds = (store.experiments.get(experiment_id) or {}).get("split_evaluations") or {}
    found = [eid for eid, r in rounds.items() if r.get("kind") == "candidates" and len(r.get("variants", [])) == 8]
    if not found:
        raise SystemExit("no 8-sample candidates round on the SFT run: run the evaluate stage with --eval_samples 8")
    return found[-1]


def second_round(run_dir: Path, logs: Path, seed: int, samples: int, log: Path, chat_length: bool) -> dict:
    """SFT vs the preference model on val and test: greedy, and ``samples`` sampled answers each (at 0.7 / 0.9;
    with ``chat_length`` also at the Chat tab's 256 new tokens), each round the evaluate stage's and rated by the
    simulated crowd's command."""
    at = ["--config", PRESET, "--output_dir", str(run_dir), "--logs_dir", str(logs), "--eval_max_examples", "100000"]
    as_chat = ["--eval_sample_variants", "sft,tuned", "--eval_temperature", str(CHAT_TEMPERATURE), "--eval_top_p",
               str(CHAT_TOP_P), "--eval_seed", str(seed), "--eval_samples", str(samples)]  # fmt: skip
    experiment = str(RunFolder(run_dir).experiment_id())
    results: dict = {}
    for split in ("val", "test"):
        modes = [("greedy", []), ("sampled", as_chat)]
        modes += [("sampled-chat-length", [*as_chat, "--max_new_tokens", str(CHAT_MAX_NEW_TOKENS)])] * chat_length
        for mode, extra in modes:
            sh(sys.executable, "train.py", *at, "--stage", "evaluate", "--eval_split", split, *extra, log=log)
            evaluation = latest_evaluation(logs, experiment)
            sh(sys.executable, "-m", "bempathy.rating.simulated", "--logs-dir", str(logs), "--experiment", experiment,
               "--evaluation", evaluation, "--variants", "sft,tuned", "--seed", str(seed), log=log)  # fmt: skip
            store = Store(logs, ratings_fold_interval=None)
            try:
                win = evaluation_win_rate(store, experiment, evaluation, PAIR)
                answers = list(store.responses.find(evaluation_id=evaluation))
            finally:
                store.ratings.close()
            figures = {k: win[k] for k in ("win", "n", "counts", "intervals", "decisive", "by_prompt")}
            shares = {v: [repetition(a["response_text"]) for a in answers if a["variant"].startswith(v)] for v in PAIR}
            figures["repetition"] = {v: round(float(np.mean(shares[v])), 3) for v in PAIR}
            results[f"{split}/{mode}"] = {"evaluation_id": evaluation, **figures}
    return results


def latest_evaluation(logs: Path, experiment: str) -> str:
    """The evaluation the last evaluate stage logged: a round to rate, or (test, greedy) the run's metrics."""
    record = Store(logs, ratings_fold_interval=None).experiments.get(experiment) or {}
    rounds = [*(record.get("split_evaluations") or {}).values(), record.get("metrics") or {}]
    return max((r for r in rounds if r.get("evaluated_at")), key=lambda r: r["evaluated_at"])["evaluation_id"]


def line(name: str, figures: dict) -> str:
    c, w = figures["counts"], figures["intervals"]["win"]
    return (
        f"{name:14s} ratings {figures['n']:4d}  win {figures['win']:.3f} [{w['low']:.3f}, {w['high']:.3f}]  "
        f"{decisive_line(figures)}  "
        f"(w/t/l/bb {c['win']}/{c['tie']}/{c['loss']}/{c['both_bad']})  "
        f"repetition sft {figures['repetition']['sft']} tuned {figures['repetition']['tuned']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder of the SFT run (runs/tiny) and logs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="rating draws (the crowd's --seed)")
    parser.add_argument("--samples", type=int, default=4, help="sampled answers per prompt and variant in round 2")
    parser.add_argument(
        "--chat-length", action="store_true", help="round 2 also samples at the Chat tab's 256 new tokens"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work, log = args.work.resolve(), args.work.resolve() / "loop.log"
    sft_run, logs = work / "runs" / "tiny", work / "logs"
    if not (sft_run / "experiment.json").exists():  # the SFT run and its candidates round, once
        sh(sys.executable, "train.py", "--config", PRESET, "--stage", "all", "--output_dir", str(sft_run),
           "--logs_dir", str(logs), log=log)  # fmt: skip
        sh(sys.executable, "train.py", "--config", PRESET, "--stage", "evaluate", "--output_dir", str(sft_run),
           "--logs_dir", str(logs), "--eval_split", "train", "--eval_max_examples", "100000", "--eval_samples", "8",
           log=log)  # fmt: skip
    experiment = RunFolder(sft_run).experiment_id()
    store = Store(logs, ratings_fold_interval=None)
    evaluation = candidates(store, experiment)
    store.ratings.close()
    summary_path = work / "summary.json"  # draws of earlier calls are kept; a draw run again is replaced
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for seed in args.seeds:
        draw = work / f"draw{seed}"
        shutil.rmtree(draw, ignore_errors=True)
        shutil.copytree(logs, draw / "logs")
        at = ["--logs-dir", str(draw / "logs"), "--experiment", experiment, "--evaluation", evaluation]
        started = time.monotonic()
        sh(sys.executable, "-m", "bempathy.rating.simulated", *at, "--variants", ",".join(SAMPLES), "--seed",
           str(seed), log=log)  # fmt: skip
        sh(sys.executable, "-m", "bempathy.human_eval", "export", *at, "--variants", ",".join(SAMPLES),
           "--best-vs-worst", "--include-simulated", "--loss", "dpo", "--output", str(draw / "prefs.jsonl"),
           log=log)  # fmt: skip
        sh(sys.executable, "train.py", "--config", PRESET, "--stage", "preference", "--from_run", str(sft_run),
           "--preferences", str(draw / "prefs.jsonl"), "--preference_loss", "dpo", "--dpo_loss_type", "sft",
           "--preference_max_steps", "32", "--output_dir", str(draw / "run"), "--logs_dir", str(draw / "logs"),
           log=log)  # fmt: skip
        results = second_round(draw / "run", draw / "logs", seed, args.samples, log, args.chat_length)
        pairs = sum(1 for _ in (draw / "prefs.jsonl").open())
        store = Store(draw / "logs", ratings_fold_interval=None)
        held = (store.experiments.get(RunFolder(draw / "run").experiment_id()) or {}).get("held_out") or {}
        store.ratings.close()
        results["held_out_pairs"] = {k: held.get(k) for k in ("rows", "likelihood_accuracy_before",
                                     "likelihood_accuracy_after", "reward_accuracy")}  # fmt: skip
        summary[str(seed)] = {"pairs": pairs, "seconds": round(time.monotonic() - started), **results}
        print(f"draw {seed}: {pairs} pairs, {summary[str(seed)]['seconds']} s")
        for name, figures in results.items():
            print("  " + (line(name, figures) if name != "held_out_pairs" else f"held-out pairs {figures}"))
        summary_path.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

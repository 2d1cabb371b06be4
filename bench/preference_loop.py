"""The preference loop (best-of-8 through ratings), once per rating draw, and its second round rated two ways.

Why: one draw of the simulated crowd's ratings trains one preference model, and the previous measurements showed
the greedy second round swinging from 0.32 to 0.88 (decisive rate) between draws. This script runs the committed
commands for several draws on one SFT run and rates each preference model against SFT on the held-out splits
(val and test) twice:

- **greedy**: one answer per prompt and variant (``do_sample`` off), as ``--stage evaluate`` writes them;
- **sampled**: ``--samples`` sampled answers per prompt and variant at the Chat tab's default temperature and top_p
  (``bempathy.serve.requests``: 0.7, 0.9; the length is the preset's ``max_new_tokens``, as in the greedy round,
  not the Chat tab's 256), one item per (prompt, sample), so each item is SFT's k-th answer against the
  preference model's k-th answer to the same prompt.

Both are rated by ``bempathy.rating.simulated`` (3 ratings per item, the draw's seed) into a store of their own,
and the win rates are the summary's (Wilson intervals over ratings, decisive rate with a sign test), plus a
decisive-rate interval that resamples whole prompts (:func:`clustered_interval`). Nothing here tunes a
setting: the loop's settings are the ones the README documents (``--dpo_loss_type sft``, 32 steps).

    python bench/preference_loop.py --work /tmp/loop --seeds 0 1 2 3   # ~190 s per draw on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bempathy.data.subsets import select_examples  # noqa: E402
from bempathy.eval.evaluator import held_out_rows, split_prompt  # noqa: E402
from bempathy.model.chat import ChatModel, DecodingSettings  # noqa: E402
from bempathy.rating.items import Item, make_item_id  # noqa: E402
from bempathy.rating.simulated import crowd_win_rate, decisive_line, repetition, simulate_round  # noqa: E402
from bempathy.runs import RunFolder  # noqa: E402
from bempathy.serve.plan import plan_from_run  # noqa: E402
from bempathy.serve.requests import CHAT_TEMPERATURE, CHAT_TOP_P  # noqa: E402
from bempathy.storage.store import Store  # noqa: E402

PRESET = "configs/tiny-cpu.yaml"
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


def clustered_interval(records: list[dict], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the decisive rate when whole prompts are resampled: a prompt's sampled items share
    its text, so they are not independent and the Wilson interval over items is too narrow."""
    tally: dict[str, list[int]] = {}
    for record in records:
        wins = tally.setdefault(str(record["example_id"]).split("#")[0], [0, 0])
        if record.get("preferred_variant") == "tuned":
            wins[0] += 1
        elif record.get("preferred_variant") == "sft":
            wins[1] += 1
    counts = np.array(list(tally.values()), dtype=float)
    if not counts.size or not counts.sum():
        return math.nan, math.nan  # no rating picked one answer: no rate to bound
    picks = np.random.default_rng(seed).integers(0, len(counts), size=(resamples, len(counts)))
    won, lost = counts[picks, 0].sum(axis=1), counts[picks, 1].sum(axis=1)
    decided = won + lost > 0  # a resample of prompts with no decisive rating has no rate: left out, not counted 0
    rates = won[decided] / (won[decided] + lost[decided])
    return float(np.quantile(rates, 0.025)), float(np.quantile(rates, 0.975))


def paired_items(rows: list[dict], prompts: list[list[dict]], texts: list[str], k: int, tag: str) -> list[Item]:
    """One item per (prompt, sample j): SFT's j-th answer against tuned's j-th. ``texts`` are in generation order,
    prompt by prompt, sample by sample, SFT before tuned (as :func:`second_round` lays out the rows)."""
    items = []
    for i, row in enumerate(rows):
        for j in range(k):
            at, key = 2 * (i * k + j), f"{row.get('id')}#{j}"
            answers = {"sft": texts[at], "tuned": texts[at + 1]}
            items.append(Item(make_item_id(tag, key, ("sft", "tuned")), prompts[i][-1]["content"], answers, "run", key))
    return items


def rate(items: list[Item], logs: Path, seed: int) -> dict:
    """The simulated crowd's round on these items (3 ratings each), and SFT-vs-tuned figures from the summary."""
    store = Store(logs, ratings_fold_interval=None)
    try:
        simulate_round(store, items, raters=8, ratings_per_item=3, seed=seed, experiment_id=None, evaluation_id="r2")
        records = list(store.ratings.find(evaluation_id="r2"))
    finally:
        store.ratings.close()
    win = crowd_win_rate(records, "sft", "tuned")
    figures = {"items": len(items), **{k: win[k] for k in ("win", "n", "counts", "intervals", "decisive")}}
    return {**figures, "by_prompt": clustered_interval(records)}


def second_round(run_dir: Path, out: Path, seed: int, samples: int) -> dict:
    """SFT vs the preference model on val and test: greedy, and ``samples`` sampled answers each (at 0.7 / 0.9)."""
    run = RunFolder(run_dir)
    config = run.config()
    chat = ChatModel.load(run.base_model(config), adapters=dict(plan_from_run(run_dir).adapters))
    sft_config = (run.parent(config) or run).config()  # a preference run saves no eval section; its SFT run does
    max_new = (sft_config.get("eval") or {}).get("max_new_tokens")
    if not max_new:
        raise SystemExit(f"{run_dir}: no eval.max_new_tokens in its SFT run's saved config")
    trained = run.preference_user_turns()
    results: dict = {}
    for split in ("val", "test"):
        rows, _ = held_out_rows(select_examples(run.data_run().read_split(split), None, 0), trained)
        prompts = [split_prompt(row["messages"])[0] for row in rows]
        for mode, decoding, k in (
            ("greedy", DecodingSettings(max_new_tokens=max_new), 1),
            (
                "sampled",
                DecodingSettings(
                    max_new_tokens=max_new, do_sample=True, temperature=CHAT_TEMPERATURE, top_p=CHAT_TOP_P
                ),
                samples,
            ),
        ):
            conversations = [p for p in prompts for _ in range(k) for _ in ("sft", "tuned")]
            variants = [v for _ in prompts for _ in range(k) for v in ("sft", "tuned")]
            texts = [g.text for g in chat.generate(conversations, variants, decoding, batch_size=16, seed=seed)]
            items = paired_items(rows, prompts, texts, k, f"{split}-{mode}")
            figures = rate(items, out / f"logs-{split}-{mode}", seed)
            figures["repetition"] = {
                v: round(sum(repetition(item.answers[v]) for item in items) / len(items), 3) for v in ("sft", "tuned")
            }
            results[f"{split}/{mode}"] = figures
    return results


def line(name: str, figures: dict) -> str:
    c, w = figures["counts"], figures["intervals"]["win"]
    low, high = figures["by_prompt"]
    return (
        f"{name:14s} items {figures['items']:4d}  win {figures['win']:.3f} [{w['low']:.3f}, {w['high']:.3f}]  "
        f"{decisive_line(figures)}, by prompt [{low:.3f}, {high:.3f}]  "
        f"(w/t/l/bb {c['win']}/{c['tie']}/{c['loss']}/{c['both_bad']})  "
        f"repetition sft {figures['repetition']['sft']} tuned {figures['repetition']['tuned']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder of the SFT run (runs/tiny) and logs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="rating draws (the crowd's --seed)")
    parser.add_argument("--samples", type=int, default=4, help="sampled answers per prompt and variant in round 2")
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
        results = second_round(draw / "run", draw, seed, args.samples)
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

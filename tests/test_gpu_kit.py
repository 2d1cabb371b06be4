"""The GPU kit (bench/gpu.sh) stays runnable before a GPU comes: its dry run on CPU, and its MFU arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]


def test_gpu_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu.sh")], check=True)


def test_mfu_is_four_flop_per_parameter_and_token_over_the_peak():
    import gpu_kit

    # 8.03e9 parameters at 10,000 tokens/s: 3.2e14 FLOP/s of 7.9e14
    assert gpu_kit.mfu(10_000, 8_030_261_248) == pytest.approx(4 * 8_030_261_248 * 10_000 / 790e12)


@pytest.mark.slow
def test_dry_run_builds_the_8b_on_meta_and_runs_every_cpu_path(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu.sh"), "--dry-run", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    failed = {name: r.get("error") for name, r in results.items() if not r["ok"]}
    assert not failed
    meta = results["meta_setup"]
    assert meta["parameters"] == 8_030_261_248  # Llama 3.1-8B
    assert meta["lora_parameters"] == 41_943_040  # r=16 on all seven projections (bench/lora_params_8b.py)
    runs = results["train_bf16"]["runs"]
    assert set(runs) == {"bempathy", "trl"} and all(r["tokens_per_s"] > 0 for r in runs.values())
    assert runs["bempathy"]["trainer"] == "BempathySFTTrainer" and runs["trl"]["trainer"] == "SFTTrainer"
    assert results["train_peft_cpu"]["finite"] and results["train_peft_cpu"]["steps"] == 2
    ppl = results["item2_perplexity_memory"]
    assert ppl["tokens"] > 4500 and ppl["answer_tokens"] > 2000
    assert results["chat_first_token"]["first_token_s_median"] > 0
    assert results["item7_plumbing"]["match"]

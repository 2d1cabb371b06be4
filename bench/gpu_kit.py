"""The GPU checks, prepared to run in the few minutes a GPU is lent: ``bash bench/gpu.sh OUT [1|2]`` calls this.

Part 1 (transformers + peft + bitsandbytes + trl): the real Llama 3.1-8B architecture with random weights
(nothing downloaded) trains ~20 steps with the PEFT strategy in bf16 and in 4-bit (QLoRA, loaded through
``PeftStrategy.load`` from a saved random checkpoint), each with bempathy's batching and with TRL's default:
tokens/s, **MFU** (a LoRA step is ~4 x parameters FLOP per token: forward 2, backward through the frozen weights
2, over ~790 TFLOP/s dense bf16 measured on an H200) and peak memory. Then GPU readiness items: (1) fp16 +
QLoRA with the LoRA weights kept in fp32 survives optimizer steps under the fp16 GradScaler; (2) answer-only
perplexity of one 4,500-token example peaks far below full logits; and chat time to first token on the tuned 8B.
Part 2 (unsloth): the same training with the Unsloth strategy, its adapter saved; then (7) a fresh process
without unsloth loads base + adapter with plain transformers and its answer-token losses on the same batch must
match the Unsloth process's (Unsloth patches Llama classes process-wide, so evaluation runs in a fresh process).

``--dry-run`` runs on a CPU: the 8B set-up on PyTorch's meta device (parameter counts, LoRA size, MFU formula),
and every step's code path with the small benchmark model, so the kit does not rot before a GPU comes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bempathy.hardware import release_memory  # noqa: E402  (after the path set-up; imports no torch)

H200_BF16_FLOPS = 790e12  # dense bf16 matmul, measured on that chip (performance issue)
LORA_FLOP_PER_PARAM_TOKEN = 4
TRAIN_STEPS = 20
TRAIN_ROWS = 160  # corpus-shaped; 20 steps x 2 x 2 micro-batch rows = 80 of them are trained on
# Item 1: what a T4 gets (fp16, no bf16) with QLoRA; the LoRA weights must stay fp32 for the GradScaler.
FP16_QLORA = {"load_in_4bit": True, "fp16": True, "bf16": False}


def mfu(tokens_per_s: float, parameters: int, peak_flops: float = H200_BF16_FLOPS) -> float:
    """Model FLOP utilisation of a LoRA step: ~4 x parameters FLOP per token over the chip's peak."""
    return tokens_per_s * LORA_FLOP_PER_PARAM_TOKEN * parameters / peak_flops


def meta_setup() -> dict[str, Any]:
    """The 8B model and its LoRA built on the meta device: shapes and counts, nothing allocated."""
    from bench_model import build_model, count_parameters
    from peft import LoraConfig, get_peft_model

    from bempathy.config import LoraModelConfig

    model = build_model("8b", device="meta")
    parameters = count_parameters(model)
    m = LoraModelConfig()
    lora = get_peft_model(
        model, LoraConfig(r=m.lora_r, lora_alpha=m.lora_alpha, target_modules=list(m.lora_target_modules))
    )
    trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    return {"parameters": parameters, "lora_parameters": trainable, "mfu_at_1000_tok_s": mfu(1000, parameters)}


def _record(out: Path, name: str, fn, *args, **kwargs) -> dict[str, Any]:
    """Run one check, write its result (or its error) to OUT/NAME.json, and keep going either way."""
    started = time.perf_counter()
    try:
        result = {"ok": True, **fn(*args, **kwargs)}
    except Exception as error:  # a GPU check that fails is a finding, not the end of the kit
        result = {"ok": False, "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
    result["seconds"] = round(time.perf_counter() - started, 1)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"gpu-kit: {name}: {'ok' if result['ok'] else result['error']} ({result['seconds']} s)", flush=True)
    return result


def environment() -> dict[str, Any]:
    import importlib.metadata as metadata

    import torch

    versions = {}
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "unsloth", "datasets"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"gpu": gpu, "versions": versions, "bf16": torch.cuda.is_available() and torch.cuda.is_bf16_supported()}


def kit_rows(tokenizer: Any, dry_run: bool) -> list[dict]:
    """Corpus-shaped rows at full length on a GPU; a few short ones for the CPU dry run (its paths, not speed)."""
    from corpus_shape import tokenized_rows
    from train_speed import build_rows

    from bempathy.prompts import SYSTEM_PROMPT

    return tokenized_rows(tokenizer, [48] * 8, SYSTEM_PROMPT) if dry_run else build_rows(tokenizer, TRAIN_ROWS, "new")


def train_bf16(shape: str, tokenizer: Any, steps: int, rows: list[dict]) -> dict[str, Any]:
    """PEFT LoRA in bf16 on the random 8B: bempathy's batching vs TRL's default, the same steps."""
    from bench_model import build_model, count_parameters
    from train_speed import train_one

    parameters = count_parameters(build_model(shape, device="meta"))
    runs = {}
    for setup in ("bempathy", "trl"):
        run = train_one(setup, rows, tokenizer, shape, max_steps=steps)
        run["mfu"] = round(mfu(run["tokens_per_s"], parameters), 3)
        runs[setup] = run
        release_memory()
    return {"parameters": parameters, "runs": runs}


def _strategy_run(
    model_dir: Path, tokenizer: Any, rows: list[dict], steps: int, strategy: str, **overrides: Any
) -> dict[str, Any]:
    """A few training steps through bempathy's own strategy loader and trainer (4-bit, fp16, Unsloth)."""
    import torch
    from datasets import Dataset
    from train_speed import ACCUMULATION, BATCH_SIZE, CountingCollator

    from bempathy.config import LoraModelConfig, TrainConfig
    from bempathy.train.finetuner import keep_trainable_fp32
    from bempathy.train.strategies import STRATEGIES

    on_gpu = torch.cuda.is_available()
    model_args = LoraModelConfig(model_name_or_path=str(model_dir), load_in_4bit=overrides.pop("load_in_4bit", False))
    model_args.use_bnb_nested_quant = True
    model_args.bnb_4bit_quant_type = "nf4"
    args = TrainConfig(
        output_dir=str(model_dir.parent / f"run-{strategy}"),
        per_device_train_batch_size=BATCH_SIZE,
        gradient_accumulation_steps=ACCUMULATION,
        max_steps=steps,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        assistant_only_loss=False,
        gradient_checkpointing=on_gpu,
        **overrides,
    )
    strategy_obj = STRATEGIES[strategy](model_args, args)
    loaded = strategy_obj.load(max_seq_length=max(len(r["input_ids"]) for r in rows))
    trainer = strategy_obj.trainer_class()(
        model=loaded.model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=loaded.peft_config,
    )
    if args.fp16:
        keep_trainable_fp32(trainer.model)
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    adapter = model_dir.parent / f"adapter-{strategy}"
    trainer.model.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    result = {
        "strategy": strategy,
        "quantization": strategy_obj.quantization(),
        "trainable_dtypes": sorted({str(p.dtype) for p in trainer.model.parameters() if p.requires_grad}),
        "steps": output.global_step,
        "losses": losses,
        "finite": all(loss == loss and abs(loss) != float("inf") for loss in losses),
        "tokens_per_s": round(counter.tokens / seconds, 1),
        "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if on_gpu else None,
        "adapter": str(adapter),
    }
    del trainer, loaded
    release_memory()
    return result


def perplexity_memory(model_dir: Path, tokenizer: Any) -> dict[str, Any]:
    """Item 2: answer-token NLL of one 4,500-token example on the 4-bit 8B: peak memory vs full logits."""
    import torch
    from corpus_shape import LONGEST_TOKENS, tokenized_rows
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    on_gpu = torch.cuda.is_available()
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if on_gpu else torch.float32}
    if on_gpu:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    row = tokenized_rows(tokenizer, [LONGEST_TOKENS], None)[0]
    labels = [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True)]
    from bempathy.eval.evaluator import answer_token_nll

    if on_gpu:
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    nll, n = answer_token_nll(model, [(row["input_ids"], labels)], tokenizer.pad_token_id, batch_size=1)
    peak = (torch.cuda.max_memory_allocated() - before) / 2**20 if on_gpu else None
    result = {"tokens": len(row["input_ids"]), "answer_tokens": n, "nll_per_token": nll / n, "peak_growth_mb": peak}
    result["full_fp32_logits_mb"] = round(len(row["input_ids"]) * model.config.vocab_size * 4 / 2**20, 1)
    del model
    release_memory()
    return result


def chat_first_token(model_dir: Path, adapter: str | None, tokenizer: Any) -> dict[str, Any]:
    """Chat time to first token and streaming tokens/s on the tuned model, through the app's generation path."""
    from bempathy.model.chat import ChatModel, DecodingSettings
    from bempathy.prompts import chat_messages

    model = ChatModel.load(str(model_dir), adapter)
    messages = chat_messages("আমার খুব একা লাগে, কারও সঙ্গে কথা বলতে ইচ্ছে করে না।")[:2]
    settings = DecodingSettings(temperature=0.0, max_new_tokens=64)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        first = None
        pieces = 0
        for _piece in model.stream(messages, variant="tuned" if adapter else "base", settings=settings):
            first = first or time.perf_counter() - started
            pieces += 1
        timings.append({"first_token_s": first, "seconds": time.perf_counter() - started, "chunks": pieces})
    del model
    release_memory()
    return {"runs": timings, "first_token_s_median": sorted(t["first_token_s"] or 0 for t in timings)[1]}


def fresh_process_losses(model_dir: Path, adapter: str, tokenizer_dir: Path) -> list[float]:
    """Item 7: per-row answer losses of base + adapter computed by a process that never imports unsloth."""
    code = (
        "import json,sys,torch; sys.path[:0]=[{root!r},{bench!r}];"
        "from gpu_kit import batch_losses; print(json.dumps(batch_losses({model!r},{adapter!r},{tok!r})))"
    ).format(root=str(ROOT), bench=str(ROOT / "bench"), model=str(model_dir), adapter=adapter, tok=str(tokenizer_dir))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "fresh process failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def batch_losses(model_dir: str, adapter: str, tokenizer_dir: str, model: Any = None) -> list[float]:
    """Mean answer-token NLL of four fixed corpus-shaped rows under base + adapter (plain transformers + peft
    unless ``model`` is given)."""
    import torch
    from corpus_shape import tokenized_rows

    from bempathy.eval.evaluator import answer_token_nll
    from bempathy.model.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    if model is None:
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        on_gpu = torch.cuda.is_available()
        base = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=torch.bfloat16 if on_gpu else torch.float32, device_map={"": 0} if on_gpu else None
        )
        model = PeftModel.from_pretrained(base, adapter).eval()
    losses = []
    for row in tokenized_rows(tokenizer, [64, 200, 500, 900], None, seed=7):
        labels = [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True)]
        nll, n = answer_token_nll(model, [(row["input_ids"], labels)], tokenizer.pad_token_id, batch_size=1)
        losses.append(nll / n)
    return losses


def fresh_process_check(model_dir: Path, adapter: str, model: Any = None) -> dict[str, Any]:
    """Losses on the same rows in this process (``model``, e.g. Unsloth's) and in a fresh plain one."""
    here = batch_losses(str(model_dir), adapter, str(model_dir), model=model)
    fresh = fresh_process_losses(model_dir, adapter, model_dir)
    worst = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(here, fresh, strict=True))
    return {"this_process": here, "fresh_process": fresh, "max_relative_difference": worst, "match": worst < 0.02}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for the results (one JSON file per check)")
    parser.add_argument("--part", choices=["1", "2"], default="1")
    parser.add_argument("--tokenizer", help="real Llama 3 tokenizer (bench/real_tokenizer.py); default: tiny")
    parser.add_argument("--dry-run", action="store_true", help="CPU: meta-device 8B set-up + small-model paths")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from bench_model import save_model
    from real_tokenizer import load_bench_tokenizer

    tokenizer, _ = load_bench_tokenizer(args.tokenizer)
    shape, steps = ("small", 2) if args.dry_run else ("8b", TRAIN_STEPS)
    rows = kit_rows(tokenizer, args.dry_run)
    _record(out, "environment", environment)
    _record(out, "meta_setup", meta_setup)
    work = out / "work"
    model_dir = work / f"random-{shape}"
    if not (model_dir / "config.json").is_file():
        _record(out, "save_random_model", lambda: {"path": str(save_model(model_dir, shape, tokenizer))})
    failures = 0
    if args.part == "1":
        checks = [
            ("train_bf16", train_bf16, (shape, tokenizer, steps, rows), {}),
            ("train_peft_4bit", _strategy_run, (model_dir, tokenizer, rows, steps, "peft"), {"load_in_4bit": True}),
            ("item1_fp16_qlora", _strategy_run, (model_dir, tokenizer, rows, 3, "peft"), FP16_QLORA),
            ("item2_perplexity_memory", perplexity_memory, (model_dir, tokenizer), {}),
            ("chat_first_token", chat_first_token, (model_dir, str(work / "adapter-peft"), tokenizer), {}),
        ]
        if args.dry_run:  # no bitsandbytes, fp16 training or unsloth on a CPU: the plain paths instead
            checks[1] = ("train_peft_cpu", _strategy_run, (model_dir, tokenizer, rows, steps, "peft"), {})
            checks[2] = ("item1_fp16_qlora", lambda: {"skipped": "fp16 GradScaler needs CUDA"}, (), {})
            checks.append(("item7_plumbing", fresh_process_check, (model_dir, str(work / "adapter-peft")), {}))
        for name, fn, positional, keywords in checks:
            failures += not _record(out, name, fn, *positional, **keywords)["ok"]
    else:
        run = _record(out, "train_unsloth", _strategy_run, model_dir, tokenizer, rows, steps, "unsloth")
        failures += not run["ok"]
        if run["ok"]:

            def compare() -> dict[str, Any]:
                from unsloth import FastLanguageModel  # this process trained with Unsloth's patched classes

                model, _ = FastLanguageModel.from_pretrained(run["adapter"], load_in_4bit=False)
                FastLanguageModel.for_inference(model)
                return fresh_process_check(model_dir, run["adapter"], model=model)

            failures += not _record(out, "item7_fresh_process", compare)["ok"]
    print(f"gpu-kit: part {args.part} done, {failures} check(s) failed; results in {out}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

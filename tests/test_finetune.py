"""Fine-tuning on the tiny model: label masking, no truncation, logging, resume, several processes, export."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bempathy.config import parse_config
from bempathy.data.processor import DatasetProcessor, write_prepared
from bempathy.model.tokenizer import load_tokenizer
from bempathy.storage.store import Store
from bempathy.train.finetuner import LLAMAFineTuner
from bempathy.train.strategies import PeftStrategy, StrategyError, select_strategy
from tests.conftest import ROOT, SAMPLE_DIR, TINY_PRESET

LONG_ANSWER = " ".join(f"আপনার কষ্টটা আমি বুঝতে পারছি, {i} নম্বর কথাটা মন দিয়ে শুনুন।" for i in range(250))


def small_corpus(path: Path, rows: int = 36, long_answer: bool = False) -> Path:
    """The first conversations of the sample dialogues (and optionally one very long answer)."""
    with (SAMPLE_DIR / "dialogues.csv").open(encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))[:rows]
    if long_answer:
        records.append(
            {"Topics": "grief", "Question-Title": "দীর্ঘ উত্তর", "Questions": "আমি খুব একা।", "Answers": LONG_ANSWER}
        )
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["Topics", "Question-Title", "Questions", "Answers"])
        writer.writeheader()
        writer.writerows(records)
    return path


def tiny_config(out: Path, data: Path, logs: Path, *extra: str):
    args = ["--config", str(TINY_PRESET), "--data", str(data), "--output-dir", str(out), "--logs_dir", str(logs)]
    return parse_config([*args, *extra])


def prepared_trainer(tmp_path: Path, *extra: str, long_answer: bool = False):
    data = small_corpus(tmp_path / "corpus.csv", long_answer=long_answer)
    config = tiny_config(tmp_path / "run", data, tmp_path / "logs", *extra)
    tokenizer = load_tokenizer(config.model.model_name_or_path)
    prepared = DatasetProcessor(config.data, tokenizer, config.train.max_length).process(str(data))
    write_prepared(prepared, config.train.output_dir)
    tuner = LLAMAFineTuner(config)
    return tuner, tuner.build_trainer(), tokenizer, prepared


def cli(out: Path, data: Path, logs: Path, *extra: str, launcher: tuple[str, ...] = (sys.executable,)) -> list[str]:
    paths = ["--data", str(data), "--output-dir", str(out), "--logs_dir", str(logs)]
    return [*launcher, "train.py", "--config", str(TINY_PRESET), *paths, *extra]


@pytest.mark.slow
def test_labels_train_exactly_each_answer_and_its_end_token(tmp_path):
    _, trainer, tokenizer, prepared = prepared_trainer(tmp_path)
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    examples = prepared.examples["train"]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(examples))])
    assert tokenizer.pad_token == "<|finetune_right_pad_id|>" and tokenizer.pad_token_id != eot
    checked_turns = 0
    for row, example in enumerate(examples):
        ids = batch["input_ids"][row].tolist()
        labels = batch["labels"][row].tolist()
        # Expected, computed independently of the chat template's mask: for each assistant turn, the tokens
        # between "conversation so far + assistant header" and the conversation including that answer.
        expected = [-100] * len(ids)
        for turn, message in enumerate(example.messages):
            if message["role"] != "assistant":
                continue
            before = tokenizer.apply_chat_template(
                example.messages[:turn], add_generation_prompt=True, return_dict=False
            )
            after = tokenizer.apply_chat_template(example.messages[: turn + 1], return_dict=False)
            assert after[: len(before)] == before and after[-1] == eot
            expected[len(before) : len(after)] = after[len(before) :]
            checked_turns += 1
        assert labels == expected, f"labels differ for {example.id}"
        assert ids.count(tokenizer.bos_token_id) == 1
        trained = [t for t in labels if t != -100]
        assert trained.count(eot) == sum(m["role"] == "assistant" for m in example.messages)
        assert all(t == -100 for t, i in zip(labels, ids, strict=True) if i == tokenizer.pad_token_id)
    assert checked_turns > len(examples)  # multi-turn dialogues were among them


@pytest.mark.slow
def test_a_very_long_example_is_trained_whole(tmp_path):
    _, trainer, tokenizer, prepared = prepared_trainer(tmp_path, "--max_steps", "1", long_answer=True)
    longest = max(prepared.examples["train"] + prepared.examples["val"], key=lambda e: e.n_tokens)
    assert longest.messages[-1]["content"] == LONG_ANSWER and longest.n_tokens > 4000  # well past TRL's 1024 default
    assert trainer.args.max_length is None
    row = next(r for r in trainer.train_dataset if len(r["input_ids"]) == longest.n_tokens)
    batch = trainer.data_collator([row])
    labels = batch["labels"][0].tolist()
    answer = tokenizer(LONG_ANSWER, add_special_tokens=False)["input_ids"]
    trained = [t for t in labels if t != -100]
    assert trained[-len(answer) - 1 :] == [*answer, tokenizer.convert_tokens_to_ids("<|eot_id|>")]
    # And it really trains: one optimisation step on the batch containing it.
    trainer.train_dataset = trainer.train_dataset.filter(lambda r: len(r["input_ids"]) == longest.n_tokens)
    output = trainer.train()
    assert output.global_step == 1 and output.training_loss > 0


def test_auto_strategy_is_peft_on_cpu_and_forcing_unsloth_is_one_clear_error(tmp_path):
    config = tiny_config(tmp_path / "run", SAMPLE_DIR, tmp_path / "logs")
    assert isinstance(select_strategy("auto", config.model, config.train), PeftStrategy)
    with pytest.raises(StrategyError, match="Unsloth needs a CUDA GPU"):
        select_strategy("unsloth", config.model, config.train)
    done = subprocess.run(
        cli(tmp_path / "run", SAMPLE_DIR, tmp_path / "logs", "--stage", "train", "--strategy", "unsloth"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("train.py: error: --strategy unsloth cannot run")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_tiny_training_learns_logs_and_saves_a_loadable_adapter(tmp_path):
    """Issue 4's must-show: loss falls, a completed record with both losses, a standard PEFT adapter."""
    logs = tmp_path / "logs"
    done = subprocess.run(
        cli(tmp_path / "run", SAMPLE_DIR, logs, "--stage", "train"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Training done" in done.stdout
    [record] = Store(logs).experiments.all()
    assert record["status"] == "completed" and record["strategy"] == "peft"
    assert record["train_loss"] > 0 and record["val_loss"] > 0
    assert record["lora_config"]["target_modules"] == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    assert record["data"]["training_length"] == max(
        json.loads(line)["n_tokens"] for s in ("train", "val") for line in (tmp_path / "run/data" / f"{s}.jsonl").open()
    )
    report = json.loads((tmp_path / "run/data_report.json").read_text(encoding="utf-8"))
    assert record["data"]["token_budget"] == report["token_budget"] and report["token_budget"]["system_prompt_tokens"]
    train_losses = [e["loss"] for e in record["loss_history"] if "loss" in e]
    val_losses = [e["eval_loss"] for e in record["loss_history"] if "eval_loss" in e]
    assert len(train_losses) >= 3 and train_losses[-1] < train_losses[0] - 0.5
    assert len(val_losses) >= 2 and val_losses[-1] < val_losses[0]

    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(str(tmp_path / "run" / "adapter"))
    assert model.peft_config["default"].r == 16
    assert (tmp_path / "run" / "adapter" / "bempathy_config.json").exists()
    assert (tmp_path / "run" / "adapter" / "tokenizer.json").exists()


def _wait_for(predicate, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise AssertionError(f"training ended early: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.2)


def start_run(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, list[str], Path, Path]:
    """Start a tiny training run in the background: (process, its command, output dir, logs dir)."""
    data = small_corpus(tmp_path / "corpus.csv", rows=60)
    out, logs = tmp_path / "run", tmp_path / "logs"
    command = cli(
        out, data, logs, "--stage", "train", "--per_device_train_batch_size", "2", "--logging_steps", "1", *args
    )
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A background job of a non-interactive shell (as CI may start us) inherits SIGINT *ignored*, and Python
        # then never raises KeyboardInterrupt; a person's terminal has the default disposition, so restore it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    return process, command, out, logs


@pytest.mark.slow
def test_resume_after_sigkill_reaches_the_same_final_step(tmp_path):
    steps = ["--max_steps", "8", "--save_strategy", "steps", "--save_steps", "2", "--eval_strategy", "no"]
    process, command, out, logs = start_run(tmp_path, *steps)
    try:
        _wait_for(lambda: (out / "checkpoint-4" / "trainer_state.json").exists(), 300, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (out / "adapter").exists()
    [killed] = Store(logs).experiments.all()
    assert killed["status"] == "running"  # SIGKILL cannot be caught; resume picks the record up again
    last_checkpoint = max(
        int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "trainer_state.json").exists()
    )

    done = subprocess.run([*command, "--resume", "true"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = Store(logs).experiments.all()
    assert record["id"] == killed["id"] and record["status"] == "completed"
    assert record["global_step"] == 8 and "resumed_at" in record
    assert json.loads((out / "checkpoint-8" / "trainer_state.json").read_text())["global_step"] == 8
    # It continued from the checkpoint rather than starting again, and the history has each step once.
    steps = [e["step"] for e in record["loss_history"] if "loss" in e]
    assert steps == list(range(1, 9))
    assert len(killed["loss_history"]) >= last_checkpoint
    losses = [e["loss"] for e in record["loss_history"] if "loss" in e]
    assert record["train_loss"] == pytest.approx(sum(losses) / len(losses))  # not transformers' resumed-only sum


@pytest.mark.slow
def test_ctrl_c_marks_the_experiment_interrupted(tmp_path):
    process, _, _, logs = start_run(tmp_path, "--max_steps", "200", "--eval_strategy", "no", "--save_strategy", "no")

    def started() -> bool:
        records = Store(logs).experiments.all() if (logs / "LLAMAExperiments.json").exists() else []
        return bool(records and records[0]["loss_history"])

    _wait_for(started, 300, process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    [record] = Store(logs).experiments.all()
    assert record["status"] == "interrupted"


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_processes_train_one_run_and_only_rank_zero_logs(tmp_path):
    data = small_corpus(tmp_path / "corpus.csv", rows=60)
    out, logs = tmp_path / "run", tmp_path / "logs"
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2")
    launcher += ("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    args = ["--stage", "all", "--max_steps", "4", "--eval_strategy", "no", "--save_strategy", "no"]
    args += ["--eval_max_examples", "4"]
    env = {**os.environ, "MASTER_PORT": "29517"}
    done = subprocess.run(
        cli(out, data, logs, *args, launcher=launcher), cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = Store(logs).experiments.all()  # exactly one record: rank 1 wrote none
    assert record["status"] == "completed" and record["hardware"]["processes"] == 2
    assert record["global_step"] == 4
    assert done.stdout.count("rows read") == 1  # rank 0 prepared; rank 1 reused its output
    assert (out / "adapter" / "adapter_config.json").exists()
    # Evaluated once, on rank 0: every test example (at most 4) answered by base and tuned, one report.
    n_test = min(4, sum(1 for _ in (out / "data" / "test.jsonl").open()))
    assert record["metrics"]["n_examples"] == n_test > 0 and (out / "report.md").exists()
    assert len(Store(logs).responses.all()) == 2 * n_test


@pytest.mark.slow
def test_failure_marks_the_experiment_failed(tmp_path, monkeypatch):
    tuner, trainer, _, _ = prepared_trainer(tmp_path, "--max_steps", "1")

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(type(trainer), "train", broken)
    monkeypatch.setattr(tuner, "build_trainer", lambda: trainer)
    with pytest.raises(RuntimeError):
        tuner.train()
    record = tuner.store.experiments.get(tuner.experiment_id)
    assert record["status"] == "failed" and "CUDA out of memory (simulated)" in record["error"]


@pytest.mark.slow
def test_export_merged_gives_the_same_outputs_as_the_adapter(tmp_path):
    data = small_corpus(tmp_path / "corpus.csv")
    out, logs = tmp_path / "run", tmp_path / "logs"
    args = [
        "--stage",
        "train",
        "--max_steps",
        "3",
        "--eval_strategy",
        "no",
        "--save_strategy",
        "no",
        "--export",
        "merged",
    ]
    done = subprocess.run(cli(out, data, logs, *args), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(str(out / "merged"))
    adapted = AutoPeftModelForCausalLM.from_pretrained(str(out / "adapter"))
    ids = torch.tensor([[5, 80, 300, 17, 900]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
    assert Store(logs).experiments.all()[0]["exported"]["merged"] == str(out / "merged")


@pytest.mark.slow
def test_early_stopping_is_wired_to_validation_loss(tmp_path):
    _, trainer, _, _ = prepared_trainer(tmp_path, "--early_stopping_patience", "2")
    from transformers import EarlyStoppingCallback

    stoppers = [c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback)]
    assert len(stoppers) == 1 and stoppers[0].early_stopping_patience == 2
    assert trainer.args.load_best_model_at_end and trainer.args.metric_for_best_model == "eval_loss"
    assert trainer.args.greater_is_better is False
    # Without the option there is no early stopping.
    (tmp_path / "plain").mkdir()
    _, plain, _, _ = prepared_trainer(tmp_path / "plain")
    assert not any(isinstance(c, EarlyStoppingCallback) for c in plain.callback_handler.callbacks)

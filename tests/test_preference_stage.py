"""train.py --stage preference: DPO and KTO on top of a tiny SFT run, the reference it trains against, bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

import train
from bempathy.config import DPO_LOSS_TYPES, ConfigError, parse_config
from bempathy.runs import RunFolder
from bempathy.storage.store import Store
from bempathy.train.preference_rows import hold_out, read_preferences
from tests.conftest import SAMPLE_DIR, TINY_PRESET, make_random_adapter

# The random-weight tiny model, short single-turn examples and a few steps: these tests check plumbing, not learning.
FAST = ["--model_name_or_path", "tiny", "--dialogue_turns", "single_turn", "--per_device_train_batch_size", "2"]
ROOT = Path(__file__).resolve().parents[1]
NOT_IN_CORPUS = "এই প্রশ্নটা কোনো প্রস্তুত ডেটায় নেই।"


def _corpus(path: Path, rows: int = 16) -> Path:
    with (SAMPLE_DIR / "dialogues.csv").open(encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))[:rows]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["Topics", "Question-Title", "Questions", "Answers"])
        writer.writeheader()
        writer.writerows(records)
    return path


def _common(out: Path, logs: Path) -> list[str]:
    return ["--config", str(TINY_PRESET), *FAST, "--output-dir", str(out), "--logs_dir", str(logs)]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A run folder with prepared data only (no adapter): the prepare stage, nothing trained."""
    root = tmp_path_factory.mktemp("preference")
    out = root / "prepared"
    data = _corpus(root / "corpus.csv")
    assert train.main([*_common(out, root / "prep-logs"), "--data", str(data), "--stage", "prepare"]) == 0
    return out


@pytest.fixture(scope="module")
def fake_run(prepared, tiny_dir) -> Path:
    """The prepared folder plus a random adapter: enough for every check that runs before loading a model."""
    run = prepared.parent / "fake-run"
    shutil.copytree(prepared, run)
    make_random_adapter(tiny_dir, run / "adapter", seed=3)
    return run


@pytest.fixture(scope="module")
def sft_run(prepared) -> tuple[Path, Path]:
    """A real (two-step) SFT run of the tiny model on the prepared data: (run dir, logs dir)."""
    run, logs = prepared.parent / "sft", prepared.parent / "logs"
    shutil.copytree(prepared, run)
    data = prepared.parent / "corpus.csv"
    args = [*_common(run, logs), "--data", str(data), "--stage", "train", "--max_steps", "2"]
    assert train.main([*args, "--eval_strategy", "no", "--save_strategy", "no"]) == 0
    return run, logs


def _pairs(run: Path) -> list[tuple[list[dict], dict]]:
    """(prompt, answer) pairs of the run's own prepared train split."""
    rows = RunFolder(run).read_split("train")
    return [(row["messages"][:2], row["messages"][2]) for row in rows]


def write_dpo_rows(run: Path, path: Path, n: int = 6) -> Path:
    """chosen = the data's answer, rejected = another prompt's answer (a fixed shuffle)."""
    pairs = _pairs(run)[:n]
    assert len(pairs) == n
    with path.open("w", encoding="utf-8") as handle:
        for i, (prompt, answer) in enumerate(pairs):
            other = pairs[(i + 2) % n][1]
            handle.write(json.dumps({"prompt": prompt, "chosen": [answer], "rejected": [other]}, ensure_ascii=False))
            handle.write("\n")
    return path


def write_kto_rows(run: Path, path: Path, n: int = 6) -> Path:
    """Even rows: the data's answer, desirable; odd rows: another prompt's answer, undesirable."""
    pairs = _pairs(run)[:n]
    with path.open("w", encoding="utf-8") as handle:
        for i, (prompt, answer) in enumerate(pairs):
            good = i % 2 == 0
            completion = answer if good else pairs[(i + 2) % n][1]
            row = {"prompt": prompt, "completion": [completion], "label": good}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def preference_args(run: Path, rows: Path, loss: str, logs: Path, out: Path | None = None, *extra: str) -> list[str]:
    args = ["--config", str(TINY_PRESET), "--stage", "preference", "--from_run", str(run), "--preferences", str(rows)]
    args += ["--preference_loss", loss, "--logs_dir", str(logs), "--per_device_train_batch_size", "2"]
    args += ["--preference_max_steps", "3", "--logging_steps", "2"]
    return [*args, *(["--output_dir", str(out)] if out is not None else []), *extra]


def preference_record(logs: Path, out: Path) -> dict:
    experiment_id = RunFolder(out).experiment_id()
    record = Store(logs).experiments.get(experiment_id)
    assert record is not None, f"no experiment {experiment_id} in {logs}"
    return record


def _saved_adapter(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


# -- configuration (fast)
def test_dpo_loss_types_are_trls_own():
    """--dpo_loss_type offers exactly the loss types TRL's DPOConfig lists (checked up front, not at step 1)."""
    from trl import DPOConfig

    help_text = {f.name: f for f in fields(DPOConfig)}["loss_type"].metadata["help"]
    listed = help_text.split("Possible values are:")[1].split(". If")[0]
    assert tuple(re.findall(r"`'([a-z_]+)'`", listed)) == DPO_LOSS_TYPES
    with pytest.raises(ConfigError, match="dpo_loss_type"):
        parse_config(["--stage", "preference", "--dpo_loss_type", "dpo"])


def test_preference_defaults_are_trls():
    config = parse_config(["--stage", "preference"])
    assert config.preference.preference_loss == "dpo" and config.preference.dpo_loss_type == "sigmoid"
    assert config.preference.beta == 0.1 and config.preference.preference_learning_rate == 1e-6


# -- training (slow)
@pytest.mark.slow
def test_dpo_stage_trains_from_the_sft_run_and_logs_a_child_experiment(sft_run, tmp_path, capsys):
    run, logs = sft_run
    rows = write_dpo_rows(run, tmp_path / "dpo.jsonl")
    # No --output_dir: the preset's output_dir is the SFT run's; the stage writes next to it instead.
    assert train.main(preference_args(run, rows, "dpo", logs)) == 0
    out = Path(f"{run}-dpo")
    folder = RunFolder(out)
    assert folder.has_adapter() and not (folder.adapter_dir / "ref").exists()  # TRL's frozen copy is not saved
    assert folder.base_model() == RunFolder(run).base_model()
    assert folder.system_prompt() == RunFolder(run).system_prompt()
    trained, sft = _saved_adapter(folder.adapter_dir), _saved_adapter(RunFolder(run).adapter_dir)
    assert trained.keys() == sft.keys() and any(not (trained[k] == sft[k]).all() for k in sft)

    record = preference_record(logs, out)
    assert record["stage"] == "preference" and record["status"] == "completed"
    assert record["parent_experiment"] == RunFolder(run).experiment_id() is not None
    assert record["preference_loss"] == "dpo" and record["dpo_loss_type"] == "sigmoid"
    assert record["preferences"]["sha256"] == hashlib.sha256(rows.read_bytes()).hexdigest()
    assert record["preferences"]["rows"] == 6 and record["preferences"]["prompt_splits"] == {"train": 6}
    assert record["train_loss"] > 0 and record["global_step"] == 3
    assert set(record["preference_metrics"]) >= {"rewards/margins", "rewards/accuracies"}
    training = [e for e in record["loss_history"] if "loss" in e]
    assert [e["step"] for e in training] == [2, 3]  # the last step is logged too
    assert training[-1]["rewards/margins"] == record["preference_metrics"]["rewards/margins"]
    # The held-out pairs (20% by default) are scored every logging_steps and at the end, with TRL's metrics.
    validation = [e for e in record["loss_history"] if "eval_loss" in e]
    assert [e["step"] for e in validation] == [2, 3] and all("eval_rewards/accuracies" in e for e in validation)
    assert record["training"]["max_length"] == record["data"]["training_length"] > 0
    assert "rewards/margins" in capsys.readouterr().out

    # The app's loader serves it as a run.
    from bempathy.serve.plan import load_chat_model, plan_from_run

    plan = plan_from_run(out)
    assert plan.experiment_ids["tuned"] == record["id"]
    assert load_chat_model(plan).has_adapter


@pytest.mark.slow
def test_the_reference_is_the_sft_model_and_the_policy_starts_from_it(sft_run, tmp_path):
    import torch
    from peft import get_peft_model_state_dict

    from bempathy.model.chat import ChatModel
    from bempathy.train.preference import PreferenceTrainer

    run, _ = sft_run
    rows = write_dpo_rows(run, tmp_path / "dpo.jsonl", n=4)
    config = parse_config(preference_args(run, rows, "dpo", tmp_path / "logs", tmp_path / "out"))
    trainer = PreferenceTrainer(config).build_trainer()
    model = trainer.model
    assert list(model.peft_config) == ["default", "ref"] and model.active_adapter == "default"
    saved = _saved_adapter(RunFolder(run).adapter_dir)
    for adapter in ("default", "ref"):  # both start as exactly the SFT adapter, lm_head included
        weights = get_peft_model_state_dict(model, adapter_name=adapter)
        assert weights.keys() == saved.keys()
        assert all(torch.equal(weights[k], saved[k]) for k in saved), adapter
    parameters = dict(model.named_parameters())
    assert not any(p.requires_grad for n, p in parameters.items() if ".ref." in n)  # frozen
    assert all(p.requires_grad for n, p in parameters.items() if ".default." in n)

    # TRL's reference log-probabilities are the SFT model's, as the app loads it, and not the base's.
    dataset = trainer.train_dataset
    batch = trainer.data_collator([dataset[i] for i in range(len(dataset))])
    ref_chosen, _ = trainer.compute_ref_log_probs(model, batch)
    served = ChatModel.load(RunFolder(run).base_model(), RunFolder(run).adapter_dir).model

    def answer_logps(peft_model) -> torch.Tensor:
        totals = []
        with torch.no_grad():
            for row in dataset:
                ids = torch.tensor([row["prompt_ids"] + row["chosen_ids"]])
                logps = torch.log_softmax(peft_model(input_ids=ids).logits[0, :-1].float(), dim=-1)
                picked = logps.gather(1, ids[0, 1:, None])[:, 0]
                totals.append(picked[len(row["prompt_ids"]) - 1 :].sum())
        return torch.stack(totals)

    assert torch.allclose(ref_chosen, answer_logps(served), rtol=1e-4, atol=1e-3)
    with served.disable_adapter():
        assert not torch.allclose(ref_chosen, answer_logps(served), rtol=1e-3, atol=1e-1)


@pytest.mark.slow
def test_kto_stage_trains_on_labelled_rows(sft_run, tmp_path):
    run, logs = sft_run
    rows = write_kto_rows(run, tmp_path / "kto.jsonl")
    out = tmp_path / "kto-run"
    assert train.main(preference_args(run, rows, "kto", logs, out)) == 0
    assert RunFolder(out).has_adapter()
    record = preference_record(logs, out)
    assert record["preference_loss"] == "kto" and record["status"] == "completed"
    assert record["preferences"]["desirable"] == 3 and record["preferences"]["undesirable"] == 3
    assert record["train_loss"] > 0 and "kl" in record["preference_metrics"]


# -- bad input (fast: every check runs before a model loads)
def _bad_file(case: str, run: Path, tmp_path: Path) -> tuple[Path, str]:
    """(preferences file, expected error pattern) for one kind of bad input."""
    path = tmp_path / f"{case}.jsonl"
    good = write_dpo_rows(run, tmp_path / "good.jsonl", n=3).read_text(encoding="utf-8").splitlines()
    if case == "missing":
        return path, f"preferences file not found: {path}"
    if case == "empty":
        path.write_text("\n  \n", encoding="utf-8")
        return path, f"{path}: no preference rows"
    if case == "not_json":
        path.write_text(good[0] + "\n{oops\n", encoding="utf-8")
        return path, f"{path}:2: not valid JSON"
    if case == "kto_row_for_dpo":
        row = json.loads(good[1])
        kto = {"prompt": row["prompt"], "completion": row["chosen"], "label": True}
        path.write_text(f"{good[0]}\n{json.dumps(kto, ensure_ascii=False)}\n", encoding="utf-8")
        return path, f"{path}:2: not a DPO row: needs prompt, chosen, rejected; .*use --preference_loss kto"
    if case == "chosen_not_assistant":
        row = json.loads(good[0])
        row["chosen"][0]["role"] = "user"
        path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        return path, f"{path}:1: 'chosen' must be a list of one assistant message"
    if case == "prompt_not_in_corpus":
        row = json.loads(good[2])
        row["prompt"][-1]["content"] = NOT_IN_CORPUS
        path.write_text(f"{good[0]}\n\n{good[1]}\n{json.dumps(row, ensure_ascii=False)}\n", encoding="utf-8")
        return path, f"{path}:4: the user turn is not in .*1 of 3 rows"
    raise AssertionError(case)


BAD_FILES = ["missing", "empty", "not_json", "kto_row_for_dpo", "chosen_not_assistant", "prompt_not_in_corpus"]


def _assert_refused(argv: list[str], pattern: str, out: Path, logs: Path, capsys) -> None:
    assert train.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: error: "), lines
    assert re.search(pattern, lines[0]), lines[0]
    assert not out.exists()
    assert Store(logs).experiments.all() == []


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_preference_rows_are_one_line_errors_and_nothing_is_written(case, fake_run, tmp_path, capsys):
    path, pattern = _bad_file(case, fake_run, tmp_path)
    out, logs = tmp_path / "out", tmp_path / "logs"
    _assert_refused(preference_args(fake_run, path, "dpo", logs, out), pattern, out, logs, capsys)


def test_kto_label_must_be_a_boolean(fake_run, tmp_path, capsys):
    path = write_kto_rows(fake_run, tmp_path / "kto.jsonl", n=2)
    path.write_text(path.read_text(encoding="utf-8").replace('"label": false', '"label": "no"'), encoding="utf-8")
    out, logs = tmp_path / "out", tmp_path / "logs"
    pattern = f"{path}:2: 'label' must be true or false"
    _assert_refused(preference_args(fake_run, path, "kto", logs, out), pattern, out, logs, capsys)


def test_a_run_without_an_adapter_or_the_run_itself_as_output_is_refused(prepared, fake_run, tmp_path, capsys):
    rows = write_dpo_rows(fake_run, tmp_path / "dpo.jsonl", n=2)
    out, logs = tmp_path / "out", tmp_path / "logs"
    _assert_refused(preference_args(prepared, rows, "dpo", logs, out), "has no adapter", out, logs, capsys)
    argv = preference_args(fake_run, rows, "dpo", logs, fake_run)
    assert train.main(argv) == 2
    assert "--output_dir is the --from_run folder" in capsys.readouterr().err
    without = [a for a in preference_args(fake_run, rows, "dpo", logs, out) if a not in ("--from_run", str(fake_run))]
    _assert_refused(without, "needs --from_run", out, logs, capsys)


# -- held-out rows and the preference batch
def test_a_held_out_share_outside_0_to_1_is_refused(fake_run, tmp_path, capsys):
    rows = write_dpo_rows(fake_run, tmp_path / "dpo.jsonl")
    out, logs = tmp_path / "out", tmp_path / "logs"
    argv = preference_args(fake_run, rows, "dpo", logs, out, "--preference_held_out", "1")
    _assert_refused(argv, r"--preference_held_out is a share of the prompts", out, logs, capsys)


def test_kto_with_one_row_per_batch_is_refused_before_anything_loads(fake_run, tmp_path, capsys):
    rows = write_kto_rows(fake_run, tmp_path / "kto.jsonl")
    out, logs = tmp_path / "out", tmp_path / "logs"
    argv = preference_args(fake_run, rows, "kto", logs, out, "--preference_batch_size", "1")
    _assert_refused(argv, r"KTO needs at least 2 rows .* pass --preference_batch_size 2", out, logs, capsys)


def _answer_logps(model, tokenizer, rows: list[dict], key: str) -> list[float]:
    """Summed answer-token log-probabilities from full forward logits (not the evaluator's chunked head)."""
    import torch

    from bempathy.eval.evaluator import answer_labels

    totals = []
    with torch.no_grad():
        for row in rows:
            ids, labels = answer_labels(tokenizer, row["prompt"] + row[key])
            logps = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, :-1].float(), dim=-1)
            targets = torch.tensor(labels[1:])
            keep = targets != -100
            totals.append(float(logps[keep].gather(1, targets[keep, None]).sum()))
    return totals


@pytest.mark.slow
def test_held_out_rows_are_not_trained_on_and_scored_by_the_sft_model_then_the_preference_model(sft_run, tmp_path):
    from bempathy.model.chat import ChatModel

    run, logs = sft_run
    rows_path = write_dpo_rows(run, tmp_path / "dpo.jsonl", n=6)
    out = tmp_path / "held-out-run"
    # Validation at the last step (3): TRL's eval metrics on the held-out pairs, against the model as trained.
    extra = ("--preference_held_out", "0.5", "--preference_eval_steps", "3")
    assert train.main(preference_args(run, rows_path, "dpo", logs, out, *extra)) == 0
    record = preference_record(logs, out)
    assert record["preferences"]["rows"] == 6
    assert record["preferences"]["trained_on"] == 3 and record["preferences"]["held_out"] == 3
    held = record["held_out"]
    assert held["rows"] == 3

    held_rows = hold_out(read_preferences(rows_path, "dpo"), 0.5)[1]  # which rows: test_preference_held_out.py

    def margins(folder: Path) -> list[float]:
        chat = ChatModel.load(RunFolder(run).base_model(), RunFolder(folder).adapter_dir)
        chosen = _answer_logps(chat.model, chat.tokenizer, held_rows, "chosen")
        rejected = _answer_logps(chat.model, chat.tokenizer, held_rows, "rejected")
        return [c - r for c, r in zip(chosen, rejected, strict=True)]

    before, after = margins(run), margins(out)
    share = [sum(0.5 if m == 0 else float(m > 0) for m in ms) / len(ms) for ms in (before, after)]
    assert held["likelihood_accuracy_before"] == pytest.approx(share[0], abs=1e-4)  # recorded to 4 decimals
    assert held["likelihood_accuracy_after"] == pytest.approx(share[1], abs=1e-4)
    rewards = [0.1 * (a - b) for a, b in zip(after, before, strict=True)]  # the preset's beta
    assert held["reward_margin"] == pytest.approx(sum(rewards) / 3, abs=2e-3)
    [validation] = [e for e in record["loss_history"] if "eval_loss" in e]
    assert validation["step"] == 3 and 0 <= validation["eval_rewards/accuracies"] <= 1
    assert validation["eval_rewards/margins"] == pytest.approx(held["reward_margin"], abs=2e-3)  # TRL's, ours


class _CrashAtStep(Exception):
    pass


@pytest.mark.slow
def test_resume_after_a_crash_continues_the_checkpoint_and_ends_where_an_unbroken_run_ends(sft_run, tmp_path):
    """A run that dies after checkpoint-4, resumed with --resume true, gives the unbroken run's adapter, one
    experiment record and each step's loss once; other rows or another parent are refused."""
    from transformers import TrainerCallback

    from bempathy.train.preference import PreferenceTrainer

    run, logs = sft_run
    rows = write_dpo_rows(run, tmp_path / "dpo.jsonl", n=6)
    steps = ("--preference_max_steps", "6", "--logging_steps", "1", "--preference_save_steps", "2")
    steps += ("--preference_held_out", "0", "--per_device_train_batch_size", "1")
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    assert train.main([*preference_args(run, rows, "dpo", logs, whole), *steps]) == 0

    class Crash(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.global_step == 5:  # checkpoint-4 is on disk, step 5 logged and lost
                raise _CrashAtStep

    class CrashingTrainer(PreferenceTrainer):
        def build_trainer(self):
            trainer = super().build_trainer()
            trainer.add_callback(Crash())
            return trainer

    argv = [*preference_args(run, rows, "dpo", logs, broken), *steps]
    with pytest.raises(_CrashAtStep):
        CrashingTrainer(parse_config(argv)).train()
    assert not RunFolder(broken).has_adapter() and (broken / "checkpoint-4").is_dir()
    crashed = Store(logs).experiments.get(json.loads((broken / "resume.json").read_text())["experiment_id"])
    assert crashed["status"] == "failed" and [e["step"] for e in crashed["loss_history"]] == [1, 2, 3, 4, 5]

    # The same output folder with other rows, or without --resume's promise of the same rows, is not resumed.
    other = write_dpo_rows(run, tmp_path / "other.jsonl", n=5)
    refused = [*preference_args(run, other, "dpo", logs, broken), *steps, "--resume", "true"]
    assert train.main(refused) == 2
    assert (broken / "checkpoint-4").is_dir() and not RunFolder(broken).has_adapter()

    assert train.main([*argv, "--resume", "true"]) == 0
    record = Store(logs).experiments.get(crashed["id"])
    assert RunFolder(broken).experiment_id() == record["id"]
    assert record["status"] == "completed" and "resumed_at" in record and record["global_step"] == 6
    assert [e["step"] for e in record["loss_history"] if "loss" in e] == [1, 2, 3, 4, 5, 6]
    losses = [e["loss"] for e in record["loss_history"]]
    assert record["train_loss"] == pytest.approx(sum(losses) / len(losses))
    unbroken = preference_record(logs, whole)
    assert losses == pytest.approx([e["loss"] for e in unbroken["loss_history"]], rel=1e-4)
    resumed, reference = _saved_adapter(RunFolder(broken).adapter_dir), _saved_adapter(RunFolder(whole).adapter_dir)
    sft = _saved_adapter(RunFolder(run).adapter_dir)
    assert resumed.keys() == reference.keys()
    for key in reference:
        assert resumed[key].allclose(reference[key], atol=1e-5), key
    assert any(not reference[key].allclose(sft[key]) for key in sft)  # it trained: not the SFT adapter


@pytest.mark.slow
def test_resume_after_sigkill_continues_the_newest_checkpoint(sft_run, tmp_path):
    """As SFT does: a preference run killed with SIGKILL (no handler runs) after checkpoint-4 is resumed by the same
    command with --resume true under the same experiment record, and ends with every step's loss logged once."""
    run, logs = sft_run
    rows = write_dpo_rows(run, tmp_path / "dpo.jsonl", n=6)
    out = tmp_path / "killed"
    steps = ("--preference_max_steps", "60", "--logging_steps", "1", "--preference_save_steps", "2")
    steps += ("--preference_held_out", "0", "--per_device_train_batch_size", "1", "--preference_eval_steps", "0")
    command = [sys.executable, "train.py", *preference_args(run, rows, "dpo", logs, out), *steps]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not (out / "checkpoint-4" / "trainer_state.json").exists():
            assert process.poll() is None, f"the run ended before checkpoint-4: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "timed out waiting for checkpoint-4"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL and not RunFolder(out).has_adapter()
    experiment_id = json.loads((out / "resume.json").read_text())["experiment_id"]
    killed = Store(logs).experiments.get(experiment_id)
    assert killed["status"] == "running"  # SIGKILL cannot be caught: the record says so until the resume

    done = subprocess.run([*command, "--resume", "true"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed_at = re.search(r"bempathy: resuming from \S*checkpoint-(\d+) \(step (\d+)\)", done.stdout)
    assert resumed_at and int(resumed_at.group(1)) >= 4  # continued a checkpoint, did not start again
    record = Store(logs).experiments.get(experiment_id)
    assert RunFolder(out).experiment_id() == experiment_id and RunFolder(out).has_adapter()
    assert record["status"] == "completed" and "resumed_at" in record and record["global_step"] == 60
    assert [e["step"] for e in record["loss_history"] if "loss" in e] == list(range(1, 61))
    losses = [e["loss"] for e in record["loss_history"] if "loss" in e]
    assert record["train_loss"] == pytest.approx(sum(losses) / len(losses))
    resumed, sft = _saved_adapter(RunFolder(out).adapter_dir), _saved_adapter(RunFolder(run).adapter_dir)
    assert any(not resumed[key].allclose(sft[key]) for key in sft)  # it trained on: not the SFT adapter

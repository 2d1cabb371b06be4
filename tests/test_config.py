"""Configuration: presets parse, overrides win, bad keys and values are one-line errors naming the key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bempathy.config import ConfigError, list_presets, parse_config
from tests.conftest import ROOT


def test_every_preset_parses_with_project_defaults():
    presets = list_presets()
    assert {
        "configs/tiny-cpu.yaml",
        "configs/llama31-8b-qlora.yaml",
        "configs/llama31-8b-unsloth.yaml",
    } <= set(presets)
    for preset in presets:
        config = parse_config(["--config", str(ROOT / preset)])
        assert config.train.max_length is None, "presets must never truncate silently"
        assert config.train.assistant_only_loss
        assert len(config.model.lora_target_modules) == 7
    gpu = parse_config(["--config", str(ROOT / "configs/llama31-8b-qlora.yaml")])
    assert gpu.model.model_name_or_path == "meta-llama/Llama-3.1-8B-Instruct"
    assert gpu.model.load_in_4bit and gpu.model.bnb_4bit_quant_type == "nf4" and gpu.model.use_bnb_nested_quant
    assert parse_config(["--config", str(ROOT / "configs/llama31-8b-unsloth.yaml")]).run.strategy == "unsloth"


def test_defaults_without_preset_are_the_products():
    config = parse_config([])
    assert config.model.model_name_or_path == "meta-llama/Llama-3.1-8B-Instruct"
    assert config.train.max_length is None
    assert config.train.train_sampling_strategy == "group_by_length"
    assert config.train.bf16 is False  # resolved from the hardware: no GPU here


def test_command_line_overrides_preset_and_accepts_dashes():
    config = parse_config(
        [
            "--config",
            str(ROOT / "configs/tiny-cpu.yaml"),
            "--learning-rate",
            "1e-3",
            "--output-dir",
            "x",
            "--lora_r",
            "4",
        ]
    )
    assert config.train.learning_rate == 1e-3
    assert config.train.output_dir == "x"
    assert config.model.lora_r == 4
    assert config.model.model_name_or_path == "tiny-bn"  # from the preset


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("lora_rank: 8\n", "unknown key 'lora_rank'"),
        ("lora_r: eight\n", "'lora_r' must be int"),
        ("max_length: 20.5\n", "'max_length' must be int"),
        ("stage: fly\n", "'stage' must be one of"),
        ("assistant_only_loss: maybe\n", "'assistant_only_loss' must be true/false"),
        ("learning_rate: [1, 2]\n", "'learning_rate' takes one value"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_preset_is_one_line_error_naming_the_key(tmp_path, yaml_text, expected):
    preset = tmp_path / "bad.yaml"
    preset.write_text(yaml_text)
    with pytest.raises(ConfigError) as error:
        parse_config(["--config", str(preset)])
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_command_line_is_one_line_error():
    with pytest.raises(ConfigError, match="lora_r"):
        parse_config(["--lora_r", "x"])
    with pytest.raises(ConfigError, match="--bogus"):
        parse_config(["--bogus", "1"])


def test_train_py_reports_bad_config_in_one_line_and_exits_2(tmp_path):
    preset = tmp_path / "bad.yaml"
    preset.write_text("lora_rank: 8\n")
    done = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--config",
            str(preset),
            "--stage",
            "prepare",
            "--output-dir",
            str(tmp_path / "o"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"train.py: error: {preset}: unknown key 'lora_rank'"]
    assert not (tmp_path / "o").exists()


def test_help_lists_presets_and_override_syntax():
    done = subprocess.run([sys.executable, "train.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    assert "configs/tiny-cpu.yaml" in done.stdout and "configs/llama31-8b-qlora.yaml" in done.stdout
    assert "--stage {prepare,train,evaluate,all,preference}" in done.stdout
    assert "the command line wins" in done.stdout


@pytest.mark.parametrize(
    ("capability", "expected"),
    [((7, 5), (False, True)), ((8, 0), (True, False)), ((9, 0), (True, False))],
    ids=["T4: fp16", "A100: bf16", "H100: bf16"],
)
def test_precision_follows_native_bf16_not_emulation(monkeypatch, capability, expected):
    """torch.cuda.is_bf16_supported() says True on a T4 (emulation); we must pick fp16 there."""
    import torch

    from bempathy import hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hardware.mixed_precision() == expected
    assert hardware.compute_dtype() == (torch.bfloat16 if expected[0] else torch.float16)


def test_prepared_data_is_reused_only_while_nothing_that_shapes_it_changed(tmp_path):
    import shutil

    import train

    data = tmp_path / "corpus"
    shutil.copytree(ROOT / "data" / "sample", data)
    base = ["--config", str(ROOT / "configs/tiny-cpu.yaml"), "--data", str(data), "--output-dir", str(tmp_path / "o")]
    assert train.main([*base, "--stage", "prepare"]) == 0
    assert train._prepared_matches(parse_config(base))
    assert not train._prepared_matches(parse_config([*base, "--split_seed", "99"]))
    assert not train._prepared_matches(parse_config([*base, "--dialogue_turns", "single_turn"]))
    assert not train._prepared_matches(parse_config([*base, "--max_length", "2048"]))
    assert not train._prepared_matches(parse_config([*base, "--model_name_or_path", "other/model"]))
    with (data / "dialogues.csv").open("a", encoding="utf-8") as handle:
        handle.write("sad,নতুন কথোপকথন,নতুন প্রশ্ন,নতুন উত্তর\n")
    assert not train._prepared_matches(parse_config(base))

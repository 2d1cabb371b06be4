"""GPU memory of the preference stage (DPO, KTO): estimates, never measurements, checked on a CPU machine.

The estimate's assumptions about TRL are checked against the pinned TRL itself where that runs on a CPU (how DPO
batches a pair, the fused LM head's tile, KTO's minimum batch); the numbers are checked against the GPUs each 8B
preset names, so a preset change that would not fit fails here.
"""

from __future__ import annotations

import pytest
import yaml

from bempathy.config import parse_config
from bempathy.train import gpu_memory as memory
from tests.conftest import ROOT

PRESETS = [ROOT / "configs" / "llama31-8b-qlora.yaml", ROOT / "configs" / "llama31-8b-unsloth.yaml"]
LORA = memory.lora_parameters(16, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
GIB = memory.GIB


def gib(parts: dict[str, float]) -> float:
    return memory.total(parts) / GIB


@pytest.mark.parametrize("loss", memory.PREFERENCE_LOSSES)
def test_the_estimate_grows_with_tokens_and_batch(loss):
    by_tokens = [memory.total(memory.preference_bytes(loss, 2, n, LORA)) for n in (256, 1024, 2285, 4500)]
    by_batch = [memory.total(memory.preference_bytes(loss, b, 2285, LORA)) for b in (1, 2, 4, 8)]
    assert by_tokens == sorted(by_tokens) and len(set(by_tokens)) == 4
    assert by_batch == sorted(by_batch) and len(set(by_batch)) == 4


@pytest.mark.parametrize("batch", [1, 2, 4])
@pytest.mark.parametrize("tokens", [512, 2285, 4500])
def test_dpo_needs_more_than_sft_at_the_same_tokens_and_batch(batch, tokens):
    sft = memory.total(memory.training_bytes(batch, tokens, LORA))
    dpo = memory.total(memory.preference_bytes("dpo", batch, tokens, LORA))
    kto = memory.total(memory.preference_bytes("kto", batch, tokens, LORA))
    assert dpo > kto > sft
    # A pair is two rows in one forward, plus the frozen copy of the adapter: the SFT terms at twice the batch.
    twice = memory.total(memory.training_bytes(2 * batch, tokens, LORA))
    assert dpo == pytest.approx(twice + LORA * 4 * memory.FRAGMENTATION)
    # Activations scale with the rows: DPO's part above the fixed terms is twice KTO's at the same batch.
    fixed = memory.total(memory.preference_bytes("kto", batch, 1, LORA))
    assert (dpo - fixed) == pytest.approx(2 * (kto - fixed), rel=0.02)


def test_the_reference_forward_keeps_no_activations_and_precomputing_it_never_costs_more():
    for loss in memory.PREFERENCE_LOSSES:
        for checkpointing in (True, False):
            live = memory.preference_bytes(loss, 2, 4500, LORA, checkpointing=checkpointing)
            pre = memory.preference_bytes(loss, 2, 4500, LORA, checkpointing=checkpointing, precompute_ref=True)
            # Under no_grad one layer is live at a time: less than the backward's recomputed layer (Llama's shape).
            assert live["ref forward, no_grad (over the backward)"] == 0.0
            assert memory.total(pre) <= memory.total(live)
    # Why: a no-grad layer holds a few values per token, the recomputed layer its saved values and their gradients.
    n = 2 * 4500
    recomputed = memory.training_bytes(2, 4500, LORA)["activations of the recomputed layer"]
    assert memory.no_grad_forward_bytes(n) < recomputed / 2
    with pytest.raises(ValueError, match="unknown preference loss"):
        memory.preference_bytes("orpo", 1, 100, LORA)


def test_documented_preference_figures():
    """The numbers the presets' comments and the README quote (GiB, estimated)."""
    assert gib(memory.preference_bytes("dpo", 1, 2285, LORA)) == pytest.approx(9.8, abs=0.05)
    assert gib(memory.preference_bytes("kto", 2, 2285, LORA)) == pytest.approx(9.8, abs=0.05)
    no_nested = memory.preference_bytes("dpo", 1, 2285, LORA, nested_quant=False)
    assert gib(no_nested) == pytest.approx(10.1, abs=0.05)  # the Unsloth preset's runs load without double quant
    assert memory.weights_bytes(nested_quant=False) - memory.weights_bytes() == pytest.approx(0.3 * GIB, abs=0.02 * GIB)
    # The corpus's longest example as a DPO prompt does not fit the 3060 at batch 1: the test below can fail.
    longest = memory.preference_bytes("dpo", 1, memory.CORPUS_LONGEST_TOKENS + 385, LORA)
    assert memory.total(longest) > memory.GPUS["RTX 3060"].usable_bytes


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_each_8b_preset_sets_its_preference_options_and_fits_the_gpus_it_names(preset):
    raw = yaml.safe_load(preset.read_text(encoding="utf-8"))
    for key in ("preference_loss", "beta", "preference_learning_rate", "preference_epochs", "preference_max_steps"):
        assert key in raw, key  # set in the preset, not left to a default someone may change
    config = parse_config(["--config", str(preset)])
    assert config.preference.preference_learning_rate == pytest.approx(1e-6)  # TRL's default, right for the 8B
    assert config.preference.beta == pytest.approx(0.1)
    tokens = memory.preference_row_tokens(config)
    assert tokens == memory.CORPUS_P99_TOKENS + config.eval.max_new_tokens + 1 == 2285
    estimates = memory.preference_estimates(config, tokens)
    assert set(estimates) == {"dpo", "kto"}
    for gpu in memory.PRESET_GPUS[preset.name]:
        for loss, parts in estimates.items():
            assert memory.total(parts) <= memory.GPUS[gpu].usable_bytes, (preset.name, gpu, loss)
    # Raising the carried training batch (DPO: pairs per device) to 4 would not fit the 3060.
    bigger = parse_config(["--config", str(preset), "--per_device_train_batch_size", "4"])
    assert memory.total(memory.preference_estimates(bigger, tokens)["dpo"]) > memory.GPUS["RTX 3060"].usable_bytes


def test_kto_is_estimated_at_the_smallest_batch_trl_runs():
    config = parse_config(["--config", str(PRESETS[0])])
    assert config.train.per_device_train_batch_size == 1
    estimates = memory.preference_estimates(config, 2285)
    assert estimates["kto"] == memory.preference_bytes("kto", memory.KTO_MIN_BATCH, 2285, LORA)
    assert memory.preference_batch("kto", 4) == 4 and memory.preference_batch("dpo", 1) == 1


def test_longest_fitting_row_is_the_boundary_of_the_estimate():
    gpu = memory.GPUS["RTX 3060"]

    def dpo(n: int) -> dict[str, float]:
        return memory.preference_bytes("dpo", 1, n, LORA)

    longest = memory.longest_fitting_tokens(dpo, gpu)
    assert 2285 < longest < memory.CORPUS_LONGEST_TOKENS
    assert memory.total(dpo(longest)) <= gpu.usable_bytes < memory.total(dpo(longest + 1))
    assert memory.longest_fitting_tokens(dpo, memory.Gpu("tiny", 4.0)) == 0  # the weights alone do not fit


# -- what the estimate assumes about the pinned TRL
def test_trl_runs_a_dpo_pairs_chosen_and_rejected_rows_in_one_padded_forward():
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    rows = [
        {"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5], "rejected_ids": [6]},
        {"prompt_ids": [7], "chosen_ids": [8, 9, 10, 11], "rejected_ids": [12, 13]},
    ]
    batch = DataCollatorForPreference(pad_token_id=0)(rows)
    assert tuple(batch["input_ids"].shape) == (memory.preference_rows("dpo", 2), 5)
    assert batch["input_ids"][:, 0].tolist() == [1, 7, 1, 7]  # chosen rows, then rejected rows


def test_trls_fused_lm_head_tile_is_the_one_the_estimate_counts():
    from trl.kernels import chunked_logprob
    from trl.trainer import utils

    tile = chunked_logprob.TOKEN_CHUNK_SIZE * utils._CHUNKED_LOGPROB_CHUNK_SIZE * 2  # 16-bit compute dtype
    assert tile == memory.FUSED_HEAD_TILE_BYTES == 0.25 * GIB


def test_trl_refuses_kto_at_batch_one(tmp_path, tiny_tokenizer):
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import KTOConfig, KTOTrainer

    from tests.test_gpu_readiness import tiny_llama

    model = get_peft_model(tiny_llama(vocab=len(tiny_tokenizer)), LoraConfig(r=2, target_modules=["q_proj"]))
    rows = [{"prompt": "ক", "completion": "খ", "label": True}, {"prompt": "গ", "completion": "ঘ", "label": False}]
    args = KTOConfig(output_dir=str(tmp_path), per_device_train_batch_size=1, use_cpu=True, bf16=False, report_to=[])
    with pytest.raises(ValueError, match="batch size must be > 1"):
        KTOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tiny_tokenizer)
    assert memory.KTO_MIN_BATCH == 2


# -- the command
def test_memory_command_prints_the_preference_estimates(capsys):
    assert memory.main(["--config", str(PRESETS[0]), "--stage", "preference"]) == 0
    out = capsys.readouterr().out
    assert "--stage preference (first principles, not measured)" in out
    assert "rows of 2285 tokens" in out and "frozen ref adapter" in out
    assert "dpo          9.8 GiB   batch 1 pair = 2 rows (chosen + rejected, one forward)" in out
    assert "--per_device_train_batch_size 2 --gradient_accumulation_steps 8" in out  # KTO's minimum batch
    for gpu in ("T4 16 GB", "RTX 3060 12 GB"):
        [line] = [line for line in out.splitlines() if line.strip().startswith(gpu)]
        assert "dpo fits" in line and "kto fits" in line and "does NOT" not in line
    assert memory.main(["--config", str(PRESETS[0]), "--stage", "preference", "--tokens", "8000"]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("RTX 3060")]
    assert "dpo does NOT fit" in line and "kto does NOT fit" in line
    assert memory.main(["--config", str(PRESETS[0])]) == 0  # the default stays the SFT estimates
    out = capsys.readouterr().out
    assert "training     9.6 GiB   batch 1 x 4500 tokens" in out and "dpo" not in out


def test_memory_command_help_explains_the_stage(capsys):
    with pytest.raises(SystemExit) as done:
        memory.main(["--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "{sft,preference}" in out and "not a measurement" in out
    assert "train.py --stage preference" in out and "a rated item's prompt and generated answer" in out

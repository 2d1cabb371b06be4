"""GPU-path defects found by reading our code against the pinned GPU stack, checked on a CPU machine.

No GPU runs here: GPU facts (a T4's compute capability, two visible GPUs, Unsloth being importable) are mocked,
and where the GPU logic itself cannot run on a CPU the tests check the arguments handed to it or the process
boundary. Each test names the issue item it covers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch

from bempathy import boot
from bempathy import config as config_module
from bempathy.config import parse_config
from bempathy.data import subsets
from bempathy.data.processor import DatasetProcessor, write_prepared
from bempathy.eval import evaluator as evaluation
from bempathy.model import lm_head
from bempathy.model.tokenizer import load_tokenizer
from bempathy.runs import RunFolder
from bempathy.storage.store import Store
from bempathy.train import finetuner, fresh_process, strategies
from bempathy.train.finetuner import LLAMAFineTuner, resolved_config
from bempathy.train.strategies import PeftStrategy, StrategyError, UnslothStrategy
from tests.conftest import ROOT, make_random_adapter
from tests.test_finetune import small_corpus, tiny_config

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
UNSLOTH_PRESET = ROOT / "configs" / "llama31-8b-unsloth.yaml"
QLORA_PRESET = ROOT / "configs" / "llama31-8b-qlora.yaml"
# What unsloth 2026.10.9's name mapper turns the meta-llama repo into when use_exact_model_name is False.
UNSLOTH_MAPPING = {LLAMA: "unsloth/meta-llama-3.1-8b-instruct-unsloth-bnb-4bit"}


def unsloth_config(tmp_path: Path, *extra: str):
    out, logs = str(tmp_path / "run"), str(tmp_path / "logs")
    return parse_config(["--config", str(UNSLOTH_PRESET), "--output-dir", out, "--logs_dir", logs, *extra])


def prepare(tmp_path: Path, *extra: str, rows: int = 36):
    """A tiny-preset config with its data prepared (nothing loaded or trained)."""
    data = small_corpus(tmp_path / "corpus.csv", rows=rows)
    config = tiny_config(tmp_path / "run", data, tmp_path / "logs", *extra)
    tokenizer = load_tokenizer(config.model.model_name_or_path)
    write_prepared(
        DatasetProcessor(config.data, tokenizer, config.train.max_length).process(str(data)), config.train.output_dir
    )
    return config


class FakeUnslothModel:
    """Stands in for the PeftModel FastLanguageModel returns; records Unsloth's save calls."""

    def __init__(self, name: str) -> None:
        self.config = types.SimpleNamespace(_name_or_path=name, _commit_hash="0e9e39f249a16976918f6564b8830bc894c89659")
        self.saved: list[tuple] = []

    def save_pretrained_gguf(self, directory, tokenizer, **kwargs):
        self.saved.append(("gguf", directory, tokenizer, kwargs))

    def save_pretrained_merged(self, directory, tokenizer, **kwargs):
        self.saved.append(("merged", directory, tokenizer, kwargs))


@pytest.fixture
def fake_unsloth(monkeypatch):
    """An importable ``unsloth`` whose FastLanguageModel mimics 2026.10.9's signature and name mapping, on a
    host that claims a CUDA GPU."""
    calls: list[dict] = []

    class FastLanguageModel:
        @staticmethod
        def from_pretrained(
            model_name="unsloth/Llama-3.2-1B-Instruct",
            max_seq_length=2048,
            dtype=None,
            load_in_4bit=True,
            revision=None,
            use_exact_model_name=False,
            *args,
            on_model_resolved=None,
            **kwargs,
        ):
            calls.append(
                {"model_name": model_name, "revision": revision, "use_exact_model_name": use_exact_model_name, **kwargs}
            )
            name = model_name if use_exact_model_name else UNSLOTH_MAPPING.get(model_name, model_name)
            if on_model_resolved is not None:
                on_model_resolved(name)
            return FakeUnslothModel(name), types.SimpleNamespace()

        @staticmethod
        def get_peft_model(model, **kwargs):
            return model

    module = types.ModuleType("unsloth")
    module.FastLanguageModel = FastLanguageModel
    monkeypatch.setitem(sys.modules, "unsloth", module)
    monkeypatch.setattr(strategies, "cuda_available", lambda: True)
    return calls


# -- 1. fp16 (T4) + QLoRA: TRL's bf16 cast of the LoRA weights would meet the fp16 GradScaler
class QuantisedLookingPeft(PeftStrategy):
    """The tiny model flagged as 4-bit, so TRL's SFTTrainer applies its quantised-model bf16 cast to it."""

    def load(self, max_seq_length):
        loaded = super().load(max_seq_length)
        loaded.model.is_loaded_in_4bit = True
        return loaded


@pytest.mark.parametrize(("fp16", "expected"), [(True, {torch.float32}), (False, {torch.bfloat16})], ids=["T4", "A100"])
def test_fp16_training_keeps_trainable_weights_fp32_after_trls_bf16_cast(tmp_path, fp16, expected):
    config = prepare(tmp_path)
    config.train.fp16 = fp16  # what TrainConfig picks on a T4 (mixed_precision() without native bf16)
    tuner = LLAMAFineTuner(config, strategy=QuantisedLookingPeft(config.model, config.train))
    trainer = tuner.build_trainer()
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == expected
    assert trainer.optimizer is None  # created by train(): it will hold the fp32 parameters


# -- 2. perplexity without full fp32 logits
def tiny_llama(vocab: int = 1000, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=vocab,
        max_position_embeddings=8192,
    )
    return LlamaForCausalLM(config).eval()


def full_logits_nll(model, encoded, pad, batch_size):
    """The earlier computation: full logits from forward, one row upcast to fp32 at a time, in input order."""
    import torch.nn.functional as F

    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start : start + batch_size]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (row_ids, row_labels) in enumerate(batch):
                ids[row, : len(row_ids)] = torch.tensor(row_ids)
                labels[row, : len(row_labels)] = torch.tensor(row_labels)
                mask[row, : len(row_ids)] = 1
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
            for row in range(len(batch)):
                total += float(F.cross_entropy(logits[row, :-1].float(), labels[row, 1:], reduction="sum"))
    return total


def short_examples(vocab: int, lengths=(7, 40, 19, 64, 3, 33)):
    generator = torch.Generator().manual_seed(1)
    out = []
    for n in lengths:
        ids = torch.randint(5, vocab, (n,), generator=generator).tolist()
        answer_from = max(1, n // 2)
        out.append((ids, [-100] * answer_from + ids[answer_from:]))
    return out


def test_chunked_perplexity_equals_the_full_logits_computation_on_short_examples():
    model = tiny_llama()
    encoded = short_examples(1000)
    assert lm_head.body_and_head(model) is not None  # the chunked path is the one tested
    tokens = sum(sum(t != -100 for t in labels[1:]) for _, labels in encoded)
    for batch_size in (1, 2, 4):
        expected = full_logits_nll(model, encoded, 0, batch_size)
        for chunk_bytes in (4 * 1000 * 3, 64 * 2**20):  # 3 positions per chunk, and the default
            nll, n = evaluation.answer_token_nll(model, encoded, 0, batch_size, chunk_bytes=chunk_bytes)
            assert n == tokens and nll == pytest.approx(expected, rel=1e-6)


def test_chunked_perplexity_follows_the_adapter_state_of_a_peft_model():
    from peft import LoraConfig, get_peft_model

    base = tiny_llama()
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], modules_to_save=["lm_head"])
    lora.init_lora_weights = False  # random B: the tuned model differs from the base
    model = get_peft_model(base, lora).eval()
    with torch.no_grad():
        head = model.base_model.model.lm_head.modules_to_save["default"]
        head.weight.add_(torch.randn_like(head.weight) * 0.3)
    encoded = short_examples(1000)
    assert lm_head.body_and_head(model) is not None
    tuned = evaluation.answer_token_nll(model, encoded, 0, 2)[0]
    assert tuned == pytest.approx(full_logits_nll(model, encoded, 0, 2), rel=1e-6)
    with model.disable_adapter():
        plain = evaluation.answer_token_nll(model, encoded, 0, 2)[0]
        assert plain == pytest.approx(full_logits_nll(model, encoded, 0, 2), rel=1e-6)
    assert abs(tuned - plain) > 1e-3


class IdsTokenizer:
    """Just enough tokenizer for Evaluator.perplexity: each conversation carries its token ids and answer mask."""

    pad_token_id = 0

    def apply_chat_template(self, messages, **kwargs):
        return {"input_ids": messages[0]["ids"], "assistant_masks": messages[0]["mask"]}


PEAK_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    sys.path.insert(0, sys.argv[1])
    from tests.test_gpu_readiness import IdsTokenizer, tiny_llama
    from bempathy.eval.evaluator import Evaluator
    from bempathy.model.chat import ChatModel

    evaluator = Evaluator(ChatModel(tiny_llama(vocab=128256), IdsTokenizer()), batch_size=4)
    ids = torch.randint(0, 128000, (4500,), generator=torch.Generator().manual_seed(0)).tolist()
    mask = [0] * 500 + [1] * 4000  # a 500-token prompt, a 4,000-token answer
    evaluator.perplexity([[{"role": "user", "ids": ids[:64], "mask": [0] * 32 + [1] * 32}]], "base")  # warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = evaluator.perplexity([[{"role": "user", "ids": ids, "mask": mask}]], "base")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_bytes": after - before, **result}))
    """
)


@pytest.mark.slow
def test_perplexity_peak_memory_for_4500_tokens_and_128k_vocabulary_stays_far_below_full_logits():
    """Peak RSS growth of one 4,500-token example (tiny Llama: hidden 64, vocabulary 128,256), in a fresh process.

    Full fp32 logits alone are 4,500 x 128,256 x 4 bytes = 2.3 GB (the earlier code held them and a log-softmax
    of the same size: 4.57 GB measured); the chunked head needs a few of its 64 MiB chunks.
    """
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(ROOT)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    full_fp32_logits = 4500 * 128256 * 4
    assert result["tokens"] == 4000 and math.isfinite(result["nll"])
    assert result["peak_bytes"] < full_fp32_logits / 8, result


# -- 3 and 4. exports: from the trained model (Unsloth), in bf16 on the CPU (PEFT), refused early when impossible
@pytest.mark.parametrize(("kind", "method"), [("gguf", "q4_k_m"), ("merged", "merged_16bit")])
def test_unsloth_exports_save_the_trained_model_without_loading_the_base_again(tmp_path, fake_unsloth, kind, method):
    config = unsloth_config(tmp_path, "--export", kind)
    strategy = UnslothStrategy(config.model, config.train)
    tuner = LLAMAFineTuner(config, store=Store(tmp_path / "logs"), strategy=strategy)
    tuner.loaded = strategy.load(max_seq_length=4500)
    try:
        exported = tuner._export(tmp_path / "run" / "adapter")
    except OSError as error:  # the earlier merged export reloaded meta-llama's 16 GB base (offline here)
        pytest.fail(f"the export loaded the base again: {error}")
    assert len(fake_unsloth) == 1  # the training load only: no second (16-bit) copy of the 8B base
    [(saved, directory, tokenizer, kwargs)] = tuner.loaded.model.saved
    assert (saved, directory, tokenizer) == (kind, str(tmp_path / "run" / kind), tuner.loaded.tokenizer)
    assert kwargs == ({"quantization_method": method} if kind == "gguf" else {"save_method": method})
    assert exported == {kind: str(tmp_path / "run" / kind)}
    strategy.check_export(kind)  # nothing to refuse before training: both start from the trained model


def test_merged_export_on_a_t4_host_merges_in_the_bases_bf16_not_fp32(tmp_path, tiny_dir, monkeypatch):
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    base = tmp_path / "base-bf16"  # a checkpoint published in bf16, like Llama 3.1
    AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.bfloat16).save_pretrained(base)
    load_tokenizer(str(tiny_dir)).save_pretrained(base)
    adapter = make_random_adapter(base, tmp_path / "adapter", seed=3)
    # A T4 host: CUDA present, no native bf16. The merge itself runs on the CPU.
    monkeypatch.setattr(strategies, "cuda_available", lambda: True)
    monkeypatch.setattr(strategies, "native_bf16", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))
    config = tiny_config(tmp_path / "run", tmp_path, tmp_path / "logs", "--model_name_or_path", str(base))
    out = PeftStrategy(config.model, config.train).export_merged(adapter, tmp_path / "merged")
    dtypes = set()
    for shard in out.glob("*.safetensors"):
        with safe_open(str(shard), "pt") as handle:
            dtypes |= {handle.get_slice(key).get_dtype() for key in handle.keys()}  # noqa: SIM118
    assert dtypes == {"BF16"}  # 2 bytes a weight: ~16 GB of RAM for the 8B model instead of ~32 GB in fp32
    merged = AutoModelForCausalLM.from_pretrained(out)
    reloaded = AutoModelForCausalLM.from_pretrained(base)
    layer = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged.state_dict()[layer], reloaded.state_dict()[layer])  # the adapter was merged


def test_merge_ram_estimate_of_the_8b_base_and_an_export_that_cannot_fit_is_refused_before_training(
    tmp_path, monkeypatch
):
    from transformers import LlamaConfig

    shape = {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32}
    LlamaConfig(**shape, num_key_value_heads=8, vocab_size=128256, dtype="bfloat16").save_pretrained(tmp_path / "8b")
    needed = strategies.merge_ram_bytes(str(tmp_path / "8b"))
    assert needed == 8_030_261_248 * 2 + strategies.MERGE_RAM_OVERHEAD  # 16.5 GiB (README: "Training on a GPU")
    # Colab's ~12.7 GB host: refused with one line before anything is loaded or trained.
    monkeypatch.setattr(strategies, "available_ram_bytes", lambda: int(12.7 * 10**9))
    config = tiny_config(tmp_path / "run", tmp_path, tmp_path / "logs", "--model_name_or_path", str(tmp_path / "8b"))
    config.run.export = "merged"
    tuner = LLAMAFineTuner(config, strategy=PeftStrategy(config.model, config.train))
    with pytest.raises(StrategyError, match=r"needs ~16\.5 GiB of free RAM; 11\.8 GiB is available") as refused:
        tuner.build_trainer()  # no prepared data exists: the refusal comes first
    assert "\n" not in str(refused.value)
    with pytest.raises(StrategyError, match="--export gguf needs the Unsloth strategy"):
        PeftStrategy(config.model, config.train).check_export("gguf")


# -- 5. several GPUs without a launcher
def test_several_gpus_in_one_process_stop_at_start_up_with_one_line(tmp_path, monkeypatch, capsys):
    import train

    monkeypatch.setattr(finetuner, "gpu_count", lambda: 2, raising=False)  # Kaggle's two T4s, `python train.py`
    monkeypatch.setattr(finetuner, "launched_processes", lambda: 1, raising=False)
    monkeypatch.setattr(config_module, "cuda_available", lambda: True)  # so TrainConfig does not set use_cpu
    monkeypatch.setattr(PeftStrategy, "load", lambda *a, **k: pytest.fail("the model was loaded before the refusal"))
    data = small_corpus(tmp_path / "corpus.csv")
    argv = ["--config", str(ROOT / "configs" / "tiny-cpu.yaml"), "--data", str(data), "--stage", "train"]
    argv += ["--output-dir", str(tmp_path / "run"), "--logs_dir", str(tmp_path / "logs")]
    assert train.main(argv) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("train.py: error: 2 GPUs are visible to a single train.py process")
    assert "`accelerate launch --num_processes 2 train.py ...`" in line
    assert "`CUDA_VISIBLE_DEVICES=0 python train.py ...`" in line
    # Under a launcher (one process per GPU) there is nothing to refuse.
    monkeypatch.setattr(finetuner, "launched_processes", lambda: 2)
    finetuner.check_gpu_processes()


def test_gpu_count_is_what_cuda_reports_and_zero_without_cuda(monkeypatch):
    from bempathy import hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert hardware.gpu_count() == 2
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.gpu_count() == 0


# -- 6. Unsloth trains on exactly the configured base and revision, and the record says which was loaded
def test_unsloth_loads_the_exact_base_at_the_configured_revision_and_records_it(tmp_path, fake_unsloth):
    revision = "0e9e39f249a16976918f6564b8830bc894c89659"
    config = unsloth_config(tmp_path, "--model_revision", revision)
    strategy = UnslothStrategy(config.model, config.train)
    strategy.load(max_seq_length=4500)
    [call] = fake_unsloth
    assert call["model_name"] == LLAMA and call["revision"] == revision and call["use_exact_model_name"] is True
    store = Store(tmp_path / "logs")
    tuner = LLAMAFineTuner(config, store=store, strategy=strategy)
    tuner.output_dir.mkdir(parents=True)
    record = store.experiments.get(tuner._experiment_id({}, 4500))
    assert record["base_model"] == {"requested": LLAMA, "revision": revision, "loaded": LLAMA, "commit": revision}


# -- 7. evaluation after Unsloth training runs in a process Unsloth never patched
def test_evaluation_after_unsloth_training_runs_in_a_fresh_process_without_unsloth(tmp_path, monkeypatch):
    argv = ["--config", str(UNSLOTH_PRESET), "--stage", "all", "--data", "corpus.csv", "--strategy=unsloth"]
    argv += ["--output-dir", str(tmp_path / "run"), "--learning_rate", "1e-4", "--eval_max_examples", "50"]
    parent = parse_config(argv)
    monkeypatch.setitem(sys.modules, "unsloth", types.ModuleType("unsloth"))
    assert fresh_process.unsloth_patched()
    launcher_env = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x"}
    for name, value in launcher_env.items():
        monkeypatch.setenv(name, value)  # as under accelerate launch / torchrun
    launched = []

    def run(command, **kwargs):
        launched.append((command, kwargs))
        return types.SimpleNamespace(returncode=3)

    monkeypatch.setattr(fresh_process.subprocess, "run", run)
    assert fresh_process.evaluate_in_fresh_process(argv) == 3  # the child's exit status is train.py's
    [(command, kwargs)] = launched
    assert command[:2] == [sys.executable, str(ROOT / "train.py")]
    child = command[2:]
    assert not set(launcher_env) & set(kwargs["env"])  # the child does not join the parent's process group
    for name in launcher_env:
        monkeypatch.delenv(name)
    # bempathy.boot imports Unsloth only when the strategy is not peft: the child never imports it.
    assert boot._requested_strategy(child) == "peft"
    evaluation = parse_config(child)
    assert (evaluation.run.stage, evaluation.run.strategy) == ("evaluate", "peft")
    same = resolved_config(parent), resolved_config(evaluation)
    for side in same:
        side["run"].pop("stage"), side["run"].pop("strategy")
    assert same[0] == same[1]  # every other option (data, output dir, eval settings, overrides) is the parent's


# -- 8. padding-free batching left for Unsloth to decide
def test_unsloth_strategy_leaves_padding_free_unset_and_peft_turns_it_off(tmp_path, fake_unsloth):
    config = unsloth_config(tmp_path)
    UnslothStrategy(config.model, config.train).load(max_seq_length=4500)
    assert config.train.padding_free is None  # what UnslothSFTConfig.__init__ would leave: Unsloth auto-enables it
    explicit = unsloth_config(tmp_path, "--padding_free", "false")
    UnslothStrategy(explicit.model, explicit.train).load(max_seq_length=4500)
    assert explicit.train.padding_free is False  # the user's explicit choice is kept
    tiny = tiny_config(tmp_path / "tiny", tmp_path, tmp_path / "logs")
    PeftStrategy(tiny.model, tiny.train).load(max_seq_length=64)
    assert tiny.train.padding_free is False  # padding-free is only exact with FlashAttention kernels


# -- 9. validation during training on a seeded subset, the final val loss on the whole split
def test_validation_during_training_is_a_seeded_subset_and_the_final_val_loss_covers_the_split(tmp_path, monkeypatch):
    assert parse_config([]).eval.eval_during_training_max_examples == 256
    config = prepare(tmp_path, "--dialogue_turns", "single_turn", "--eval_during_training_max_examples", "4", rows=120)
    val_rows = RunFolder(config.train.output_dir).read_split("val")
    assert len(val_rows) > 4
    tuner = LLAMAFineTuner(config)
    trainer = tuner.build_trainer()
    expected = subsets.select_examples(val_rows, 4, config.data.split_seed)
    tokenizer = load_tokenizer(config.model.model_name_or_path)
    assert len(trainer.eval_dataset) == 4
    assert [row["input_ids"] for row in trainer.eval_dataset] == [
        tokenizer.apply_chat_template(row["messages"], return_dict=False) for row in expected
    ]
    evaluated = []
    monkeypatch.setattr(tuner, "build_trainer", lambda: trainer)
    monkeypatch.setattr(trainer, "train", lambda **kw: types.SimpleNamespace(training_loss=1.0))
    monkeypatch.setattr(trainer, "evaluate", lambda dataset=None, **kw: evaluated.append(dataset) or {"eval_loss": 2.0})
    result = tuner.train()
    [final] = evaluated
    assert len(final) == len(val_rows) and result.val_loss == 2.0
    record = tuner.store.experiments.get(result.experiment_id)
    assert record["data"]["validation_examples"] == {"during_training": 4, "final": len(val_rows)}


# -- 10. every 8B preset fits the GPUs it names at the corpus's longest example
@pytest.mark.parametrize("preset", [QLORA_PRESET, UNSLOTH_PRESET], ids=lambda p: p.name)
def test_each_8b_preset_fits_the_gpus_it_names_at_the_longest_example(preset):
    from bempathy.train import gpu_memory as memory

    config = parse_config(["--config", str(preset)])
    assert config.train.per_device_train_batch_size * config.train.gradient_accumulation_steps == 16
    estimates = memory.preset_estimates(config, memory.CORPUS_LONGEST_TOKENS)
    for gpu in memory.PRESET_GPUS[preset.name]:
        for stage, parts in estimates.items():
            assert memory.total(parts) <= memory.GPUS[gpu].usable_bytes, (preset.name, gpu, stage)


def test_memory_estimates_match_the_documented_figures():
    from bempathy.train import gpu_memory as memory

    gib = memory.GIB
    assert memory.weights_bytes() / gib == pytest.approx(5.31, abs=0.01)  # bench/lora_params_8b.py: ~5.2 + constants
    lora = memory.lora_parameters(16, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    assert lora == 41_943_040  # bench/lora_params_8b.py
    assert memory.total(memory.training_bytes(4, 4500, lora)) / gib == pytest.approx(18.0, abs=0.1)  # old presets
    assert memory.total(memory.training_bytes(1, 4500, lora)) / gib == pytest.approx(9.6, abs=0.1)
    assert memory.total(memory.evaluation_bytes(4, 4500, lora)) / gib == pytest.approx(8.2, abs=0.1)
    assert memory.full_logits_bytes(4, 4500) / gib == pytest.approx(8.6, abs=0.1)  # what the chunked head avoids
    old_perplexity = memory.total(memory.evaluation_bytes(4, 4500, lora)) + memory.full_logits_bytes(4, 4500) * 1.1
    assert old_perplexity / gib == pytest.approx(17.7, abs=0.1)
    assert memory.total(memory.generation_bytes(4, 4500, 384, lora)) / gib == pytest.approx(10.5, abs=0.1)
    assert memory.total(memory.generation_bytes(16, 4500, 384, lora)) / gib == pytest.approx(24.1, abs=0.1)

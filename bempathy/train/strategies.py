"""FineTuningStrategy: how the base model is loaded, LoRA applied and the result exported.

Two strategies share one interface so the fine-tuner never branches on hardware:
- :class:`UnslothStrategy`: Unsloth's FastLanguageModel (4-bit, fused kernels, its own gradient
  checkpointing). Needs a CUDA GPU; unsloth is imported lazily, only here.
- :class:`PeftStrategy`: transformers + peft. QLoRA (4-bit NF4, double quantisation, bf16/fp16 compute via
  bitsandbytes) on CUDA; plain LoRA in full precision on CPU.
``select_strategy("auto")`` picks Unsloth when a CUDA GPU is present and unsloth imports, else PEFT.

Both load exactly the configured base (name and ``model_revision``; Unsloth is told not to swap in its own
pre-quantised repo) and record what was loaded, so evaluation scores the base that was trained on. Exports
start from the model just trained where the strategy can (Unsloth's merged and GGUF saves), never from a
second 16-bit copy of the base next to it on the GPU.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bempathy.config import LoraModelConfig, TrainConfig
from bempathy.hardware import available_ram_bytes, cuda_available, native_bf16
from bempathy.model.tiny import resolve_model_name
from bempathy.model.tokenizer import load_tokenizer
from bempathy.prompts import LLAMA31_CHAT_TEMPLATE, PAD_TOKEN
from bempathy.runs import ModelLoadError


class StrategyError(ModelLoadError):
    """The chosen strategy cannot run here; the message says why and what to do instead."""


def _unsloth_status() -> tuple[bool, str]:
    """Whether unsloth can be used here, and why not."""
    if not cuda_available():
        return False, "Unsloth needs a CUDA GPU and none is visible"
    if "unsloth" in sys.modules:
        return True, "unsloth imported"
    try:
        importlib.import_module("unsloth")
    except ImportError:
        return False, "unsloth is not installed (pip install -r requirements-gpu.txt)"
    except (NotImplementedError, RuntimeError) as error:
        return False, f"unsloth cannot start here: {str(error).splitlines()[0]}"
    return True, "unsloth imported"


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    # LoRA settings for SFTTrainer to apply, or None when the strategy has wrapped the model itself.
    peft_config: Any | None


# What a CPU merge holds besides the 16-bit weights: the adapter, one layer's fp32 delta, the Python/torch runtime.
MERGE_RAM_OVERHEAD = int(1.5 * 2**30)


def _dtype_bytes(dtype: Any) -> int:
    import torch

    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype.itemsize if isinstance(dtype, torch.dtype) else 4


def merge_ram_bytes(model_name_or_path: str, revision: str | None = None) -> int:
    """Host RAM a CPU merge of an adapter into this base needs: its weights in their published dtype, plus
    :data:`MERGE_RAM_OVERHEAD`. Computed from config.json on PyTorch's meta device (nothing is allocated)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(resolve_model_name(model_name_or_path), revision=revision)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    weights = sum(p.numel() for p in model.parameters()) * _dtype_bytes(getattr(config, "dtype", None))
    return weights + MERGE_RAM_OVERHEAD


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, base: str, revision: str | None = None) -> Path:
    """Merge a LoRA adapter into a reload of its base **in the base's published dtype** (bf16 for Llama 3.1) on
    the CPU, and save the merged model with the adapter's tokenizer.

    The dtype follows the checkpoint, not the GPU: the merge runs on the CPU whatever the GPU supports, and fp32
    would double the RAM (~32 GB for the 8B model) without making the bf16 weights any more exact. Usable on its
    own, e.g. on a bigger machine after ``--export none``:
    ``python -c "from bempathy.train.strategies import merge_adapter; merge_adapter('DIR/adapter', 'DIR/merged',
    'meta-llama/Llama-3.1-8B-Instruct')"``.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out_dir = Path(out_dir)
    model = AutoModelForCausalLM.from_pretrained(resolve_model_name(base), revision=revision, dtype="auto")
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out_dir, max_shard_size="5GB")
    load_tokenizer(str(adapter_dir)).save_pretrained(out_dir)
    return out_dir


class FineTuningStrategy(ABC):
    """Load, adapt and export a model; the trainer loop itself is TRL's SFTTrainer for every strategy."""

    name: str = "base"

    def __init__(self, model_args: LoraModelConfig, train_args: TrainConfig) -> None:
        self.model_args = model_args
        self.train_args = train_args
        # The base the loader actually fetched (set by load()), recorded with the experiment.
        self.loaded_base: str | None = None
        self.loaded_commit: str | None = None

    @abstractmethod
    def load(self, max_seq_length: int) -> LoadedModel:
        """Base model (quantised where the strategy does that) and tokenizer, ready for SFTTrainer."""

    def trainer_class(self) -> type:
        """The SFTTrainer (sub)class to train with; looked up at call time, after the strategy's imports."""
        from trl import SFTTrainer

        return SFTTrainer

    def describe(self) -> dict[str, Any]:
        """What the experiment log records about how the model was trained."""
        return {
            "strategy": self.name,
            "quantization": self.quantization(),
            "device": self.device(),
            "base_model": self.base_model(),
        }

    def base_model(self) -> dict[str, Any]:
        """The base asked for (name, revision) and the one the loader actually fetched."""
        return {
            "requested": self.model_args.model_name_or_path,
            "revision": self.model_args.model_revision,
            "loaded": self.loaded_base,
            "commit": self.loaded_commit,
        }

    def _record_loaded(self, name: str | None, model: Any) -> None:
        config = getattr(model, "config", None)
        self.loaded_base = name or getattr(config, "_name_or_path", None)
        commit = getattr(config, "_commit_hash", None)
        self.loaded_commit = commit if isinstance(commit, str) else None

    def device(self) -> str:
        return "cuda" if cuda_available() else "cpu"

    def quantization(self) -> str:
        return "none"

    def lora_dict(self) -> dict[str, Any]:
        m = self.model_args
        return {
            "r": m.lora_r,
            "alpha": m.lora_alpha,
            "dropout": m.lora_dropout,
            "target_modules": list(m.lora_target_modules or []),
            "use_rslora": m.use_rslora,
            "use_dora": m.use_dora,
        }

    def check_export(self, kind: str) -> None:
        """Refuse, before any training, an export that cannot run here (instead of failing after hours)."""
        if kind == "gguf":
            raise StrategyError(
                "--export gguf needs the Unsloth strategy (pip install -r requirements-gpu.txt, a CUDA GPU); "
                "use --export merged or none"
            )
        if kind == "merged":
            self._check_merge_ram()

    def _check_merge_ram(self) -> None:
        available = available_ram_bytes()
        if available is None:
            return
        m = self.model_args
        try:
            needed = merge_ram_bytes(m.model_name_or_path, m.model_revision)
        except (OSError, ValueError):
            return  # the config cannot be read yet; loading the model reports that properly
        if needed > available:
            raise StrategyError(
                f"--export merged reloads the base on the CPU in its published dtype and needs "
                f"~{needed / 2**30:.1f} GiB of free RAM; {available / 2**30:.1f} GiB is available. Train with "
                "--export none and merge the adapter on a machine with more RAM "
                "(bempathy.train.strategies.merge_adapter), "
                "or use --strategy unsloth, whose merged save streams the base shard by shard"
            )

    def export_merged(self, adapter_dir: Path, out_dir: Path, trained: LoadedModel | None = None) -> Path:
        """Merge the adapter into a 16-bit reload of the base on the CPU (never into a 4-bit base)."""
        return merge_adapter(adapter_dir, out_dir, self.model_args.model_name_or_path, self.model_args.model_revision)

    def export_gguf(self, adapter_dir: Path, out_dir: Path, trained: LoadedModel | None = None) -> Path:
        raise StrategyError("GGUF export needs the Unsloth strategy (pip install -r requirements-gpu.txt, a CUDA GPU)")


class PeftStrategy(FineTuningStrategy):
    """transformers + peft: QLoRA 4-bit NF4 on CUDA, plain LoRA in full precision on CPU."""

    name = "peft"

    def quantization(self) -> str:
        return "nf4-double-quant" if self.model_args.load_in_4bit and cuda_available() else "none"

    def trainer_class(self) -> type:
        """TRL's SFTTrainer with the LM head on answer positions only where TRL scores every position (CPU)."""
        from bempathy.train.sft import BempathySFTTrainer

        return BempathySFTTrainer

    def load(self, max_seq_length: int) -> LoadedModel:
        import torch
        from transformers import AutoModelForCausalLM
        from trl import get_peft_config, get_quantization_config

        m = self.model_args
        tokenizer = load_tokenizer(m.model_name_or_path, m.model_revision)
        kwargs: dict[str, Any] = {"revision": m.model_revision}
        if m.attn_implementation:
            kwargs["attn_implementation"] = m.attn_implementation
        if cuda_available():
            dtype = m.dtype if m.dtype not in (None, "auto") else "bfloat16"
            if dtype == "bfloat16" and not native_bf16():
                dtype = "float16"  # T4 and older: no native bf16
            m.dtype = dtype
            kwargs["dtype"] = getattr(torch, dtype)
            quantization = get_quantization_config(m)
            if quantization is not None:
                kwargs["quantization_config"] = quantization
                kwargs["device_map"] = {"": torch.cuda.current_device()}
        else:
            if m.load_in_4bit or m.load_in_8bit:
                print("bempathy: 4/8-bit loading needs a CUDA GPU; training plain LoRA in float32 on the CPU")
            m.load_in_4bit = m.load_in_8bit = False
            kwargs["dtype"] = torch.float32 if m.dtype in (None, "auto") else getattr(torch, m.dtype)
        # padding-free batching is only exact with FlashAttention kernels: off unless asked for explicitly.
        if self.train_args.padding_free is None:
            self.train_args.padding_free = False
        name = resolve_model_name(m.model_name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
        self._record_loaded(name, model)
        model.config.pad_token_id = tokenizer.pad_token_id
        model.config.use_cache = False
        return LoadedModel(model=model, tokenizer=tokenizer, peft_config=get_peft_config(m))


class UnslothStrategy(FineTuningStrategy):
    """Unsloth's FastLanguageModel: 4-bit base, its LoRA wrapper and gradient checkpointing."""

    name = "unsloth"

    def quantization(self) -> str:
        return "nf4 (unsloth)" if self.model_args.load_in_4bit else "none"

    def trainer_class(self) -> type:
        """Whatever ``trl.SFTTrainer`` is once unsloth is imported (Unsloth patches it)."""
        import trl

        return trl.SFTTrainer

    def describe(self) -> dict[str, Any]:
        # Unsloth's own checkpointing replaces transformers' (whose flag is switched off in load()).
        return {**super().describe(), "gradient_checkpointing": "unsloth"}

    def load(self, max_seq_length: int) -> LoadedModel:
        available, why = _unsloth_status()
        if not available:
            raise StrategyError(f"--strategy unsloth cannot run: {why}. Use --strategy peft (or auto).")
        m = self.model_args
        unsupported = [
            name
            for name, value in (("use_dora", m.use_dora), ("lora_modules_to_save", m.lora_modules_to_save))
            if value
        ]
        if unsupported:
            raise StrategyError(f"the Unsloth strategy does not support {', '.join(unsupported)}; use --strategy peft")
        from unsloth import FastLanguageModel

        requested = resolve_model_name(m.model_name_or_path)
        resolved: list[str] = []
        kwargs: dict[str, Any] = {
            "model_name": requested,
            "max_seq_length": max_seq_length,
            "dtype": None,  # unsloth picks bf16 or fp16 from the GPU
            "load_in_4bit": bool(m.load_in_4bit),
            # Exactly this repo at this revision: without it Unsloth maps meta-llama/Llama-3.1-8B-Instruct to its
            # own pre-quantised upload (a different base from the one evaluation loads) and drops the revision.
            "use_exact_model_name": True,
            "revision": m.model_revision,
        }
        if "on_model_resolved" in _parameters(FastLanguageModel.from_pretrained):
            kwargs["on_model_resolved"] = resolved.append  # unsloth 2026.10: the repo it is about to fetch
        model, tokenizer = FastLanguageModel.from_pretrained(**kwargs)
        self._record_loaded(resolved[-1] if resolved else None, model)
        if self.loaded_base not in (None, requested):
            print(f"bempathy: warning: Unsloth loaded '{self.loaded_base}' although '{requested}' was asked for")
        model = FastLanguageModel.get_peft_model(
            model,
            r=m.lora_r,
            lora_alpha=m.lora_alpha,
            lora_dropout=m.lora_dropout,
            target_modules=list(m.lora_target_modules or []),
            use_gradient_checkpointing="unsloth" if self.train_args.gradient_checkpointing else False,
            use_rslora=m.use_rslora,
            random_state=self.train_args.seed,
        )
        tokenizer.pad_token = PAD_TOKEN
        tokenizer.chat_template = LLAMA31_CHAT_TEMPLATE
        # Unsloth's checkpointing replaces transformers': do not let the trainer wrap the model a second time.
        self.train_args.gradient_checkpointing = False
        # TrainConfig is a plain dataclass: UnslothSFTConfig.__init__, which leaves padding_free at None ("not
        # set": Unsloth then enables padding-free batching where it is exact), never runs. TrainConfig's default is
        # None too; an explicit true/false from the user is kept.
        return LoadedModel(model=model, tokenizer=tokenizer, peft_config=None)

    def check_export(self, kind: str) -> None:
        """Both exports start from the trained model; Unsloth checks disk space itself."""

    def export_merged(self, adapter_dir: Path, out_dir: Path, trained: LoadedModel | None = None) -> Path:
        """Unsloth's 16-bit merged save of the model just trained: it fetches the 16-bit base shards and merges
        shard by shard, so neither the GPU nor the host holds a second whole copy."""
        if trained is None:
            return super().export_merged(adapter_dir, out_dir)
        trained.model.save_pretrained_merged(str(out_dir), trained.tokenizer, save_method="merged_16bit")
        return out_dir

    def export_gguf(self, adapter_dir: Path, out_dir: Path, trained: LoadedModel | None = None) -> Path:
        """GGUF (q4_k_m) from the model just trained, not from a second 16-bit load of the base beside it."""
        if trained is not None:
            trained.model.save_pretrained_gguf(str(out_dir), trained.tokenizer, quantization_method="q4_k_m")
            return out_dir
        # On its own (no trained model in memory): load the adapter with its base once.
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(str(adapter_dir), load_in_4bit=False)
        model.save_pretrained_gguf(str(out_dir), tokenizer, quantization_method="q4_k_m")
        return out_dir


def _parameters(function: Any) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


STRATEGIES: dict[str, type[FineTuningStrategy]] = {"peft": PeftStrategy, "unsloth": UnslothStrategy}


def select_strategy(choice: str, model_args: LoraModelConfig, train_args: TrainConfig) -> FineTuningStrategy:
    """auto: Unsloth when a CUDA GPU is present and unsloth imports, else PEFT. A forced choice is honoured
    or refused with one clear error."""
    if choice == "auto":
        choice = "unsloth" if _unsloth_status()[0] else "peft"
    elif choice == "unsloth":
        available, why = _unsloth_status()
        if not available:
            raise StrategyError(f"--strategy unsloth cannot run: {why}. Use --strategy peft (or auto).")
    if choice not in STRATEGIES:
        raise StrategyError(f"unknown strategy '{choice}' (choose from auto, {', '.join(STRATEGIES)})")
    return STRATEGIES[choice](model_args, train_args)

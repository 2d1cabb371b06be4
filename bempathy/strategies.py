"""FineTuningStrategy: how the base model is loaded, LoRA applied and the result exported.

Two strategies share one interface so the fine-tuner never branches on hardware:
- :class:`UnslothStrategy`: Unsloth's FastLanguageModel (4-bit, fused kernels, its own gradient
  checkpointing). Needs a CUDA GPU; unsloth is imported lazily, only here.
- :class:`PeftStrategy`: transformers + peft. QLoRA (4-bit NF4, double quantisation, bf16/fp16 compute via
  bitsandbytes) on CUDA; plain LoRA in full precision on CPU.
``select_strategy("auto")`` picks Unsloth when a CUDA GPU is present and unsloth imports, else PEFT.
"""

from __future__ import annotations

import importlib
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bempathy.config import LoraModelConfig, TrainConfig
from bempathy.hardware import cuda_available, native_bf16
from bempathy.prompts import LLAMA31_CHAT_TEMPLATE, PAD_TOKEN
from bempathy.runs import ModelLoadError, load_tokenizer
from bempathy.tiny import resolve_model_name


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


class FineTuningStrategy(ABC):
    """Load, adapt and export a model; the trainer loop itself is TRL's SFTTrainer for every strategy."""

    name: str = "base"

    def __init__(self, model_args: LoraModelConfig, train_args: TrainConfig) -> None:
        self.model_args = model_args
        self.train_args = train_args

    @abstractmethod
    def load(self, max_seq_length: int) -> LoadedModel:
        """Base model (quantised where the strategy does that) and tokenizer, ready for SFTTrainer."""

    def describe(self) -> dict[str, Any]:
        """What the experiment log records about how the model was trained."""
        return {"strategy": self.name, "quantization": self.quantization(), "device": self.device()}

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

    def export_merged(self, adapter_dir: Path, out_dir: Path) -> Path:
        """Merge the adapter into a full-precision reload of the base (never into a 4-bit base)."""
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        # Full precision for the merge: bf16 where native, else fp32 (fp16 would lose the adapter's small deltas).
        dtype = torch.bfloat16 if native_bf16() else torch.float32
        base = AutoModelForCausalLM.from_pretrained(resolve_model_name(self.model_args.model_name_or_path), dtype=dtype)
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.save_pretrained(out_dir)
        load_tokenizer(str(adapter_dir)).save_pretrained(out_dir)
        return out_dir

    def export_gguf(self, adapter_dir: Path, out_dir: Path) -> Path:
        raise StrategyError("GGUF export needs the Unsloth strategy (pip install -r requirements-gpu.txt, a CUDA GPU)")


class PeftStrategy(FineTuningStrategy):
    """transformers + peft: QLoRA 4-bit NF4 on CUDA, plain LoRA in full precision on CPU."""

    name = "peft"

    def quantization(self) -> str:
        return "nf4-double-quant" if self.model_args.load_in_4bit and cuda_available() else "none"

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
        model = AutoModelForCausalLM.from_pretrained(resolve_model_name(m.model_name_or_path), **kwargs)
        model.config.pad_token_id = tokenizer.pad_token_id
        model.config.use_cache = False
        return LoadedModel(model=model, tokenizer=tokenizer, peft_config=get_peft_config(m))


class UnslothStrategy(FineTuningStrategy):
    """Unsloth's FastLanguageModel: 4-bit base, its LoRA wrapper and gradient checkpointing."""

    name = "unsloth"

    def quantization(self) -> str:
        return "nf4 (unsloth)" if self.model_args.load_in_4bit else "none"

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

        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=resolve_model_name(m.model_name_or_path),
            max_seq_length=max_seq_length,
            dtype=None,  # unsloth picks bf16 or fp16 from the GPU
            load_in_4bit=bool(m.load_in_4bit),
        )
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
        return LoadedModel(model=model, tokenizer=tokenizer, peft_config=None)

    def export_gguf(self, adapter_dir: Path, out_dir: Path) -> Path:
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(str(adapter_dir), load_in_4bit=False)
        model.save_pretrained_gguf(str(out_dir), tokenizer, quantization_method="q4_k_m")
        return out_dir


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

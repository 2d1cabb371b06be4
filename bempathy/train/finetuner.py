"""LLAMAFineTuner: TRL's SFTTrainer driven by a FineTuningStrategy, logged into LLAMAExperiments.

What it guarantees, whatever the hardware:
- loss on assistant tokens only (the answer and its ``<|eot_id|>``), via the chat template's generation
  markers and ``assistant_only_loss``;
- no truncation: with ``max_length: null`` the training length is the longest prepared example; a cap was
  applied (and reported) by the prepare stage, never silently here;
- an experiment record that is ``running`` while training and ends ``completed``, ``failed`` or
  ``interrupted`` (Ctrl-C), with the loss history appended as it arrives;
- ``--resume`` continues from the last checkpoint in the output dir and reuses the same experiment record;
- under ``accelerate launch`` only the main process writes logs and saves;
- GPU set-ups that would fail later fail first, in one line: several GPUs without a launcher, an export that
  cannot run here; with fp16 (T4) the LoRA weights stay fp32 so the fp16 gradient scaler can unscale them;
- validation during training uses a seeded subset (``eval_during_training_max_examples``); the final val loss
  covers the whole split;
- a process that imported Unsloth (which patches transformers' Llama classes process-wide) evaluates in a fresh
  process (:func:`bempathy.train.fresh_process.evaluate_in_fresh_process`).
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelerate import PartialState
from transformers import TrainerCallback

from bempathy.config import Config, ConfigError
from bempathy.data.subsets import select_examples
from bempathy.hardware import describe as hardware
from bempathy.hardware import gpu_count, is_main_process, launched_processes, peak_memory_mb, release_memory
from bempathy.runs import RunFolder
from bempathy.storage.log import utc_now
from bempathy.storage.store import Store
from bempathy.train.callbacks import ExperimentLogCallback, SampleAnswerCallback
from bempathy.train.checkpoints import forget_history_after, last_checkpoint, whole_run_train_loss
from bempathy.train.strategies import FineTuningStrategy, LoadedModel, select_strategy


@dataclass
class TrainResult:
    experiment_id: str | None
    adapter_dir: Path
    train_loss: float | None
    val_loss: float | None
    runtime_s: float
    global_step: int
    peak_memory_mb: float
    longest_example: int
    exported: dict[str, str]


def check_gpu_processes(use_cpu: bool = False) -> None:
    """One process seeing several GPUs makes transformers' Trainer wrap the model in ``nn.DataParallel``, which
    TRL's SFTTrainer refuses (after the model has loaded): say what to run instead, before loading anything."""
    gpus = 0 if use_cpu else gpu_count()
    if gpus > 1 and launched_processes() == 1:
        raise ConfigError(
            f"{gpus} GPUs are visible to a single train.py process, and TRL's SFTTrainer does not support "
            f"nn.DataParallel: train on all of them with `accelerate launch --num_processes {gpus} train.py ...`, "
            "or on one with `CUDA_VISIBLE_DEVICES=0 python train.py ...`"
        )


def keep_trainable_fp32(model: Any) -> int:
    """Cast every trainable floating-point parameter to fp32 in place; returns how many were cast.

    With fp16 mixed precision the gradient scaler unscales the trainable parameters' gradients, and it has no
    bf16 kernel, so LoRA weights that TRL cast to bf16 for a quantised model crash the first optimizer step. fp32
    master weights are also what fp16 training needs. Must run before the optimizer is created (trainer.train()).
    """
    import torch

    cast = 0
    for param in model.parameters():
        if param.requires_grad and param.is_floating_point() and param.dtype != torch.float32:
            param.data = param.data.float()
            cast += 1
    return cast


def validation_subset(rows: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """The seeded validation subset evaluated during training (proportional per sub-corpus), or all rows."""
    return select_examples(rows, limit, seed)


def resolved_config(config: Config) -> dict[str, Any]:
    """The whole configuration as plain JSON (saved beside the adapter, logged with the experiment)."""

    def plain(obj: Any) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(obj), default=str))

    return {
        "preset": config.preset,
        "run": plain(config.run),
        "data": plain(config.data),
        "eval": plain(config.eval),
        "model": plain(config.model),
        "train": {k: v for k, v in plain(config.train).items() if not k.startswith("hub_") and k != "hub_token"},
    }


def _as_dataset(rows: list[dict[str, Any]]):
    from datasets import Dataset

    return Dataset.from_list([{"messages": row["messages"]} for row in rows])


class LLAMAFineTuner:
    """Fine-tunes the configured model on a prepared output dir and logs the run."""

    def __init__(self, config: Config, store: Store | None = None, strategy: FineTuningStrategy | None = None):
        self.config = config
        self.store = store if store is not None else Store(config.run.logs_dir)
        self.strategy = strategy or select_strategy(config.run.strategy, config.model, config.train)
        self.run = RunFolder(Path(config.train.output_dir))
        self.output_dir = self.run.path

    # -- experiment record
    def _experiment_id(self, data_report: dict[str, Any], longest: int) -> str:
        config = resolved_config(self.config)
        fields = {
            "model_name": self.config.model.model_name_or_path,
            **self.strategy.describe(),
            "lora_config": self.strategy.lora_dict(),
            # Training settings under their own name (the schema users expect); the rest of the config beside them.
            "training": config["train"],
            "config": {key: value for key, value in config.items() if key != "train"},
            "data": {
                "source": data_report.get("source"),
                "splits": data_report.get("splits"),
                "dropped": data_report.get("dropped"),
                "token_lengths": data_report.get("token_lengths"),
                "token_budget": data_report.get("token_budget"),  # the fixed system prompt's share of tokens
                "training_length": longest,
                # validation examples scored every eval_steps, and for the final val loss
                "validation_examples": getattr(self, "validation_examples", None),
            },
            "hardware": hardware(),
            "status": "running",
            "output_dir": str(self.output_dir),
        }
        resumed = self.run.experiment_id() if self.config.run.resume else None
        if resumed is not None and self.store.experiments.get(resumed) is not None:
            self.store.experiments.update(resumed, {"status": "running", "resumed_at": utc_now()})
            return resumed
        experiment_id = self.store.experiments.insert(
            {**fields, "train_loss": None, "val_loss": None, "loss_history": [], "metrics": {}}
        )
        self.run.write_experiment_id(experiment_id)
        return experiment_id

    # -- training
    def build_trainer(self):
        """The SFTTrainer for this run, with its callbacks; nothing trained yet (tests inspect it)."""
        from transformers import EarlyStoppingCallback

        check_gpu_processes(bool(self.config.train.use_cpu))
        self.strategy.check_export(self.config.run.export)
        train_rows = self.run.read_split("train")
        val_rows = self.run.read_split("val")
        report = self.run.data_report()
        if report is None:
            raise FileNotFoundError(f"{self.run.data_report_path} is missing: run train.py --stage prepare first")
        longest = max((r.get("n_tokens") or 0) for r in train_rows + val_rows)
        args = self.config.train
        if args.max_length is not None and longest > args.max_length:
            raise ValueError(
                f"prepared data has a {longest}-token example but max_length is {args.max_length}: "
                "re-run --stage prepare so the cap drops (and reports) those rows instead of truncating"
            )
        if not val_rows:
            args.eval_strategy = "no"
        callbacks: list[TrainerCallback] = []
        if self.config.run.early_stopping_patience is not None and val_rows:
            args.load_best_model_at_end = True
            args.metric_for_best_model = "eval_loss"
            args.greater_is_better = False
            callbacks.append(EarlyStoppingCallback(self.config.run.early_stopping_patience))

        loaded = self.strategy.load(max_seq_length=args.max_length or longest)
        self.longest = longest
        self.loaded = loaded
        self.has_validation = bool(val_rows)
        if val_rows:
            callbacks.append(SampleAnswerCallback(loaded.tokenizer, val_rows[0]["messages"]))
        # Every eval_steps a fixed seeded subset (the same rows each time, so the curve is comparable); the final
        # val loss in train() covers the whole split.
        limit, seed = self.config.eval.eval_during_training_max_examples, self.config.data.split_seed
        subset = validation_subset(val_rows, limit, seed)
        self.full_validation = _as_dataset(val_rows) if val_rows else None
        self.validation_examples = {"during_training": len(subset), "final": len(val_rows)}
        trainer = self.strategy.trainer_class()(
            model=loaded.model,
            args=args,
            train_dataset=_as_dataset(train_rows),
            eval_dataset=_as_dataset(subset) if subset else None,
            processing_class=loaded.tokenizer,
            peft_config=loaded.peft_config,
            callbacks=callbacks,
        )
        if args.fp16:
            # TRL casts a quantised model's LoRA weights to bf16 (trl 1.15 sft_trainer.py:877-880); the fp16
            # GradScaler cannot unscale bf16 gradients. The optimizer does not exist yet: fp32 now is in time.
            keep_trainable_fp32(trainer.model)
        # The record is created once everything that can fail on set-up has worked.
        self.experiment_id = self._experiment_id(report, longest) if is_main_process() else None
        if self.experiment_id is not None:
            trainer.add_callback(ExperimentLogCallback(self.store, self.experiment_id))
        return trainer

    def train(self) -> TrainResult:
        trainer = self.build_trainer()
        experiment_id, loaded, longest = self.experiment_id, self.loaded, self.longest
        main = experiment_id is not None
        started = time.monotonic()
        resumed_from = last_checkpoint(self.output_dir) if self.config.run.resume else None
        if resumed_from is not None and experiment_id is not None:
            forget_history_after(self.store, experiment_id, resumed_from)
        try:
            output = trainer.train(resume_from_checkpoint=resumed_from)
            val_loss = trainer.evaluate(self.full_validation)["eval_loss"] if self.has_validation else None
        except KeyboardInterrupt:
            self._finish(experiment_id, "interrupted", started, error="interrupted by the user (Ctrl-C)")
            raise
        except BaseException as error:
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            self._finish(experiment_id, "failed", started, error=detail)
            raise

        adapter_dir = self.run.adapter_dir
        trainer.save_model(str(adapter_dir))
        runtime = time.monotonic() - started
        exported: dict[str, str] = {}
        if main:
            loaded.tokenizer.save_pretrained(str(adapter_dir))
            self.run.config_path.write_text(
                json.dumps(resolved_config(self.config), ensure_ascii=False, indent=2) + "\n",
                encoding="utf-8",
            )
            exported = self._export(adapter_dir, loaded)
        # Other ranks must not go on (to evaluation, or to look for the adapter) before rank 0 has saved.
        PartialState().wait_for_everyone()
        train_loss = whole_run_train_loss(self.store, experiment_id, output.training_loss, resumed_from is not None)
        self._finish(
            experiment_id,
            "completed",
            started,
            train_loss=train_loss,
            val_loss=val_loss,
            global_step=trainer.state.global_step,
            adapter_path=str(adapter_dir),
            exported=exported,
        )
        result = TrainResult(
            experiment_id=experiment_id,
            adapter_dir=adapter_dir,
            train_loss=train_loss,
            val_loss=val_loss,
            runtime_s=runtime,
            global_step=trainer.state.global_step,
            peak_memory_mb=peak_memory_mb(),
            longest_example=longest,
            exported=exported,
        )
        # Evaluation loads the model again: free this one first (an 8B model twice does not fit a 16 GB GPU).
        del trainer, loaded
        self.loaded = None
        release_memory()
        return result

    def _export(self, adapter_dir: Path, trained: LoadedModel | None = None) -> dict[str, str]:
        """The requested export, from the model just trained where the strategy can use it."""
        kind = self.config.run.export
        trained = trained if trained is not None else getattr(self, "loaded", None)
        if kind == "merged":
            return {"merged": str(self.strategy.export_merged(adapter_dir, self.output_dir / "merged", trained))}
        if kind == "gguf":
            return {"gguf": str(self.strategy.export_gguf(adapter_dir, self.output_dir / "gguf", trained))}
        return {}

    def _finish(self, experiment_id: str | None, status: str, started: float, **fields: Any) -> None:
        if experiment_id is None:
            return
        self.store.experiments.update(
            experiment_id,
            {
                "status": status,
                "runtime_s": round(time.monotonic() - started, 2),
                "peak_memory_mb": round(peak_memory_mb(), 1),
                "finished_at": utc_now(),
                **fields,
            },
        )

"""The preference stage: DPO or KTO on top of a trained run, from rated answers (``train.py --stage preference``).

What it guarantees:
- the policy starts from the run's adapter and the reference *is* the run's model: the adapter is loaded trainable
  and no ``peft_config`` is passed, so TRL (1.16) copies it into a frozen ``ref`` adapter. A ``peft_config`` on the
  bare base would make the untuned base the reference instead;
- the rows are checked before anything loads: the chosen loss's schema (naming the line), not empty, and for DPO
  every user turn comes from the run's own prepared data (``DIR/data/*.jsonl``);
- no truncation: ``max_length`` is the longest row's token count (TRL's default 1024 cuts silently), and TRL's own
  tokenisation is checked against it before training;
- nothing is written until every check has passed and the trainer is built; the output folder then has a run's
  layout (``OUT/adapter`` with the tokenizer and ``bempathy_config.json``, ``OUT/experiment.json``), so
  ``app.py --run OUT`` serves it;
- one ``LLAMAExperiments`` record: ``stage: "preference"``, ``parent_experiment``, the rows' sha256 and count, the
  loss history with TRL's reward metrics (and, every ``preference_eval_steps``, the held-out pairs' eval loss,
  reward accuracy and margin), the training loss and the last logged reward margin and accuracy;
- checkpoints every ``preference_save_steps``, and ``--resume true`` continues the newest one after a kill with the
  same experiment record, but only for the same rows and parent run (``OUT/resume.json``). The trained adapter is
  restored from the checkpoint by hand: transformers reloads only the adapters in sub-folders of a checkpoint, and
  TRL's frozen ``ref`` copy is the only one there.
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelerate import PartialState

from bempathy.config import Config, ConfigError
from bempathy.data.read import DataError
from bempathy.eval.pairs import held_out_report
from bempathy.hardware import describe as hardware
from bempathy.hardware import is_main_process, peak_memory_mb, release_memory
from bempathy.model.tokenizer import load_tokenizer
from bempathy.runs import ModelLoadError, RunFolder
from bempathy.serve.plan import ModelPlan, plan_from_run
from bempathy.storage.log import utc_now, write_atomic
from bempathy.storage.store import Store
from bempathy.train.callbacks import LOGGED_KEYS, ExperimentLogCallback
from bempathy.train.checkpoints import checkpoint_step, forget_history_after, last_checkpoint, whole_run_train_loss
from bempathy.train.finetuner import check_gpu_processes, keep_trainable_fp32
from bempathy.train.preference_rows import (
    PreferenceRows,
    check_prompts_in_corpus,
    hold_out,
    longest_row,
    read_preferences,
)
from bempathy.train.strategies import PeftStrategy

# TRL's reward metrics, logged next to the loss (DPO: margin and accuracy; KTO: kl too).
REWARD_KEYS = ("rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected", "kl")
# The same metrics on the held-out pairs, logged during training (TRL prefixes them with eval_).
EVAL_KEYS = ("eval_loss", *(f"eval_{key}" for key in REWARD_KEYS))
# Training options the preference stage takes from the run's training options: hardware, batch, optimiser, logging.
CARRIED_TRAINING_ARGS = (
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "gradient_checkpointing",
    "gradient_checkpointing_kwargs",
    "bf16",
    "fp16",
    "use_cpu",
    "seed",
    "logging_steps",
    "dataloader_num_workers",
    "dataloader_pin_memory",
    "report_to",
    "save_total_limit",
    "optim",
    "weight_decay",
    "max_grad_norm",
    "warmup_steps",
    "lr_scheduler_type",
)


def default_output_dir(from_run: str | None, loss: str) -> str | None:
    """``DIR-dpo`` next to the run: a preset's output_dir names the SFT run, which must not be overwritten."""
    return f"{str(from_run).rstrip('/')}-{loss}" if from_run else None


def _plain(obj: Any) -> dict[str, Any]:
    return json.loads(json.dumps(obj, default=str))


class PreferenceLogCallback(ExperimentLogCallback):
    """The loss history with TRL's reward metrics, and a log at the last step (TRL's metrics of a partial logging
    window would otherwise never reach the log)."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_log = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or ("loss" not in logs and "eval_loss" not in logs):
            return
        keys = (*LOGGED_KEYS, *REWARD_KEYS, *EVAL_KEYS)
        entry = {"step": state.global_step, **{k: logs[k] for k in keys if k in logs}}
        self.store.experiments.append(self.experiment_id, "loss_history", [entry])


@dataclass
class PreferenceResult:
    experiment_id: str | None
    adapter_dir: Path
    train_loss: float
    global_step: int
    rows: int
    max_length: int
    final_metrics: dict[str, float]
    held_out: dict[str, Any] | None
    runtime_s: float
    peak_memory_mb: float


class PreferenceTrainer:
    """DPO or KTO from ``--from_run``'s adapter on ``--preferences``, written to ``--output_dir``."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.args = config.preference
        self.store = store if store is not None else Store(config.run.logs_dir)
        self.experiment_id: str | None = None
        self.resume_from: str | None = None  # the checkpoint --resume continues, once checked
        self.resume_state: dict[str, Any] = {}  # OUT/resume.json of that checkpoint, read once

    # -- checks (nothing is loaded or written before they pass)
    def check(self) -> tuple[RunFolder, ModelPlan, PreferenceRows]:
        args = self.args
        if not args.from_run:
            raise ConfigError("--stage preference needs --from_run DIR (a trained run folder)")
        if not args.preferences:
            raise ConfigError(
                "--stage preference needs --preferences FILE.jsonl (python -m bempathy.human_eval export --loss "
                f"{args.preference_loss})"
            )
        sft = RunFolder(Path(args.from_run))
        self.output = RunFolder(Path(self.config.train.output_dir))
        if self.output.path.resolve() == sft.path.resolve():
            raise ConfigError(
                f"--output_dir is the --from_run folder {sft.path}: the preference adapter would replace the adapter "
                "it starts from; choose another folder"
            )
        plan = plan_from_run(sft.path)  # the app's own check of a run folder: an adapter and a known base
        if not 0 <= args.preference_held_out < 1:
            raise ConfigError(
                f"--preference_held_out is a share of the prompts, 0 to below 1; got {args.preference_held_out}"
            )
        batch = args.preference_batch_size or self.config.train.per_device_train_batch_size
        if args.preference_loss == "kto" and batch < 2:
            raise ConfigError(
                f"KTO needs at least 2 rows per device per step (here {batch}): its KL estimate pairs each prompt with "
                "another row's completion in the same batch; pass --preference_batch_size 2 (and "
                "--preference_gradient_accumulation_steps to keep the effective batch)"
            )
        for name in ("preference_save_steps", "preference_eval_steps"):
            value = getattr(args, name)
            if value is not None and value < 0:
                raise ConfigError(f"--{name} is a number of steps, 0 or more; got {value}")
        data = read_preferences(args.preferences, args.preference_loss)
        self.resume_from = self._checkpoint_to_resume(sft, data)
        corpus = sft.data_run()
        check_prompts_in_corpus(data, corpus)  # DPO and KTO alike: prompts from the run's own corpus
        if data.prompt_splits.get("test"):
            print(
                f"bempathy: note: {data.prompt_splits['test']} of {len(data.rows)} preference prompts are in "
                f"{corpus.split_path('test')}: this run's evaluation leaves those test examples out (held-out "
                "prompts only)"
            )
        return sft, plan, data

    def _checkpoint_to_resume(self, sft: RunFolder, data: PreferenceRows) -> str | None:
        """With --resume, the newest checkpoint in the output folder, if it belongs to these rows and this parent."""
        checkpoint = last_checkpoint(self.output.path) if self.config.run.resume else None
        if checkpoint is None:
            return None
        owner = self.output.resume_path
        state = json.loads(owner.read_text(encoding="utf-8")) if owner.is_file() else {}
        expected = {"preferences_sha256": data.sha256, "from_run": str(sft.path.resolve())}
        differs = [key for key, value in expected.items() if state.get(key) != value]
        if differs:
            raise ConfigError(
                f"--resume: the checkpoints in {self.output.path} were not trained from these "
                f"{' and '.join(k.replace('_sha256', '').replace('_', ' ') for k in differs)} ({owner} says "
                f"{ {k: state.get(k) for k in differs} }); resume with the same --from_run and --preferences, or "
                "choose another --output_dir"
            )
        self.resume_state = state
        return checkpoint

    def _model_args(self, plan: ModelPlan, saved: dict[str, Any]):
        """The run's base exactly as it was trained (name, revision, dtype, 4-bit), recorded with the experiment."""
        m = self.config.model
        for key, value in (saved.get("model") or {}).items():
            if hasattr(m, key):
                setattr(m, key, value)
        m.model_name_or_path, m.load_in_4bit = plan.base, plan.load_in_4bit
        return m

    def _training_args(self, max_length: int):
        from trl import DPOConfig, KTOConfig

        args, train = self.args, self.config.train
        common = {name: getattr(train, name) for name in CARRIED_TRAINING_ARGS}
        common.update(
            output_dir=str(self.output.path),
            learning_rate=args.preference_learning_rate,
            num_train_epochs=args.preference_epochs,
            max_steps=args.preference_max_steps,
            beta=args.beta,
            max_length=max_length,
            per_device_train_batch_size=args.preference_batch_size or train.per_device_train_batch_size,
            gradient_accumulation_steps=(
                args.preference_gradient_accumulation_steps or train.gradient_accumulation_steps
            ),
            # Checkpoints only for --resume: the adapter itself is saved once, at the end, without TRL's frozen copy.
            save_strategy="steps" if args.preference_save_steps else "no",
            save_steps=args.preference_save_steps or 500,
            **self._eval_schedule(train.logging_steps),
        )
        if args.preference_loss == "dpo":
            return DPOConfig(**common, loss_type=[args.dpo_loss_type])
        return KTOConfig(**common)  # TRL's sequential sampling: its KL pairs are neighbours in a fixed order

    def _eval_schedule(self, logging_steps: float) -> dict[str, Any]:
        """The held-out pairs scored by TRL while training, when there are any and it was not turned off."""
        steps = self.args.preference_eval_steps
        steps = logging_steps if steps is None else steps
        if not steps or not getattr(self, "held_rows", None):
            return {"eval_strategy": "no"}
        return {"eval_strategy": "steps", "eval_steps": steps}

    def build_trainer(self):
        """Check, load the run's model with its adapter trainable, and build TRL's trainer; nothing trained yet."""
        from peft import PeftModel
        from trl import DPOTrainer, KTOTrainer

        sft, plan, data = self.check()
        check_gpu_processes(bool(self.config.train.use_cpu))
        self.train_rows, self.held_rows = hold_out(data, self.args.preference_held_out)
        self.sft, self.data = sft, data
        saved = sft.config()
        tokenizer = load_tokenizer(str(sft.adapter_dir))
        longest = longest_row(data, tokenizer)
        cap = self.config.train.max_length
        if cap is not None and longest > cap:
            raise DataError(
                f"{data.path}: a row has {longest} tokens but max_length is {cap}: preference rows are never "
                "truncated; raise max_length or leave those rows out"
            )
        training_args = self._training_args(longest)
        strategy = PeftStrategy(self._model_args(plan, saved), self.config.train)
        try:
            base = strategy.load(max_seq_length=longest).model
            model = PeftModel.from_pretrained(base, str(sft.adapter_dir), is_trainable=True)
        except OSError as error:
            raise ModelLoadError(
                f"cannot load {plan.base} with {sft.adapter_dir}: {str(error).splitlines()[0]}"
            ) from None
        from datasets import Dataset

        trainer_class = DPOTrainer if data.loss == "dpo" else KTOTrainer
        evaluating = training_args.eval_strategy != "no"
        try:
            # No peft_config: TRL copies the loaded adapter into a frozen "ref" adapter, so the reference is this run.
            trainer = trainer_class(
                model=model,
                args=training_args,
                train_dataset=Dataset.from_list(self.train_rows),
                eval_dataset=Dataset.from_list(self.held_rows) if evaluating else None,
                processing_class=tokenizer,
            )
        except ValueError as error:  # TRL's checks of its own settings (e.g. a loss that needs another option)
            raise ConfigError(f"TRL refused the preference settings: {str(error).splitlines()[0]}") from None
        self._check_untruncated(trainer.train_dataset, self.train_rows, longest)
        if evaluating:
            self._check_untruncated(trainer.eval_dataset, self.held_rows, longest)
        if training_args.fp16:
            # As in SFT: TRL casts a quantised model's LoRA weights to bf16, which the fp16 GradScaler cannot unscale.
            keep_trainable_fp32(trainer.model)
        self.trainer, self.tokenizer, self.strategy, self.saved = trainer, tokenizer, strategy, saved
        self.max_length = longest
        # The held-out rows scored now, by the policy as it starts (the run's own model), and again after training.
        self.score_held_out = (
            held_out_report(trainer.model, tokenizer, self.held_rows, data.loss, self.args.beta)
            if self.held_rows
            else None
        )
        self.experiment_id = self._experiment_id() if is_main_process() else None
        if self.experiment_id is not None:
            trainer.add_callback(PreferenceLogCallback(self.store, self.experiment_id))
        return trainer

    def _check_untruncated(self, dataset: Any, rows: list[dict[str, Any]], max_length: int) -> None:
        """TRL's own tokenisation fits max_length and no row was dropped (it drops prompts that fill it)."""
        completions = ("chosen_ids", "rejected_ids", "completion_ids", "KL_completion_ids")  # whichever it has
        longest = max(
            (len(r["prompt_ids"]) + len(r[key]) for r in dataset for key in completions if key in r), default=0
        )
        if len(dataset) != len(rows) or longest > max_length:
            raise DataError(
                f"TRL tokenised {len(dataset)} of {len(rows)} rows, the longest {longest} tokens, "
                f"against a max_length of {max_length}: the preference rows would be truncated"
            )

    # -- experiment record
    def saved_config(self) -> dict[str, Any]:
        """OUT/adapter/bempathy_config.json: the run's model and data (what serving reads), this stage's settings."""
        train = {k: v for k, v in _plain(self.trainer.args.to_dict()).items() if not k.startswith("hub_")}
        return {
            "preset": self.config.preset,
            "run": _plain(asdict(self.config.run)),
            "data": self.saved.get("data") or {"system_prompt": None},
            "model": _plain(asdict(self.config.model)),
            "train": train,
            "preference": {
                **_plain(asdict(self.args)),
                "rows": self.rows_summary(),
                "max_length": self.max_length,
            },
            "parent": {"run": str(self.sft.path), "experiment_id": self.sft.experiment_id()},
        }

    def rows_summary(self) -> dict[str, Any]:
        """The file's summary with how many rows were trained on and held out."""
        return {**self.data.summary(), "trained_on": len(self.train_rows), "held_out": len(self.held_rows)}

    def _experiment_id(self) -> str:
        resumed = self._resumed_experiment()
        if resumed is not None:
            self.store.experiments.update(resumed, {"status": "running", "resumed_at": utc_now()})
            return resumed
        config = self.saved_config()
        record = {
            "model_name": self.config.model.model_name_or_path,
            "stage": "preference",
            "preference_loss": self.args.preference_loss,
            "dpo_loss_type": self.args.dpo_loss_type if self.args.preference_loss == "dpo" else None,
            "beta": self.args.beta,
            "parent_experiment": self.sft.experiment_id(),
            "parent_run": str(self.sft.path),
            "preferences": self.rows_summary(),
            **self.strategy.describe(),
            "lora_config": self.strategy.lora_dict(),
            "training": config["train"],
            "config": {key: value for key, value in config.items() if key != "train"},
            "data": {"training_length": self.max_length},
            "hardware": hardware(),
            "status": "running",
            "output_dir": str(self.output.path),
        }
        return self.store.experiments.insert(
            {**record, "train_loss": None, "loss_history": [], "preference_metrics": {}, "metrics": {}}
        )

    def _resumed_experiment(self) -> str | None:
        if self.resume_from is None:
            return None
        experiment_id = self.resume_state.get("experiment_id")
        return experiment_id if experiment_id and self.store.experiments.get(experiment_id) is not None else None

    def _start_or_resume(self, trainer: Any) -> None:
        """Resume: the trained adapter from the checkpoint and a history up to it. Fresh: older checkpoints out of
        the way (a later --resume must not pick them) and a note of whose checkpoints the new ones are."""
        if self.resume_from is not None:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            weights = load_file(str(Path(self.resume_from) / "adapter_model.safetensors"))
            model = trainer.accelerator.unwrap_model(trainer.model)
            result = set_peft_model_state_dict(model, weights, adapter_name="default")
            if getattr(result, "unexpected_keys", None):
                raise ModelLoadError(f"{self.resume_from}: the checkpoint's adapter does not fit this model")
            if self.experiment_id is not None:
                forget_history_after(self.store, self.experiment_id, self.resume_from)
            print(f"bempathy: resuming from {self.resume_from} (step {checkpoint_step(self.resume_from)})")
            return
        if not is_main_process():
            return
        old = sorted(self.output.path.glob("checkpoint-*")) if self.output.path.is_dir() else []
        for folder in old:
            shutil.rmtree(folder)
        if old:
            print(f"bempathy: removed {len(old)} older checkpoint(s) from {self.output.path} (a fresh start)")
        if self.args.preference_save_steps:
            self.output.path.mkdir(parents=True, exist_ok=True)
            state = {
                "experiment_id": self.experiment_id,
                "preferences_sha256": self.data.sha256,
                "from_run": str(self.sft.path.resolve()),
            }
            write_atomic(self.output.resume_path, (json.dumps(state) + "\n").encode("utf-8"))

    def _finish(self, status: str, started: float, **fields: Any) -> None:
        if self.experiment_id is None:
            return
        self.store.experiments.update(
            self.experiment_id,
            {
                "status": status,
                "runtime_s": round(time.monotonic() - started, 2),
                "peak_memory_mb": round(peak_memory_mb(), 1),
                "finished_at": utc_now(),
                **fields,
            },
        )

    # -- training
    def train(self) -> PreferenceResult:
        trainer = self.build_trainer()
        started = time.monotonic()
        try:
            self._start_or_resume(trainer)
            output = trainer.train(resume_from_checkpoint=self.resume_from)
        except KeyboardInterrupt:
            self._finish("interrupted", started, error="interrupted by the user (Ctrl-C)")
            raise
        except BaseException as error:
            self._finish("failed", started, error="".join(traceback.format_exception_only(type(error), error)).strip())
            raise
        adapter_dir = self.output.adapter_dir
        if is_main_process():
            # Only the trained adapter: TRL's save_model would also write the frozen reference copy (adapter/ref/).
            trainer.accelerator.unwrap_model(trainer.model).save_pretrained(
                str(adapter_dir), selected_adapters=["default"]
            )
            self.tokenizer.save_pretrained(str(adapter_dir))
            self.output.config_path.write_text(
                json.dumps(self.saved_config(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            # The rows it was given (trained on or held out), byte for byte: its evaluation leaves their prompts out.
            write_atomic(self.output.preferences_path, self.data.raw)
            if self.experiment_id is not None:  # only now: a failed rerun must not relabel an older adapter
                self.output.write_experiment_id(self.experiment_id)
        PartialState().wait_for_everyone()
        logged = [entry for entry in trainer.state.log_history if "rewards/margins" in entry]
        final = {key: float(logged[-1][key]) for key in REWARD_KEYS if logged and key in logged[-1]}
        held_out = self.score_held_out() if self.score_held_out is not None else None
        train_loss = whole_run_train_loss(
            self.store, self.experiment_id, output.training_loss, self.resume_from is not None
        )
        self._finish(
            "completed",
            started,
            train_loss=train_loss,
            global_step=trainer.state.global_step,
            preference_metrics=final,
            held_out=held_out,
            adapter_path=str(adapter_dir),
        )
        result = PreferenceResult(
            experiment_id=self.experiment_id,
            adapter_dir=adapter_dir,
            train_loss=train_loss,
            global_step=trainer.state.global_step,
            rows=len(self.train_rows),
            max_length=self.max_length,
            final_metrics=final,
            held_out=held_out,
            runtime_s=time.monotonic() - started,
            peak_memory_mb=peak_memory_mb(),
        )
        del trainer
        self.trainer = None
        release_memory()
        return result

"""Typed configuration: TRL's SFTConfig and ModelConfig plus our own dataclasses, one source of defaults.

A run is configured by a YAML preset in ``configs/`` (``--config``) and ``--key value`` overrides on the
command line, parsed by ``trl.TrlParser`` into the dataclasses below. We only subclass TRL's classes to
change defaults that are wrong for this project (silent truncation at 1024 tokens, bf16 on a CPU, LoRA
on two projections only); every other training, LoRA and 4-bit field is TRL's own.

TrlParser turns YAML values into argparse *defaults*, which argparse never type-checks, so
:func:`parse_config` checks every YAML key and value against the parser's own actions first: an unknown key
or a wrong type is a one-line :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from trl import ModelConfig, SFTConfig, TrlParser

from bempathy.hardware import cuda_available, mixed_precision
from bempathy.paths import CONFIGS_DIR

LLAMA31_8B_INSTRUCT = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
STAGES = ("prepare", "train", "evaluate", "all", "preference")
PREFERENCE_LOSSES = ("dpo", "kto")
# The loss types TRL 1.16's DPOTrainer implements (DPOConfig.loss_type's help; trl/trainer/dpo_trainer.py). TRL itself
# checks the name only at the first training step, after the model has loaded: --dpo_loss_type checks it up front.
DPO_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


class ConfigError(ValueError):
    """A configuration problem the user can fix; the CLI prints it as one line."""


def _inherited(cls: type, name: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING):
    """Re-declare a parent dataclass field with a new default but the parent's help text."""
    parent = {f.name: f for f in dataclasses.fields(cls)}[name]
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=parent.metadata)
    return field(default=default, metadata=parent.metadata)


@dataclass
class DataArguments:
    """Where the corpus comes from and how rows become chat examples."""

    data: str = field(
        default="data/sample",
        metadata={
            "help": "Corpus: a CSV in the Kaggle schema, a folder of such CSVs, a JSONL file with `messages`, "
            "or a Hugging Face `datasets` path (saved to disk, or a hub name when online)."
        },
    )
    user_fields: str = field(
        default="title_and_question",
        metadata={
            "help": "What the user turn contains: the question title and the question, or the question alone.",
            "choices": ["title_and_question", "question"],
        },
    )
    english_policy: str = field(
        default="flag",
        metadata={
            "help": "English-only rows (no Bengali letters): keep them flagged (language 'en' in each example, "
            "counted in the report) or drop them (counted).",
            "choices": ["flag", "drop"],
        },
    )
    dialogue_turns: str = field(
        default="multi_turn",
        metadata={
            "help": "Dialogue sub-corpus: rebuild each conversation (consecutive rows sharing topic and title) "
            "into one multi-turn example, or keep one example per row without its context.",
            "choices": ["multi_turn", "single_turn"],
        },
    )
    val_fraction: float = field(default=0.1, metadata={"help": "Share of conversation groups for validation."})
    test_fraction: float = field(default=0.1, metadata={"help": "Share of conversation groups for the test."})
    split_seed: int = field(default=13, metadata={"help": "Seed of the stable group-level split."})
    system_prompt: str | None = field(
        default=None, metadata={"help": "System prompt; default: bempathy.prompts.SYSTEM_PROMPT."}
    )


@dataclass
class EvalArguments:
    """How the held-out test split is scored (base and tuned on the same prompts)."""

    eval_max_examples: int | None = field(
        default=None, metadata={"help": "Score at most this many test examples (None: the whole split)."}
    )
    eval_split: str = field(
        default="test",
        metadata={
            "help": "Which prepared split the evaluate stage answers. test: the held-out metrics, report and Rate "
            "tab. train or val: answers for a rating round whose preferences a preference stage may train on (its "
            "prompts then never reach the test evaluation); logged under their own evaluation id, never as the "
            "run's metrics.",
            "choices": ["test", "val", "train"],
        },
    )
    eval_samples: int = field(
        default=0,
        metadata={
            "help": "0: every variant's greedy answer, scored (the metrics). K >= 2: K sampled answers per prompt, "
            "not scored: the tuned model's as variants sample1..sampleK (train or val split only; on-policy "
            "candidates for a rating round a preference stage trains on), or a sampled comparison "
            "(--eval_sample_variants)."
        },
    )
    eval_sample_variants: str = field(
        default="tuned",
        metadata={
            "help": "Who samples with --eval_samples. One name (default tuned): that model's candidates "
            "sample1..sampleK for a rating round (train or val split). Two or more of base,sft,tuned (e.g. sft,tuned "
            "on a preference run): a sampled comparison, variants sft_sample1, tuned_sample1, ..., which python -m "
            "bempathy.rating.simulated --variants sft,tuned rates k-th answer against k-th; allowed on the test "
            "split (app users get sampled answers, the metrics greedy ones)."
        },
    )
    eval_temperature: float = field(default=1.0, metadata={"help": "Sampling temperature with --eval_samples."})
    eval_top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling's top_p with --eval_samples."})
    eval_seed: int = field(default=0, metadata={"help": "Seed of the sampling with --eval_samples."})
    eval_during_training_max_examples: int | None = field(
        default=256,
        metadata={
            "help": "Validation loss during training (every eval_steps) on a seeded subset of this many validation "
            "examples, proportional per sub-corpus (None: the whole split each time). The val loss reported at the "
            "end of training always covers the whole split."
        },
    )
    eval_backend: str = field(
        default="local",
        metadata={
            "help": "Where the evaluate stage's answers come from: local (this process) or openai (an "
            "OpenAI-compatible server such as vLLM serving the run: --eval_endpoint). Perplexity is always computed "
            "here, on the run's own weights.",
            "choices": ["local", "openai"],
        },
    )
    eval_endpoint: str | None = field(
        default=None, metadata={"help": "The server's URL with --eval_backend openai, e.g. http://127.0.0.1:8000."}
    )
    eval_api_key_env: str | None = field(
        default=None, metadata={"help": "Environment variable holding the server's API key (never the key itself)."}
    )
    eval_served_names: str | None = field(
        default=None,
        metadata={"help": "VARIANT=NAME,... where the server's model names differ from base, tuned, sft."},
    )
    generation_batch_size: int = field(
        default=8,
        metadata={"help": "Rows per generate call; a prompt's base and tuned answers are two rows of the same call."},
    )
    max_new_tokens: int = field(default=384, metadata={"help": "Answer length limit when generating."})
    bootstrap_resamples: int = field(default=1000, metadata={"help": "Resamples for the 95%% intervals."})


@dataclass
class RunArguments:
    """What train.py does in this invocation."""

    stage: str = field(
        default="all",
        metadata={
            "help": "prepare: clean and split the data; train: fine-tune; evaluate: score base vs tuned; all (these "
            "three); preference: DPO or KTO on top of a trained run (--from_run, --preferences). "
            "A stage runs the stages it needs first when their output is missing.",
            "choices": list(STAGES),
        },
    )
    strategy: str = field(
        default="auto",
        metadata={
            "help": "auto: Unsloth when a CUDA GPU is present and unsloth imports, else PEFT.",
            "choices": ["auto", "unsloth", "peft"],
        },
    )
    resume: bool = field(default=False, metadata={"help": "Continue from the last checkpoint in output_dir."})
    export: str = field(
        default="none",
        metadata={
            "help": "After training also write a merged full-precision model, or GGUF (Unsloth only).",
            "choices": ["none", "merged", "gguf"],
        },
    )
    early_stopping_patience: int | None = field(
        default=None, metadata={"help": "Stop after this many evaluations without a better val loss."}
    )
    logs_dir: str | None = field(
        default=None, metadata={"help": "TinyDB logs folder (default: $BEMPATHY_LOGS_DIR or ./logs)."}
    )


@dataclass
class PreferenceArguments:
    """The preference stage: DPO or KTO from rated answers, starting from (and anchored to) a trained run.

    Its own learning rate and length of training because the SFT values are wrong here: preference training wants
    a learning rate orders of magnitude smaller (TRL's default is 1e-6) and usually one pass over a small set of
    pairs. Batch size, precision, seed and logging come from the training options (a DPO row is two sequences,
    chosen and rejected). The base model and the system prompt are the run's own, read from its folder.
    """

    from_run: str | None = field(
        default=None,
        metadata={
            "help": "The trained run folder (train.py --output-dir) whose adapter is the start and the reference."
        },
    )
    preferences: str | None = field(
        default=None,
        metadata={"help": "Preference rows (JSONL) from `python -m bempathy.human_eval export --loss dpo|kto`."},
    )
    preference_loss: str = field(
        default="dpo",
        metadata={
            "help": "dpo: chosen/rejected pairs (TRL's DPOTrainer); kto: answers labelled good or bad (KTOTrainer).",
            "choices": list(PREFERENCE_LOSSES),
        },
    )
    dpo_loss_type: str = field(
        default="sigmoid",
        metadata={"help": "TRL's DPO loss (sigmoid: the original DPO).", "choices": list(DPO_LOSS_TYPES)},
    )
    beta: float = field(
        default=0.1,
        metadata={"help": "How far the policy may move from the reference (the run's own model): higher is closer."},
    )
    preference_learning_rate: float = field(default=1e-6, metadata={"help": "Learning rate of the preference stage."})
    preference_epochs: float = field(default=1.0, metadata={"help": "Passes over the preference rows."})
    preference_max_steps: int = field(
        default=-1, metadata={"help": "Stop after this many steps (-1: preference_epochs decides)."}
    )
    preference_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Rows per device per step (None: the run's per_device_train_batch_size). KTO needs at least 2: "
            "its KL estimate pairs each prompt with another row's completion in the same batch."
        },
    )
    preference_gradient_accumulation_steps: int | None = field(
        default=None, metadata={"help": "Steps per optimiser update (None: the run's gradient_accumulation_steps)."}
    )
    preference_held_out: float = field(
        default=0.2,
        metadata={
            "help": "Share of the preference prompts (chosen by a hash of the prompt, so stable) kept out of training "
            "to measure, before and after, how often the model ranks the raters' chosen answer above the rejected "
            "one. 0: train on every row."
        },
    )
    preference_eval_steps: int | None = field(
        default=None,
        metadata={
            "help": "Score the held-out pairs every this many steps while training (TRL's eval loss, reward "
            "accuracy and margin, into the loss history); None: every logging_steps; 0: only before and after."
        },
    )
    preference_save_steps: int = field(
        default=25,
        metadata={
            "help": "Save a checkpoint every this many steps (the last save_total_limit kept), so --resume true "
            "continues after a kill; 0: no checkpoints."
        },
    )


@dataclass
class TrainConfig(SFTConfig):
    """SFTConfig with this project's defaults: whole examples, answer-only loss, length-grouped batches."""

    output_dir: str | None = _inherited(SFTConfig, "output_dir", "runs/bempathy")
    # None: never truncate. The length follows the data; a cap drops (and reports) what it would cut.
    max_length: int | None = _inherited(SFTConfig, "max_length", None)
    assistant_only_loss: bool = _inherited(SFTConfig, "assistant_only_loss", True)
    train_sampling_strategy: str = _inherited(SFTConfig, "train_sampling_strategy", "group_by_length")
    lr_scheduler_type: str = _inherited(SFTConfig, "lr_scheduler_type", "cosine")
    warmup_steps: float = _inherited(SFTConfig, "warmup_steps", 0.03)
    learning_rate: float = _inherited(SFTConfig, "learning_rate", 2e-4)
    num_train_epochs: float = _inherited(SFTConfig, "num_train_epochs", 2.0)
    per_device_train_batch_size: int = _inherited(SFTConfig, "per_device_train_batch_size", 4)
    eval_strategy: str = _inherited(SFTConfig, "eval_strategy", "epoch")
    save_strategy: str = _inherited(SFTConfig, "save_strategy", "epoch")
    save_total_limit: int | None = _inherited(SFTConfig, "save_total_limit", 2)
    logging_steps: float = _inherited(SFTConfig, "logging_steps", 10)
    # None: "not set", as UnslothSFTConfig's own __init__ leaves it (that __init__ never runs for a dataclass
    # subclass): the Unsloth strategy then lets Unsloth turn padding-free batching on where it is exact, the PEFT
    # strategy turns it off. An explicit true/false is kept by both.
    padding_free: bool | None = _inherited(SFTConfig, "padding_free", None)

    def __post_init__(self) -> None:
        if self.bf16 is None:
            self.bf16, fp16 = mixed_precision()
            self.fp16 = self.fp16 or fp16
        if not cuda_available():
            # Tells accelerate to use CPU processes (gloo) under `accelerate launch`/torchrun, and skips pinning.
            self.use_cpu = True
            self.dataloader_pin_memory = False
        super().__post_init__()


@dataclass
class LoraModelConfig(ModelConfig):
    """ModelConfig with LoRA on by default, on all seven Llama projections."""

    model_name_or_path: str | None = _inherited(ModelConfig, "model_name_or_path", LLAMA31_8B_INSTRUCT)
    use_peft: bool = _inherited(ModelConfig, "use_peft", True)
    lora_r: int = _inherited(ModelConfig, "lora_r", 16)
    lora_alpha: int = _inherited(ModelConfig, "lora_alpha", 32)
    lora_dropout: float = _inherited(ModelConfig, "lora_dropout", 0.05)
    lora_target_modules: list[str] | None = _inherited(
        ModelConfig, "lora_target_modules", factory=lambda: list(LLAMA_PROJECTIONS)
    )


CONFIG_CLASSES = (RunArguments, DataArguments, EvalArguments, PreferenceArguments, TrainConfig, LoraModelConfig)


@dataclass
class Config:
    """Everything one run needs, as parsed."""

    run: RunArguments
    data: DataArguments
    eval: EvalArguments
    train: TrainConfig
    model: LoraModelConfig
    preset: str | None = None
    preference: PreferenceArguments = field(default_factory=PreferenceArguments)


# configs/ also holds the app's safety policy, which is not a training preset.
NOT_PRESETS = ("safety.yaml",)


def list_presets() -> list[str]:
    """Training preset files shipped in configs/ (for --help)."""
    paths = (p for p in CONFIGS_DIR.glob("*.yaml") if p.name not in NOT_PRESETS)
    return sorted(str(p.relative_to(CONFIGS_DIR.parent)) for p in paths)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults and keep the epilog's line breaks."""


class _Parser(TrlParser):
    """TrlParser whose errors are one line (argparse would print a 150-line usage first)."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see --help)")


USAGE_EPILOG = """\
Presets (--config): {presets}

Every option can come from the preset or the command line; the command line wins:
  python train.py --config configs/tiny-cpu.yaml --stage train --output-dir runs/tiny --learning_rate 1e-3
Options spelled with underscores also accept dashes (--output-dir = --output_dir). Booleans take true/false.
Training, LoRA and 4-bit options are TRL's SFTConfig and ModelConfig; the first groups above are bempathy's.
"""


def make_parser(prog: str | None = None, description: str | None = None) -> TrlParser:
    return _Parser(
        CONFIG_CLASSES,
        prog=prog,
        description=description,
        epilog=USAGE_EPILOG.format(presets=", ".join(list_presets()) or "(none found)"),
        formatter_class=_HelpFormatter,
    )


def _find_config_path(args: Sequence[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def _check_value(action: argparse.Action, key: str, value: Any, source: str) -> None:
    """Run a YAML value through the converter argparse applies to the same option on the command line."""
    if value is None:
        return
    many = action.nargs in ("+", "*")
    if isinstance(value, list) and not many:
        raise ConfigError(f"{source}: '{key}' takes one value, got a list: {value!r}")
    for item in value if isinstance(value, list) else [value]:
        converted = item
        if callable(action.type) and not isinstance(item, dict):
            try:
                converted = action.type(str(item))
            except (TypeError, ValueError, argparse.ArgumentTypeError):
                expected = getattr(action.type, "__name__", "another type").replace("string_to_bool", "true/false")
                raise ConfigError(f"{source}: '{key}' must be {expected}, got {item!r}") from None
        if action.choices is not None and str(converted) not in {str(c) for c in action.choices}:
            choices = ", ".join(str(c) for c in action.choices)
            raise ConfigError(f"{source}: '{key}' must be one of {choices}; got {item!r}")


def check_preset(parser: TrlParser, path: str) -> None:
    """Fail with one line on an unreadable preset, an unknown key or a wrongly typed value."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (presets: {', '.join(list_presets())})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option: value")
    actions: dict[str, argparse.Action] = {}
    for action in parser._actions:  # bool options also have a `--no_x` twin with the same dest: keep the first
        actions.setdefault(action.dest, action)
    for key, value in data.items():
        if key == "env":
            continue  # TrlParser sets these as environment variables
        if key not in actions:
            raise ConfigError(f"{path}: unknown key '{key}'")
        _check_value(actions[key], key, value, path)


SAMPLERS = ("base", "sft", "tuned")


def sample_variants(value: str) -> list[str]:
    """``--eval_sample_variants`` as a list of different names among base, sft and tuned."""
    names = [part.strip() for part in value.split(",")]
    if not all(names) or len(set(names)) != len(names) or set(names) - set(SAMPLERS):
        raise ConfigError(
            f"--eval_sample_variants takes different names among {', '.join(SAMPLERS)} (e.g. sft,tuned); got {value!r}"
        )
    return names


def parse_config(args: Sequence[str] | None = None, parser: TrlParser | None = None) -> Config:
    """Parse ``--config preset.yaml`` plus command-line overrides into a :class:`Config`."""

    args = list(sys.argv[1:] if args is None else args)
    parser = parser or make_parser()
    preset = _find_config_path(args)
    if preset is not None:
        check_preset(parser, preset)
    try:
        run, data, evaluation, preference, train, model = parser.parse_args_and_config(args)
    except ValueError as error:
        raise ConfigError(str(error).splitlines()[0]) from None
    if evaluation.eval_backend == "openai" and run.stage == "all":
        raise ConfigError(
            "--eval_backend openai needs a trained run the server already serves: train first (--stage train), "
            "start the server, then --stage evaluate"
        )
    samplers = sample_variants(evaluation.eval_sample_variants)  # checked even unused: a typo is caught early
    if evaluation.eval_samples:
        if evaluation.eval_samples < 2:
            raise ConfigError(f"--eval_samples takes 2 or more answers per prompt; got {evaluation.eval_samples}")
        if evaluation.eval_split == "test" and len(samplers) == 1:
            raise ConfigError(
                "--eval_samples with one model is a candidates round to rate and train on: use the train or val split "
                "(--eval_split train), not test, whose metrics use greedy answers (a sampled comparison, "
                "--eval_sample_variants sft,tuned, may use it)"
            )
        if not evaluation.eval_temperature > 0 or not 0 < evaluation.eval_top_p <= 1:
            raise ConfigError("--eval_temperature must be above 0 and --eval_top_p in (0, 1]")
    if [str(m).lower() for m in model.lora_modules_to_save or []] == ["none"]:
        model.lora_modules_to_save = None  # `--lora_modules_to_save none`: LoRA layers only (what vLLM serves)
    return Config(run=run, data=data, eval=evaluation, train=train, model=model, preset=preset, preference=preference)

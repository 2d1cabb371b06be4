"""Which model the app serves: a run folder, explicit adapters, the latest completed experiment, or the demo model.

Resolution order (``python app.py``): ``--run DIR``; ``--base NAME --adapter DIR`` (repeatable); the adapter of
the latest completed experiment in the logs; the tiny demo model (no adapter) with a notice saying how to train
one. ``--crowd`` loads nothing (Reports and Human evaluation only: what a CPU Space serves). This module loads
models but never imports the trainer, trl or datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bempathy.model.chat import SFT, TUNED, ChatModel
from bempathy.prompts import SYSTEM_PROMPT
from bempathy.runs import ModelLoadError, RunFolder
from bempathy.storage.store import Store

DEMO_BASE = "tiny"
TRAIN_HINT = "Train one with `python demo.py` (CPU, minutes) or `python train.py --config configs/<preset>.yaml`."


@dataclass
class ModelPlan:
    """What to load, decided before anything heavy is imported (so errors come fast and clear)."""

    base: str | None
    adapters: dict[str, Path] = field(default_factory=dict)  # variant -> adapter folder
    experiment_ids: dict[str, str | None] = field(default_factory=dict)  # variant -> experiment id
    load_in_4bit: bool = False
    source: str = "demo"  # run | adapters | latest | demo | crowd
    notice: str | None = None
    # the prompt the served adapter was trained with (chat and Compare default to it)
    system_prompt: str = SYSTEM_PROMPT

    @property
    def labels(self) -> dict[str, str]:
        """What the UI calls each variant: the experiment id where known."""
        labels = {}
        for variant in self.adapters:
            experiment = self.experiment_ids.get(variant)
            labels[variant] = f"{variant} ({experiment})" if experiment and experiment != variant else variant
        labels["base"] = f"base ({self.base})" if self.base else "base"
        return labels


def _experiment_of(adapter_dir: Path) -> str | None:
    """The experiment id train.py wrote next to an adapter folder (``DIR/adapter`` -> ``DIR/experiment.json``)."""
    for folder in (adapter_dir, adapter_dir.parent):
        try:
            experiment = RunFolder(folder).experiment_id()
        except (OSError, ValueError):
            experiment = None
        if experiment:
            return experiment
    return None


def plan_from_run(run_dir: str | Path) -> ModelPlan:
    run = RunFolder(Path(run_dir))
    if not run.has_adapter():
        raise ModelLoadError(f"{run.path} has no adapter ({run.adapter_dir}/adapter_config.json). {TRAIN_HINT}")
    saved = run.config()
    base = run.base_model(saved)
    if not base:
        raise ModelLoadError(f"cannot tell which base model {run.adapter_dir} was trained on; use --base NAME")
    adapters, experiments = {TUNED: run.adapter_dir}, {TUNED: run.experiment_id()}
    parent = run.parent(saved)
    if parent is not None:  # a preference run: its SFT run answers too, as "sft" (base / sft / tuned side by side)
        if not parent.has_adapter():
            raise ModelLoadError(
                f"{run.path} is a preference run on {parent.path}, which has no adapter: the SFT model it was "
                "trained from and compared with cannot be loaded"
            )
        adapters[SFT], experiments[SFT] = parent.adapter_dir, parent.experiment_id()
    return ModelPlan(
        base=base,
        adapters=adapters,
        experiment_ids=experiments,
        load_in_4bit=run.load_in_4bit(saved),
        source="run",
        system_prompt=run.system_prompt(saved),
    )


def plan_from_adapters(base: str | None, adapter_dirs: list[str]) -> ModelPlan:
    """The first adapter answers as ``tuned``; the others are named by their experiment id (else folder name).

    Chat and Compare default to the first adapter's system prompt: a conversation has one system prompt.
    """
    adapters: dict[str, Path] = {}
    experiments: dict[str, str | None] = {}
    base_seen, in_4bit, system_prompt = base, False, None
    for index, raw in enumerate(adapter_dirs):
        path = Path(raw)
        if (path / "adapter" / "adapter_config.json").is_file():
            path = path / "adapter"  # a run folder was given
        if not (path / "adapter_config.json").is_file():
            raise ModelLoadError(f"--adapter {raw}: no adapter_config.json there")
        experiment = _experiment_of(path)
        name = TUNED if index == 0 else (experiment or path.parent.name or path.name)
        if name in adapters or name == "base":
            name = f"{name}-{index}"
        adapters[name], experiments[name] = path, experiment
        folder = RunFolder(path.parent)
        saved = folder.config()  # read once per adapter
        base_seen = base_seen or folder.base_model(saved)
        in_4bit = in_4bit or folder.load_in_4bit(saved)  # a QLoRA run is served on a 4-bit base too
        if index == 0:
            system_prompt = folder.system_prompt(saved)
    if not base_seen:
        raise ModelLoadError("--adapter given without --base, and the adapter does not say its base model")
    return ModelPlan(
        base=base_seen,
        adapters=adapters,
        experiment_ids=experiments,
        load_in_4bit=in_4bit,
        source="adapters",
        system_prompt=system_prompt,
    )


def latest_completed(store: Store) -> dict[str, Any] | None:
    """The newest completed experiment whose adapter is still on disk."""
    done = [e for e in store.experiments.all() if e.get("status") == "completed" and e.get("adapter_path")]
    for experiment in sorted(done, key=lambda e: str(e.get("finished_at") or e.get("timestamp") or ""), reverse=True):
        if (Path(experiment["adapter_path"]) / "adapter_config.json").is_file():
            return experiment
    return None


def plan_model(
    run: str | None = None,
    base: str | None = None,
    adapters: list[str] | None = None,
    crowd: bool = False,
    store: Store | None = None,
) -> ModelPlan:
    """Decide what the app serves, in the documented order."""
    if crowd:
        return ModelPlan(base=None, source="crowd", notice="Crowd mode: no model is loaded (Reports and rating).")
    if run:
        return plan_from_run(run)
    if adapters:
        return plan_from_adapters(base, adapters)
    if base:
        return ModelPlan(base=base, source="adapters", notice=f"Serving {base} without an adapter.")
    latest = latest_completed(store) if store is not None else None
    if latest is not None:
        plan = plan_from_run(Path(latest["adapter_path"]).parent)
        plan.source = "latest"
        plan.experiment_ids[TUNED] = latest["id"]
        return plan
    return ModelPlan(
        base=DEMO_BASE,
        source="demo",
        notice=f"No trained adapter found in the logs: serving the untuned tiny demo model. {TRAIN_HINT}",
    )


def serving_threads(requested: int | None, chat: Any) -> int:
    """torch threads for generating on a CPU: ``requested`` if given (0: torch's default), else 1 for the tiny
    demo models and torch's default for others.

    Why: on the tiny models OpenMP wakes a second thread for every small product and Compare gets several times
    slower; models with a large head are faster on every core (bench/RESULTS.md, "Serving the demo model on a CPU").
    """
    if requested is not None:
        return requested
    return 1 if getattr(chat, "demo", False) else 0


def load_chat_model(plan: ModelPlan):
    """Load the base with every adapter of the plan (None in crowd mode)."""
    if plan.base is None:
        return None

    try:
        return ChatModel.load(plan.base, load_in_4bit=plan.load_in_4bit, adapters=dict(plan.adapters))
    except OSError as error:
        raise ModelLoadError(f"cannot load {plan.base}: {str(error).splitlines()[0]}") from None
    except ImportError as error:  # e.g. a 4-bit base without bitsandbytes
        hint = "pip install -r requirements-gpu.txt" if plan.load_in_4bit else "check the installation"
        raise ModelLoadError(f"cannot load {plan.base}: {str(error).splitlines()[0]} ({hint})") from None

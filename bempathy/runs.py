"""The layout of a train.py output folder: the one place that spells its paths, read by every stage.

The app must load a run (its adapter, its tokenizer, the base it was trained on, the system prompt it was trained
with) without importing the trainer, trl or datasets, so everything a reader of a run folder needs lives here and
imports none of them:

    DIR/data/{train,val,test}.jsonl   prepared examples        DIR/data_report.json   the data report
    DIR/experiment.json               {"experiment_id": ...}   DIR/adapter/           PEFT adapter + tokenizer
    DIR/adapter/bempathy_config.json  the resolved config      DIR/report.md, DIR/plots/  the report
    DIR/preferences.jsonl             a preference run's rows (its data comes from the run it started from)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bempathy.prompts import system_prompt_or_default

EXPERIMENT_FILE = "experiment.json"
ADAPTER_DIR = "adapter"
RUN_CONFIG_FILE = "bempathy_config.json"
DATA_REPORT_FILE = "data_report.json"
DATA_DIR = "data"
REPORT_FILE = "report.md"
PLOTS_DIR = "plots"
RESUME_FILE = "resume.json"
PREFERENCES_FILE = "preferences.jsonl"
SPLITS = ("train", "val", "test")


def system_prompt_of(config: Mapping[str, Any] | None) -> str:
    """The system prompt a resolved config (saved beside an adapter, or logged with an experiment) trained with.

    ``data.system_prompt`` unset means the default, resolved as the data writer resolves it.
    """
    return system_prompt_or_default(((config or {}).get("data") or {}).get("system_prompt"))


class ModelLoadError(RuntimeError):
    """A model, adapter or tokenizer cannot be loaded; the message says why and what to do instead."""


@dataclass(frozen=True)
class RunFolder:
    """A train.py output folder: its paths (for the stages that write them) and what readers need from it."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- paths
    @property
    def adapter_dir(self) -> Path:
        return self.path / ADAPTER_DIR

    @property
    def config_path(self) -> Path:
        return self.adapter_dir / RUN_CONFIG_FILE

    @property
    def data_dir(self) -> Path:
        return self.path / DATA_DIR

    def split_path(self, split: str) -> Path:
        return self.data_dir / f"{split}.jsonl"

    @property
    def data_report_path(self) -> Path:
        return self.path / DATA_REPORT_FILE

    @property
    def experiment_path(self) -> Path:
        return self.path / EXPERIMENT_FILE

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def plots_dir(self) -> Path:
        return self.path / PLOTS_DIR

    @property
    def preferences_path(self) -> Path:
        return self.path / PREFERENCES_FILE

    @property
    def resume_path(self) -> Path:
        """Whose checkpoints these are (experiment, preference rows, parent run): --resume continues only those."""
        return self.path / RESUME_FILE

    # -- what is there
    def has_prepared_data(self) -> bool:
        return self.data_report_path.is_file() and all(self.split_path(split).is_file() for split in SPLITS)

    def has_adapter(self) -> bool:
        return (self.adapter_dir / "adapter_config.json").is_file()

    def experiment_id(self) -> str | None:
        marker = self.experiment_path
        if not marker.is_file():
            return None
        return json.loads(marker.read_text(encoding="utf-8")).get("experiment_id")

    def write_experiment_id(self, experiment_id: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.experiment_path.write_text(json.dumps({"experiment_id": experiment_id}) + "\n", encoding="utf-8")

    def config(self) -> dict[str, Any]:
        """The resolved config saved beside the adapter ({} for adapters not written by train.py)."""
        path = self.config_path
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    # A caller that asks several of these passes the config it read once (``config=folder.config()``).
    def system_prompt(self, config: Mapping[str, Any] | None = None) -> str:
        """The system prompt this run was trained with, so it is served and rated with the same one."""
        return system_prompt_of(self.config() if config is None else config)

    def base_model(self, config: Mapping[str, Any] | None = None) -> str | None:
        """The base the adapter was trained on: our saved config, else PEFT's own record."""
        model = (self.config() if config is None else config).get("model") or {}
        if model.get("model_name_or_path"):
            return str(model["model_name_or_path"])
        peft_config = self.adapter_dir / "adapter_config.json"
        if peft_config.is_file():
            return json.loads(peft_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
        return None

    def load_in_4bit(self, config: Mapping[str, Any] | None = None) -> bool:
        return bool(((self.config() if config is None else config).get("model") or {}).get("load_in_4bit"))

    def parent(self, config: Mapping[str, Any] | None = None) -> RunFolder | None:
        """The run a preference run started from (None for a run trained on the corpus).

        The path is stored as it was given; when that no longer exists (another working directory, or both folders
        moved together) the folder of the same name next to this one is used: the default layout puts them side by
        side (``runs/tiny``, ``runs/tiny-dpo``).
        """
        parent = ((self.config() if config is None else config).get("parent") or {}).get("run")
        if not parent:
            return None
        path = Path(parent)
        if not path.is_dir() and (self.path.parent / path.name).is_dir():
            path = self.path.parent / path.name
        return RunFolder(path)

    def data_run(self) -> RunFolder:
        """The run whose prepared data this run used: itself, or the first run up its parents that has data."""
        run, seen = self, {self.path.resolve()}
        while (
            not run.has_prepared_data() and (parent := run.parent()) is not None and parent.path.resolve() not in seen
        ):
            seen.add(parent.path.resolve())
            run = parent
        return run

    def data_report(self) -> dict[str, Any] | None:
        path = self.data_report_path
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def read_split(self, split: str) -> list[dict[str, Any]]:
        """One prepared split, as written by the prepare stage (the trainer and the evaluator read this)."""
        return _json_lines(self.split_path(split))

    def preference_user_turns(self) -> set[str]:
        """The user turns of the rows a preference run trained on (empty for other runs): its evaluation leaves
        out every test example with one of them, so it is scored on held-out prompts only."""
        if not self.preferences_path.is_file():
            return set()
        return {
            message["content"].strip()
            for row in _json_lines(self.preferences_path)
            for message in row.get("prompt") or []
            if message.get("role") == "user"
        }

    def token_lengths(self) -> list[int]:
        """Per-example token counts of the prepared splits (for the length histogram); [] when absent."""
        lengths: list[int] = []
        for split in SPLITS:
            if self.split_path(split).is_file():
                lengths += [int(n) for row in self.read_split(split) if (n := row.get("n_tokens")) is not None]
        return lengths


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """A JSONL file this project wrote (already checked when written): one object per non-blank line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]

"""The layout of a train.py output folder, shared by the data writer, training, evaluation, serving and rating.

The app must load a run (its adapter, its tokenizer, the base it was trained on) without importing the trainer,
trl or datasets, so everything a reader of a run folder needs lives here and imports none of them:

    DIR/data/{train,val,test}.jsonl   prepared examples        DIR/data_report.json   the data report
    DIR/experiment.json               {"experiment_id": ...}   DIR/adapter/           PEFT adapter + tokenizer
    DIR/adapter/bempathy_config.json  the resolved config      DIR/report.md, DIR/plots/  the report
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPERIMENT_FILE = "experiment.json"
ADAPTER_DIR = "adapter"
RUN_CONFIG_FILE = "bempathy_config.json"
DATA_REPORT_FILE = "data_report.json"


class ModelLoadError(RuntimeError):
    """A model, adapter or tokenizer cannot be loaded; the message says why and what to do instead."""


@dataclass(frozen=True)
class RunFolder:
    """A train.py output folder, read-only: what serving and evaluation need from it."""

    path: Path

    @property
    def adapter_dir(self) -> Path:
        return self.path / ADAPTER_DIR

    def has_adapter(self) -> bool:
        return (self.adapter_dir / "adapter_config.json").is_file()

    def experiment_id(self) -> str | None:
        marker = self.path / EXPERIMENT_FILE
        if not marker.is_file():
            return None
        return json.loads(marker.read_text(encoding="utf-8")).get("experiment_id")

    def config(self) -> dict[str, Any]:
        """The resolved config saved beside the adapter ({} for adapters not written by train.py)."""
        path = self.adapter_dir / RUN_CONFIG_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def base_model(self) -> str | None:
        """The base the adapter was trained on: our saved config, else PEFT's own record."""
        model = self.config().get("model") or {}
        if model.get("model_name_or_path"):
            return str(model["model_name_or_path"])
        peft_config = self.adapter_dir / "adapter_config.json"
        if peft_config.is_file():
            return json.loads(peft_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
        return None

    def load_in_4bit(self) -> bool:
        return bool((self.config().get("model") or {}).get("load_in_4bit"))

    def data_report(self) -> dict[str, Any] | None:
        path = self.path / DATA_REPORT_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def token_lengths(self) -> list[int]:
        """Per-example token counts of the prepared splits (for the length histogram); [] when absent."""
        lengths: list[int] = []
        for split in ("train", "val", "test"):
            path = self.path / "data" / f"{split}.jsonl"
            if path.is_file():
                with open(path, encoding="utf-8") as handle:
                    lengths += [int(n) for line in handle if (n := json.loads(line).get("n_tokens")) is not None]
        return lengths

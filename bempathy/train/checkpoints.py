"""Resuming a Trainer run after a kill, for SFT and the preference stage alike.

A resumed run logs the steps after its checkpoint again, and transformers' ``training_loss`` of a resumed run
divides only the resumed part's loss sum by all steps; these helpers keep the experiment record honest.
"""

from __future__ import annotations

import json
from pathlib import Path

from bempathy.storage.store import Store


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder in ``output_dir``, or None.

    Complete means its ``trainer_state.json`` parses: the Trainer writes that file last, so a run killed while
    saving leaves a newer folder without it, which transformers' ``get_last_checkpoint`` would pick and the resume
    would then fail on (it happened in CI). Such a folder is passed over; training saves it again when it gets there.
    """
    if not output_dir.is_dir():
        return None
    numbered = []
    for path in output_dir.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if path.is_dir() and suffix.isdecimal() and suffix.isascii():
            numbered.append((int(suffix), path))
    for _, path in sorted(numbered, reverse=True):
        try:
            checkpoint_step(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # killed while saving: not a checkpoint to resume from
        return str(path)
    return None


def checkpoint_step(checkpoint: str | Path) -> int:
    return int(json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])


def forget_history_after(store: Store, experiment_id: str, checkpoint: str | Path) -> None:
    """Drop loss entries logged after the checkpoint: the resumed run logs those steps again."""
    step = checkpoint_step(checkpoint)
    history = store.experiments.get(experiment_id).get("loss_history", [])
    store.experiments.update(experiment_id, {"loss_history": [e for e in history if e["step"] <= step]})


def whole_run_train_loss(store: Store, experiment_id: str | None, reported: float, resumed: bool) -> float:
    """Mean training loss of the whole run: transformers' figure, or after a resume the mean of the logged losses
    (one per logging window), which then is the honest one."""
    if not resumed or experiment_id is None:
        return float(reported)
    history = store.experiments.get(experiment_id).get("loss_history", [])
    losses = [e["loss"] for e in history if "loss" in e]
    return float(sum(losses) / len(losses)) if losses else float(reported)

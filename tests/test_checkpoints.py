"""Which checkpoint a resumed run starts from: the newest one the Trainer finished saving."""

from __future__ import annotations

import json
from pathlib import Path

from bempathy.train.checkpoints import last_checkpoint


def _checkpoint(root: Path, step: int, state: str | None) -> Path:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    if state is not None:
        (folder / "trainer_state.json").write_text(state, encoding="utf-8")
    return folder


def test_a_checkpoint_killed_while_saving_is_passed_over(tmp_path: Path) -> None:
    done = _checkpoint(tmp_path, 4, json.dumps({"global_step": 4}))
    _checkpoint(tmp_path, 2, json.dumps({"global_step": 2}))
    _checkpoint(tmp_path, 6, None)  # killed before the Trainer wrote its state (seen in CI)
    _checkpoint(tmp_path, 8, '{"global_st')  # killed while writing it
    (tmp_path / "checkpoint-10").write_text("not a folder", encoding="utf-8")
    _checkpoint(tmp_path, 12, json.dumps({"epoch": 1}))  # no step: not one to resume from
    assert last_checkpoint(tmp_path) == str(done)


def test_numbers_not_names_order_checkpoints_and_nothing_is_none(tmp_path: Path) -> None:
    assert last_checkpoint(tmp_path / "missing") is None
    assert last_checkpoint(tmp_path) is None
    _checkpoint(tmp_path, 9, json.dumps({"global_step": 9}))
    newest = _checkpoint(tmp_path, 10, json.dumps({"global_step": 10}))
    _checkpoint(tmp_path / "checkpoint-x", 0, None)  # a stray folder name
    assert last_checkpoint(tmp_path) == str(newest)

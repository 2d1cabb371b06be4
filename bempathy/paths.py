"""Where the checkout's own files are (presets, sample data, the train.py script), found once."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIGS_DIR = PROJECT_DIR / "configs"
SAMPLE_DIR = PROJECT_DIR / "data" / "sample"
TRAIN_SCRIPT = PROJECT_DIR / "train.py"

"""Where the checkout's own files are (presets, sample data, the train.py script), found once."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIGS_DIR = PROJECT_DIR / "configs"
SAMPLE_DIR = PROJECT_DIR / "data" / "sample"
TRAIN_SCRIPT = PROJECT_DIR / "train.py"


def cache_root(cache_dir: Path | str | None = None) -> Path:
    """Where built artefacts (the tiny models, the safety classifier) are cached: ``cache_dir``, else
    ``$BEMPATHY_CACHE``, else ``~/.cache/bempathy``."""
    root = Path(cache_dir or os.environ.get("BEMPATHY_CACHE") or Path.home() / ".cache" / "bempathy")
    return root.expanduser()

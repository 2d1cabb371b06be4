"""Process start-up that must happen before transformers, trl or peft are imported.

Unsloth patches those libraries when it is imported, so a process that may train with Unsloth imports it
first. This module imports nothing heavy itself; any failure here is reported later, in plain words, by
``strategies.select_strategy``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import yaml


def _requested_strategy(argv: Sequence[str]) -> str:
    """--strategy from the command line, else from the --config preset, else auto."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg in ("--strategy", "--strategy=") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--strategy="):
            return arg.split("=", 1)[1]
    for i, arg in enumerate(args):
        path = args[i + 1] if arg == "--config" and i + 1 < len(args) else None
        path = arg.split("=", 1)[1] if arg.startswith("--config=") else path
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    return str((yaml.safe_load(handle) or {}).get("strategy", "auto"))
            except (OSError, ValueError, AttributeError):
                return "auto"  # the config parser reports a bad preset properly
    return "auto"


def preimport_unsloth(argv: Sequence[str]) -> bool:
    """Import unsloth now if this run may use it (a CUDA GPU and a strategy other than peft)."""
    if _requested_strategy(argv) == "peft" or "transformers" in sys.modules:
        return False
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        importlib.import_module("unsloth")
        return True
    except Exception:
        return False

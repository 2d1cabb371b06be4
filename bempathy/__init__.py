"""bempathy: an empathetic Bengali conversation partner built on LLaMA 3.1-8B-Instruct.

The names people reach for are importable from here (``from bempathy import Evaluator``), but only on first use:
each pulls in torch or trl, and ``import bempathy`` must stay cheap for the app and the small commands.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# name -> the module that defines it (one home each; see the README's Layout section)
_PUBLIC = {
    "DatasetProcessor": "bempathy.data.processor",
    "LLAMAFineTuner": "bempathy.train.finetuner",
    "FineTuningStrategy": "bempathy.train.strategies",
    "Evaluator": "bempathy.eval.evaluator",
    "ChatModel": "bempathy.model.chat",
    "RunFolder": "bempathy.runs",
    "Store": "bempathy.storage.store",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'bempathy' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value

"""Evaluation in a fresh Python process, for a training process that imported Unsloth.

Unsloth patches transformers' Llama classes for the whole process, so a plain-transformers evaluation model
loaded after Unsloth training would not be the model the numbers describe. ``train.py --stage all`` hands the
evaluate stage to a new process with the same options instead. Light on purpose: no torch or transformers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bempathy.hardware import is_main_process, release_memory
from bempathy.paths import TRAIN_SCRIPT

# Set by torchrun / accelerate launch: a child process must not join (or wait for) the parent's process group.
LAUNCHER_ENV = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "GROUP_WORLD_SIZE",
    "ROLE_RANK",
    "ROLE_NAME",
    "ROLE_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
)


def unsloth_patched() -> bool:
    """Whether this process imported Unsloth, which patches transformers' Llama classes for the whole process."""
    return "unsloth" in sys.modules


def _without_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in names:
            skip = True
            continue
        if any(arg.startswith(f"{name}=") for name in names):
            continue
        out.append(arg)
    return out


def evaluation_argv(argv: list[str]) -> list[str]:
    """The same command line for ``--stage evaluate`` with plain transformers (``--strategy peft`` also keeps
    bempathy.boot from importing Unsloth in the new process)."""
    rest = _without_options(list(argv), ("--stage", "--strategy"))
    return [*rest, "--stage", "evaluate", "--strategy", "peft"]


def evaluation_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key not in LAUNCHER_ENV and not key.startswith("TORCHELASTIC_")
    }


def evaluate_in_fresh_process(argv: list[str], script: str | Path | None = None) -> int:
    """Run ``train.py --stage evaluate`` with the same options in a new Python process; its exit status.

    After Unsloth training the Llama classes of this process run Unsloth's forwards, so a plain-transformers
    evaluation model loaded here would not be the model the numbers claim to describe. Only the main process
    evaluates (as in-process evaluation does); the others return 0 at once.
    """
    if not is_main_process():
        return 0
    script = Path(script) if script is not None else TRAIN_SCRIPT
    command = [sys.executable, str(script), *evaluation_argv(argv)]
    print("bempathy: evaluating in a fresh process (Unsloth patched this one's model classes)", flush=True)
    release_memory()
    return subprocess.run(command, env=evaluation_env(), check=False).returncode

"""Hugging Face Spaces: ZeroGPU's ``@spaces.GPU`` where the package exists, and logs that survive restarts.

A Space's disk is ephemeral. With ``--sync-logs REPO`` (or ``$BEMPATHY_SYNC_LOGS``) the logs folder is restored
from a dataset repo at start-up when it is empty, and ``huggingface_hub.CommitScheduler`` pushes it back every
few minutes. The scheduler may upload a file while it changes, so what it pushes must be append-only or replaced
safely: only the append-only ratings journal (never truncated when syncing) is pushed.
Not verified from this project's machines (they cannot reach the Hub); see the README's Space section.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ZERO_GPU_SECONDS = 120


def gpu_decorator(duration: int = ZERO_GPU_SECONDS) -> Callable[[Callable], Callable]:
    """``spaces.GPU(duration=...)`` when the ``spaces`` package is installed (ZeroGPU Spaces), else a no-op."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def start_log_sync(store: Any, repo_id: str, every_minutes: float = 5.0) -> Any:
    """Restore the store's logs folder from the dataset repo if it is empty, then push it back on a schedule.

    The store must have been opened with ``ratings_truncate_on_fold=False`` (the journal only grows); its folds
    take the scheduler's lock, so an upload never reads a journal being replaced.
    """
    from huggingface_hub import CommitScheduler, snapshot_download

    logs_dir = Path(store.logs_dir)
    logs_dir.mkdir(parents=True, exist_ok=True)
    if not any(logs_dir.glob("*.json*")):
        with tempfile.TemporaryDirectory() as tmp:
            snapshot_download(repo_id, repo_type="dataset", local_dir=tmp, allow_patterns=["logs/*"])
            for path in (Path(tmp) / "logs").glob("*"):
                shutil.copy2(path, logs_dir / path.name)
    scheduler = CommitScheduler(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=logs_dir,
        path_in_repo="logs",
        every=every_minutes,
        # Only the append-only ratings journal is safe to push while it changes (the scheduler uploads the first
        # st_size bytes it listed); the TinyDB JSON files are rewritten and come from the repo, read-only here.
        allow_patterns=["*.journal.jsonl"],
    )
    store.ratings.fold_lock = scheduler.lock
    return scheduler

"""What the machine can do, decided in one place: CUDA, native bf16, the compute dtype, memory, a summary.

``torch.cuda.is_bf16_supported()`` answers True on a T4 (it counts emulation), where bf16 is slow and
Unsloth refuses it, so native bf16 means compute capability 8.0 or newer (Ampere, Ada, Hopper).
"""

from __future__ import annotations

import gc
import resource
from typing import Any


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def gpu_count() -> int:
    """CUDA GPUs visible to this process (what ``CUDA_VISIBLE_DEVICES`` leaves), 0 without CUDA."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def launched_processes() -> int:
    """Processes started together by ``accelerate launch``/``torchrun`` (1 for a plain ``python train.py``)."""
    from accelerate import PartialState

    return PartialState().num_processes


def available_ram_bytes() -> int | None:
    """Memory the kernel can give this process now (``MemAvailable``), or None where that is unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def native_bf16() -> bool:
    """bf16 in hardware: a CUDA GPU of compute capability 8.0 or newer."""
    import torch

    return torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8


def mixed_precision() -> tuple[bool, bool]:
    """(bf16, fp16) for training: bf16 where native, fp16 on older CUDA GPUs (T4), fp32 on CPU."""
    if not cuda_available():
        return False, False
    return (True, False) if native_bf16() else (False, True)


def compute_dtype():
    """Weights/compute dtype for loading a model here: bf16, else fp16 on CUDA, else fp32."""
    import torch

    if not cuda_available():
        return torch.float32
    return torch.bfloat16 if native_bf16() else torch.float16


def peak_memory_mb() -> float:
    """Peak accelerator memory on CUDA, else the process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def set_serving_threads(threads: int) -> int | None:
    """Intra-op CPU threads for a process that only generates (the app); returns what was set, None on CUDA.

    Decoding multiplies one or two rows at a time; whether more threads help depends on the model (see
    :func:`bempathy.serve.plan.serving_threads`). ``threads`` 0 keeps torch's default. Call it from the main thread
    (from another thread it crashed here) and before any other thread has run torch: a thread takes the count
    the first time it runs a parallel op and keeps it.
    """
    import torch

    if torch.cuda.is_available() or threads <= 0:
        return None
    torch.set_num_threads(threads)
    return threads


def release_memory() -> None:
    """Free what a finished stage left behind before the next loads another model."""

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def describe() -> dict[str, Any]:
    """The hardware summary logged with each experiment."""
    import torch
    from accelerate import PartialState

    processes = PartialState().num_processes
    if torch.cuda.is_available():
        return {
            "device": "cuda",
            "gpu": torch.cuda.get_device_name(0),
            "gpus": torch.cuda.device_count(),
            "compute_capability": ".".join(map(str, torch.cuda.get_device_capability())),
            "processes": processes,
        }
    return {"device": "cpu", "threads": torch.get_num_threads(), "processes": processes}


def is_main_process() -> bool:
    """False on the other ranks of a multi-GPU launch, which must not write logs or reports."""
    from accelerate import PartialState

    return PartialState().is_main_process

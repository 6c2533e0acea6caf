"""Which device trains: CUDA when present, else CPU -- the same code either way.

With several GPUs the one with most free memory is chosen, so two sex partitions
running side by side on a multi-GPU host land on different cards instead of both on
``cuda:0``. The choice is made *before* CUDA starts (free memory from
``nvidia-smi``) and pinned with ``CUDA_VISIBLE_DEVICES``: the Hugging Face Trainer
always trains on the first visible GPU and spreads over all visible ones with
DataParallel, so narrowing what is visible is the one reliable way to pin a step to
one card. An orchestrator that already narrowed it (Kubernetes'
``nvidia.com/gpu: 1``) is respected.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

import torch


def choose_device(log: Callable[[str], None] = lambda _msg: None) -> torch.device:
    """CUDA (the GPU with most free memory) when available, else CPU; logs the choice."""
    pinned = _pin_freest_gpu(log)
    if not torch.cuda.is_available():
        log(f"device: cpu ({torch.get_num_threads()} threads); no CUDA GPU visible")
        return torch.device("cpu")
    count = torch.cuda.device_count()
    index = 0
    if count > 1:  # CUDA started before we could pin: pick among the visible ones
        free = [torch.cuda.mem_get_info(i)[0] for i in range(count)]
        index = max(range(count), key=lambda i: free[i])
        torch.cuda.set_device(index)
        log(
            "device: CUDA had started before a GPU could be pinned; the Trainer will "
            "use every visible GPU (set CUDA_VISIBLE_DEVICES to pin one)"
        )
    free_bytes, _total = torch.cuda.mem_get_info(index)
    name = torch.cuda.get_device_name(index)
    where = f"physical GPU {pinned}" if pinned is not None else f"{count} visible"
    log(f"device: cuda:{index} ({name}, {free_bytes / 2**30:.1f} GiB free; {where})")
    return torch.device("cuda", index)


def bf16_supported(device: torch.device) -> bool:
    """bf16 autocast pays off only on CUDA GPUs with native bf16 (Ampere and newer)."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def _pin_freest_gpu(log: Callable[[str], None]) -> int | None:
    """Restrict this process to the freest GPU before CUDA starts; its index or None."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if torch.cuda.is_initialized() or torch.version.cuda is None:
        return None
    if visible is not None and "," not in visible:
        return None  # already one GPU (or none): nothing to choose
    free = _free_memory_by_gpu()
    if visible is not None:
        allowed = {int(v) for v in visible.split(",") if v.strip().isdigit()}
        free = {i: f for i, f in free.items() if i in allowed}
    if len(free) < 2:
        return None
    best = max(free, key=lambda i: free[i])
    os.environ["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # the numbering nvidia-smi uses
    os.environ["CUDA_VISIBLE_DEVICES"] = str(best)
    log(f"device: {len(free)} GPUs; pinned to GPU {best}, the one with most free memory")
    return best


def _free_memory_by_gpu() -> dict[int, int]:
    """Free MiB per GPU index from nvidia-smi; empty when it is absent or fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {}
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    free: dict[int, int] = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            free[int(parts[0])] = int(parts[1])
    return free

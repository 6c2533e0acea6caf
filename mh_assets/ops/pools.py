"""The ``gpu`` pool's limit: how many training steps may run at once, across runs.

The three model assets carry ``pool="gpu"``. On a machine with CUDA GPUs the pool's
limit is ``MH_GPU_SLOTS`` (default 1: one training step per GPU at a time). On a
machine without one, those steps train on the CPU, and holding the second sex's
training back for a GPU that does not exist would only leave cores idle: the limit
is then the number of sex partitions, so both train at once, each in its own
process with half the cores (:mod:`mh_assets.ops.runner`).

``mh-assets run`` applies the limit to the instance before it starts, and ``make ui``
does it through ``python -m mh_assets.ops.pools``; ``deploy/dagster.yaml``'s
``default_limit`` only covers pools the platform has not set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import dagster as dg

from mh_assets.core.modelling.config import GPU_POOL
from mh_assets.core.schema import SEXES
from mh_assets.settings import Settings


def cuda_devices_visible(env: Mapping[str, str] | None = None, dev: Path = Path("/dev")) -> int:
    """How many CUDA GPUs this process may use, without importing torch (~2 s).

    ``CUDA_VISIBLE_DEVICES`` decides when it is set (empty or ``-1``: none); otherwise
    the NVIDIA driver's device files (``/dev/nvidia0``, ...) are counted.
    """
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        return 0 if not ids or ids[0] == "-1" else len(ids)
    try:
        return sum(1 for p in dev.iterdir() if re.fullmatch(r"nvidia\d+", p.name))
    except OSError:
        return 0


def gpu_pool_limit(settings: Settings, gpus: int | None = None) -> tuple[int, str]:
    """The pool's limit and why, in words for the log."""
    gpus = cuda_devices_visible() if gpus is None else gpus
    if gpus:
        return settings.gpu_slots, f"{gpus} CUDA GPU(s) visible; MH_GPU_SLOTS={settings.gpu_slots}"
    return len(SEXES), "no CUDA GPU visible: training runs on the CPU, both sexes at once"


def apply_gpu_pool(instance: dg.DagsterInstance, settings: Settings,
                   log: Callable[[str], None] = print, gpus: int | None = None) -> int | None:
    """Set the instance's ``gpu`` pool limit (only when it differs); the limit, or None
    where the instance's storage has no concurrency pools."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    limit, why = gpu_pool_limit(settings, gpus)
    if storage.get_concurrency_info(GPU_POOL).slot_count != limit:
        storage.set_concurrency_slots(GPU_POOL, limit)
        log(f"'{GPU_POOL}' pool: {limit} slot(s) ({why})")
    return limit


if __name__ == "__main__":  # make ui: the instance under DAGSTER_HOME (made by `make instance`)
    with dg.DagsterInstance.get() as instance:
        apply_gpu_pool(instance, Settings.from_env())

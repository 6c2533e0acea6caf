"""Execution: CPU steps in parallel, GPU steps queued on a tag and a pool.

Two mechanisms, because they work at different levels:

* the executor's ``tag_concurrency_limits`` on :data:`GPU_TAG` limits how many GPU
  steps of *one run* execute at once (slots = ``MH_GPU_SLOTS``, default 1);
* ``pool="gpu"`` on the GPU assets lets the instance limit GPU steps *across runs*
  (the pool limit is set in ``deploy/dagster.yaml``).

With ``MH_EXECUTOR=k8s`` each step runs as a Kubernetes job and the gpu-tagged steps
request ``nvidia.com/gpu: 1`` through their ``dagster-k8s/config`` tag.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from mh_assets.core.modelling.config import GPU_POOL
from mh_assets.settings import Settings

__all__ = ["GPU_POOL", "GPU_TAG", "build_executor", "gpu_op_tags", "multiprocess_config"]
GPU_TAG = "mh-assets/gpu"
K8S_CONFIG_TAG = "dagster-k8s/config"
K8S_GPU_CONFIG: dict[str, Any] = {
    "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
    "pod_spec_config": {
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
}


def gpu_op_tags(settings: Settings) -> dict[str, Any]:
    """Tags for the GPU assets' steps: the concurrency tag, plus k8s resources if used."""
    tags: dict[str, Any] = {GPU_TAG: "true"}
    if settings.executor == "k8s":
        tags[K8S_CONFIG_TAG] = K8S_GPU_CONFIG
    return tags


def multiprocess_config(settings: Settings) -> dict[str, Any]:
    return {
        "tag_concurrency_limits": [
            {"key": GPU_TAG, "value": "true", "limit": settings.gpu_slots},
        ]
    }


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    """The code location's executor, chosen by ``MH_EXECUTOR``."""
    if settings.executor == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(
            {
                "max_concurrent": 4,
                "tag_concurrency_limits": multiprocess_config(settings)["tag_concurrency_limits"],
            }
        )
    return dg.multiprocess_executor.configured(multiprocess_config(settings))

"""Execution: CPU steps in parallel, GPU steps queued on a tag and a pool.

Two mechanisms, because they work at different levels:

* the executor's ``tag_concurrency_limits`` on :data:`GPU_TAG` limits how many GPU
  steps of *one run* execute at once (slots = ``MH_GPU_SLOTS``, default 1);
* ``pool="gpu"`` on the GPU assets lets the instance limit GPU steps *across runs*
  (the pool limit is set in ``deploy/dagster.yaml``).

A run executes its steps in one process instead (:func:`runs_in_one_process`) where a
process per step buys nothing: a fresh process costs ~3 CPU-seconds of imports, code
location and job reconstruction, and 3-6 s of wall time before its step starts.

* A run whose assets all belong to the ingest, cohort and corpus groups (what ``dagster
  asset materialize --select registry_extract,cohort,...,descriptor_corpus`` makes):
  they are polars stages that use every core themselves; on a 1,000,000-row extract the
  two CLI invocations took 62.5 CPU-seconds with a process per step and 30.4 in one
  (``benchmarks/ingest.py``, figures in ``benchmarks/README.md``).
* Any run on a machine with no core beyond one per sex (:data:`SPARE_CORES_FROM`): both
  sexes' runs go at once, each with a core, so a second step of a run could only take
  turns with the first. On 2 cores a refresh from the UI spent ~40 s of a 111 s
  per-sex run starting step processes. The GPU pool still limits the GPU steps across
  runs (the in-process executor claims pool slots too); within a run one step runs at
  a time.

With ``MH_EXECUTOR=k8s`` each step runs as a Kubernetes job and the gpu-tagged steps
request ``nvidia.com/gpu: 1`` through their ``dagster-k8s/config`` tag.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from mh_assets.core.modelling.config import GPU_POOL
from mh_assets.core.schema import SEXES
from mh_assets.settings import Settings

__all__ = ["GPU_POOL", "GPU_TAG", "IN_PROCESS_GROUPS", "SPARE_CORES_FROM", "build_executor",
           "gpu_op_tags", "multiprocess_config", "runs_in_one_process"]
GPU_TAG = "mh-assets/gpu"
#: Asset groups whose runs execute in one process (see the module docstring).
IN_PROCESS_GROUPS = frozenset({"ingest", "cohort", "corpus"})
#: Step processes only from this many usable cores: more than one per sex partition.
SPARE_CORES_FROM = len(SEXES) + 1
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


def runs_in_one_process(job: dg.JobDefinition, cores: int | None = None) -> bool:
    """Whether a run of ``job`` executes its steps in one process: every asset it
    materializes is in :data:`IN_PROCESS_GROUPS` (a job that only runs checks, such as
    ``daily_checks_job``, also qualifies), or the machine has fewer than
    :data:`SPARE_CORES_FROM` usable ``cores`` (default: this process's). Elsewhere --
    training, clustering or publishing with cores to spare -- each step gets its own
    process, so CPU steps run side by side and GPU steps stay limited per run.
    """
    if cores is None:
        from mh_assets.core.clustering.geometry import usable_cores

        cores = usable_cores()
    if cores < SPARE_CORES_FROM:
        return True
    layer = job.asset_layer
    return all(layer.get(key).group_name in IN_PROCESS_GROUPS
               for key in layer.selected_asset_keys)


@dg.executor(
    name="multiprocess",
    config_schema=dg.multiprocess_executor.config_schema,
    requirements=dg.multiprocess_executor.get_requirements,
)
def _multiprocess_or_in_process(init_context: dg.InitExecutorContext):
    """The multiprocess executor (same configuration), or the in-process one where
    :func:`runs_in_one_process` says so."""
    config = init_context.executor_config
    chosen, chosen_config = dg.multiprocess_executor, config
    if runs_in_one_process(init_context.job.get_definition()):
        chosen = dg.in_process_executor
        chosen_config = {"retries": config.get("retries", {"enabled": {}}),
                         "step_dependency_config": config.get("step_dependency_config")}
    return chosen.executor_creation_fn(dg.InitExecutorContext(
        job=init_context.job, executor_def=chosen, executor_config=chosen_config,
        instance=init_context.instance))


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
    return _multiprocess_or_in_process.configured(multiprocess_config(settings))

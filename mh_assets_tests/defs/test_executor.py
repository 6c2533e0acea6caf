"""Executor and GPU concurrency configuration, as configuration (no cluster needed)."""

import dagster as dg

from mh_assets.defs.executor import (
    GPU_TAG,
    K8S_CONFIG_TAG,
    build_executor,
    gpu_op_tags,
    multiprocess_config,
    runs_in_one_process,
)
from mh_assets.settings import Settings


def test_multiprocess_executor_limits_gpu_tagged_steps_to_the_slot_setting():
    settings = Settings(gpu_slots=2)
    executor = build_executor(settings)
    assert executor.name == dg.multiprocess_executor.name
    limits = multiprocess_config(settings)["tag_concurrency_limits"]
    assert limits == [{"key": GPU_TAG, "value": "true", "limit": 2}]


def test_gpu_tags_request_a_gpu_only_on_kubernetes():
    assert gpu_op_tags(Settings()) == {GPU_TAG: "true"}
    k8s_tags = gpu_op_tags(Settings(executor="k8s"))
    limits = k8s_tags[K8S_CONFIG_TAG]["container_config"]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1"}
    assert k8s_tags[GPU_TAG] == "true"


def test_k8s_executor_is_selectable_by_setting():
    executor = build_executor(Settings(executor="k8s"))
    assert executor.name == "k8s"


def test_unknown_executor_setting_is_rejected():
    import pytest

    with pytest.raises(ValueError, match="MH_EXECUTOR"):
        Settings(executor="slurm")


def test_code_location_uses_the_configured_executor():
    from mh_assets_tests.support.platform import load_defs

    assert load_defs().executor is not None
    assert load_defs().executor.name == dg.multiprocess_executor.name


def _executor_for(selection: list[str]):
    """The executor the code location's executor builds for a run of ``selection``."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.system_config.objects import ResolvedRunConfig

    from mh_assets_tests.support.platform import load_defs

    defs = load_defs()
    repo = defs.get_repository_def()
    if selection == ["daily_checks_job"]:
        job = repo.get_job("daily_checks_job")
    else:
        keys = {dg.AssetKey(k) for k in selection}
        job = repo.get_implicit_job_def_for_assets(keys).get_subset(asset_selection=keys)
    executor_def = defs.executor
    # the executor's config as a run resolves it (the configured values, with defaults)
    config = ResolvedRunConfig.build(job, {}).execution.execution_engine_config
    context = dg.InitExecutorContext(job=InMemoryJob(job), executor_def=executor_def,
                                     executor_config=config,
                                     instance=dg.DagsterInstance.ephemeral())
    return job, executor_def.executor_creation_fn(context)


def test_ingest_cohort_and_corpus_runs_execute_in_one_process():
    from dagster._core.executor.in_process import InProcessExecutor
    from dagster._core.executor.multiprocess import MultiprocessExecutor

    for selection in (["registry_extract", "cohort", "excluded_records", "icd_descriptors",
                       "descriptor_corpus"], ["descriptor_corpus"], ["daily_checks_job"]):
        job, executor = _executor_for(selection)
        assert runs_in_one_process(job), selection
        assert isinstance(executor, InProcessExecutor), selection
    for selection in (["descriptor_corpus", "mlm_checkpoint"], ["k_selection"]):
        job, executor = _executor_for(selection)
        assert not runs_in_one_process(job), selection
        assert isinstance(executor, MultiprocessExecutor), selection
        assert executor._tag_concurrency_limits == multiprocess_config(Settings())[
            "tag_concurrency_limits"]

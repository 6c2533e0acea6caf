"""Executor and GPU concurrency configuration, as configuration (no cluster needed)."""

import dagster as dg
import pytest

from mh_assets.defs.executor import (
    GPU_TAG,
    K8S_CONFIG_TAG,
    SPARE_CORES_FROM,
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


@pytest.fixture
def cores(monkeypatch):
    """Set how many cores the code location sees: ``cores(4)``."""
    from mh_assets.core.clustering import geometry

    def use(n: int) -> None:
        monkeypatch.setattr(geometry, "usable_cores", lambda: n)
    return use


def test_ingest_cohort_and_corpus_runs_execute_in_one_process(cores):
    from dagster._core.executor.in_process import InProcessExecutor
    from dagster._core.executor.multiprocess import MultiprocessExecutor

    cores(SPARE_CORES_FROM)  # cores to spare: only these runs go in one process
    for selection in (["registry_extract", "cohort", "excluded_records", "icd_descriptors",
                       "descriptor_corpus"], ["descriptor_corpus"], ["daily_checks_job"]):
        job, executor = _executor_for(selection)
        assert runs_in_one_process(job), selection
        assert isinstance(executor, InProcessExecutor), selection
    for selection in (["descriptor_corpus", "mlm_checkpoint"], ["k_selection"],
                      ["cluster_maps", "study_report"]):
        job, executor = _executor_for(selection)
        assert not runs_in_one_process(job), selection
        assert isinstance(executor, MultiprocessExecutor), selection
        assert executor._tag_concurrency_limits == multiprocess_config(Settings())[
            "tag_concurrency_limits"]


def test_with_no_core_beyond_one_per_sex_every_run_executes_in_one_process(cores):
    from dagster._core.executor.in_process import InProcessExecutor

    assert SPARE_CORES_FROM == 3  # two sexes' runs at once, one core each
    for n in (1, 2):
        cores(n)
        for selection in (["descriptor_corpus", "mlm_checkpoint", "contrastive_checkpoint"],
                          ["k_selection", "cluster_assignments"], ["cluster_maps"]):
            job, executor = _executor_for(selection)
            assert runs_in_one_process(job), (n, selection)
            assert isinstance(executor, InProcessExecutor), (n, selection)


def test_a_run_in_one_process_waits_for_a_free_gpu_pool_slot():
    """The in-process executor claims pool slots as the multiprocess one does: a GPU step
    of a run in one process does not start while another run holds the pool's slot."""
    import threading

    from mh_assets.defs.executor import GPU_POOL

    @dg.asset(pool=GPU_POOL)
    def on_gpu() -> int:
        return 1

    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(GPU_POOL, 1)
        storage.claim_concurrency_slot(GPU_POOL, "another-run", "mlm_checkpoint")
        finished = threading.Event()

        def materialize() -> None:
            assert dg.materialize([on_gpu], instance=instance).success
            finished.set()

        threading.Thread(target=materialize, daemon=True).start()
        assert not finished.wait(3.0)  # queued behind the other run's slot
        storage.free_concurrency_slots_for_run("another-run")
        assert finished.wait(60.0)

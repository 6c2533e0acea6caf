"""Executor and GPU concurrency configuration, as configuration (no cluster needed)."""

import dagster as dg

from mh_assets.defs.executor import (
    GPU_TAG,
    K8S_CONFIG_TAG,
    build_executor,
    gpu_op_tags,
    multiprocess_config,
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

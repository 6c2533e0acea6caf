"""A run killed with kill -9 must not wedge the next one."""

import subprocess
import sys

import dagster as dg

from mh_assets.ops.recovery import PID_TAG, recover, run_tags


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _started_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.DagsterRun:
    run = instance.create_run_for_job(dg.GraphDefinition("noop").to_job(), tags=tags)
    instance.handle_new_event(dg.EventLogEntry(
        error_info=None, level="INFO", user_message="", run_id=run.run_id, timestamp=0.0,
        dagster_event=dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, "noop")))
    return instance.get_run_by_id(run.run_id)


def test_a_run_whose_process_is_gone_is_failed_its_slot_freed_and_its_staging_removed(
        tmp_path):
    artifacts = tmp_path / "artifacts"
    staging = artifacts / "models" / "female" / ".mlm.x1y2.tmp"
    staging.mkdir(parents=True)
    (staging / "model.safetensors").write_bytes(b"half")
    finished = artifacts / "models" / "female" / "contrastive"
    finished.mkdir(parents=True)
    with dg.instance_for_test() as instance:
        dead = _started_run(instance, {**run_tags(), PID_TAG: str(_dead_pid())})
        live = _started_run(instance, run_tags())  # this very process: alive
        storage = instance.event_log_storage
        storage.set_concurrency_slots("gpu", 1)
        storage.claim_concurrency_slot("gpu", dead.run_id, "mlm_checkpoint")
        assert storage.get_concurrency_info("gpu").active_slot_count == 1
        messages: list[str] = []
        assert recover(instance, artifacts, messages.append) == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
        assert storage.get_concurrency_info("gpu").active_slot_count == 0
        assert staging.exists()  # a live run may still be writing it
        instance.report_run_canceled(instance.get_run_by_id(live.run_id))
        recover(instance, artifacts, messages.append)
        assert not staging.exists() and finished.exists()
        assert any("process" in m and dead.run_id in m for m in messages)


def test_a_slot_held_by_a_live_run_is_waited_for_by_name_then_given_up_on():
    import pytest

    from mh_assets.ops.recovery import PoolWaitTimeout, wait_for_pool

    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("gpu", 1)
        assert wait_for_pool(instance, "gpu", 0, print) < 1.0  # free: no wait, no timeout
        holder = _started_run(instance, run_tags())
        storage.claim_concurrency_slot("gpu", holder.run_id, "mlm_checkpoint")
        said: list[str] = []
        with pytest.raises(PoolWaitTimeout, match=holder.run_id):
            wait_for_pool(instance, "gpu", 1, said.append, poll_s=0.2)
        assert said and holder.run_id in said[0] and "MH_POOL_WAIT_SECONDS" in said[0]

"""Both sexes at once: core shares, the gpu pool's limit, worker clean-up, the plan."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg
import pytest

from mh_assets.core.clustering import geometry
from mh_assets.ops import pools, runner
from mh_assets.ops.stages import Stage
from mh_assets.settings import Settings


def test_cores_are_split_into_equal_disjoint_shares(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3, 4}, raising=False)
    shares = runner.core_shares(2)
    assert shares == [(0, 1), (2, 3)]
    assert not set(shares[0]) & set(shares[1])


def test_fewer_cores_than_partitions_share_them(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3}, raising=False)
    assert runner.core_shares(2) == [(3,)]


def test_partition_processes_default_to_one_per_sex_up_to_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert runner.partition_processes(Settings()) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert runner.partition_processes(Settings()) == 1
    assert runner.partition_processes(Settings(partition_processes=1)) == 1


def test_setting_rejects_a_negative_process_count():
    from mh_assets.settings import SettingsError

    with pytest.raises(SettingsError, match="MH_PARTITION_PROCESSES"):
        Settings.from_env({"MH_PARTITION_PROCESSES": "-1"})


def test_the_per_sex_stages_form_one_group_between_ingest_and_publish():
    a, b = dg.AssetKey("a"), dg.AssetKey("b")
    stages = [Stage("ingest", (a,)), Stage("female", (b,), "female"),
              Stage("male", (b,), "male"), Stage("publish", (a,))]
    groups = runner._consecutive(stages)
    assert [[s.name for s in g] for g in groups] == [["ingest"], ["female", "male"], ["publish"]]


def test_both_partitions_failing_give_a_failed_line_each(monkeypatch, capsys, tmp_path):
    """Their sentences ran together in one line, joined by "; "."""
    from mh_assets import cli

    b = dg.AssetKey("b")
    stages = [Stage("female", (b,), "female"), Stage("male", (b,), "male")]
    monkeypatch.setattr(runner, "_record", lambda *args: None)
    with pytest.raises(RuntimeError) as caught:
        runner._settle(stages, [("r1", "no weights."), ("r2", "no weights.")], None, None)

    def fail(*args, **kwargs):
        raise caught.value

    monkeypatch.setattr(runner, "materialize_all", fail)
    monkeypatch.setattr(runner, "ensure_instance", lambda: None)
    monkeypatch.setattr("mh_assets.definitions.build_defs", lambda settings: None)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert cli._run_locked(Settings(), Path(__file__), None) == 1
    assert capsys.readouterr().err.splitlines() == [
        "FAILED: Stage 'partition female' failed (run r1): no weights.",
        "FAILED: Stage 'partition male' failed (run r2): no weights."]


def test_each_partitions_console_lines_carry_its_name():
    stage = Stage("female", (dg.AssetKey("descriptor_corpus"),), "female")
    config = runner._stage_config({}, stage)
    assert config["loggers"]["console"]["config"]["name"] == "dagster[female]"
    assert "name" not in runner._stage_config({}, Stage("ingest", ()))[
        "loggers"]["console"]["config"]


@pytest.mark.parametrize(("env", "expected"), [
    ({"CUDA_VISIBLE_DEVICES": ""}, 0), ({"CUDA_VISIBLE_DEVICES": "-1"}, 0),
    ({"CUDA_VISIBLE_DEVICES": "0,1"}, 2), ({"CUDA_VISIBLE_DEVICES": "GPU-3f2a"}, 1)])
def test_visible_gpus_follow_cuda_visible_devices(env, expected, tmp_path):
    (tmp_path / "nvidia0").touch()  # ignored: the variable decides
    assert pools.cuda_devices_visible(env, dev=tmp_path) == expected


def test_visible_gpus_are_the_drivers_device_files_without_the_variable(tmp_path):
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    assert pools.cuda_devices_visible({}, dev=tmp_path) == 2
    assert pools.cuda_devices_visible({}, dev=tmp_path / "missing") == 0


def test_gpu_pool_limit_is_the_setting_on_a_gpu_and_one_per_sex_without():
    settings = Settings(gpu_slots=3)
    assert pools.gpu_pool_limit(settings, gpus=1)[0] == 3
    limit, why = pools.gpu_pool_limit(settings, gpus=0)
    assert limit == 2 and "no CUDA GPU" in why


def test_the_instance_pool_limit_is_applied_once():
    messages: list[str] = []
    with dg.instance_for_test() as instance:
        assert pools.apply_gpu_pool(instance, Settings(), messages.append, gpus=0) == 2
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 2
        pools.apply_gpu_pool(instance, Settings(), messages.append, gpus=0)
        assert len(messages) == 1  # unchanged: not set (or logged) again
        pools.apply_gpu_pool(instance, Settings(gpu_slots=1), messages.append, gpus=1)
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 1


def _square(x):
    return x * x


def test_parallel_map_runs_in_process_when_the_process_has_one_core(monkeypatch):
    import joblib

    monkeypatch.setattr(geometry, "usable_cores", lambda: 1)
    monkeypatch.setattr(joblib, "Parallel", lambda *a, **k: pytest.fail("spawned workers"))
    assert geometry.parallel_map(_square, [(2,), (3,)], n_jobs=2) == [4, 9]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for worker processes")
def test_released_workers_leave_no_child_process_behind(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(geometry, "usable_cores", lambda: 2)
    assert geometry.parallel_map(_square, [(2,), (3,), (4,)], n_jobs=2) == [4, 9, 16]
    assert multiprocessing.active_children() or _loky_workers()  # kept for reuse
    geometry.release_workers()
    assert not _loky_workers()


def _loky_workers() -> list:
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    processes = getattr(executor, "_processes", None) or {}
    return [p for p in processes.values() if p.is_alive()]


def test_a_second_run_on_the_same_instance_is_refused_naming_the_first(tmp_path):
    import subprocess
    import sys

    from mh_assets.ops.recovery import one_run_at_a_time

    home = tmp_path / "home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "MH_EXTRACTS_DIR": str(tmp_path / "x"),
           "MH_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    with one_run_at_a_time(home):
        out = subprocess.run([sys.executable, "-m", "mh_assets.cli", "run"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "another mh-assets run is using the Dagster instance" in out.stderr
    assert f"pid {os.getpid()}" in out.stderr and "Traceback" not in out.stderr


def test_the_run_lock_dies_with_its_process(tmp_path):
    import subprocess
    import sys

    from mh_assets.ops.recovery import one_run_at_a_time

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path;"
        "from mh_assets.ops.recovery import one_run_at_a_time\n"
        f"with one_run_at_a_time(Path({str(tmp_path)!r})):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Exception, match="another mh-assets run"):
        with one_run_at_a_time(tmp_path):
            pass
    holder.kill()  # kill -9
    holder.wait()
    with one_run_at_a_time(tmp_path):  # free again: no stale lock
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_partition_process_dies_with_the_command(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing, os, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from mh_assets.ops.runner import _die_with_parent\n"
        "def child(parent):\n"
        "    _die_with_parent(parent)\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(120)\n"
        "if __name__ == '__main__':\n"
        "    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'))\n"
        "    pool.submit(child, os.getpid())\n"
        "    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        if open(f"/proc/{child}/stat").read().split()[2] == "Z":
            return  # killed, waiting to be reaped by init
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the partition process outlived the command killed with -9")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for worker processes")
@pytest.mark.parametrize("style", ["returns", "yields"])
def test_a_clustering_step_releases_its_workers_when_it_ends(monkeypatch, style):
    """A UI step is a process of its own: its parallel workers must not outlive the
    step (they kept the k_selection process alive five minutes)."""
    from mh_assets.defs.partitions import clusters_asset

    monkeypatch.setattr(geometry, "usable_cores", lambda: 2)
    alive_inside: list[bool] = []

    def work():
        assert geometry.parallel_map(_square, [(2,), (3,), (4,)], n_jobs=2) == [4, 9, 16]
        alive_inside.append(bool(_loky_workers()))

    if style == "returns":
        def body(context):
            work()
            return dg.MaterializeResult()
    else:
        def body(context):
            work()
            yield dg.MaterializeResult()

    asset = clusters_asset(name="step")(body)
    assert dg.materialize([asset], partition_key="female").success
    assert alive_inside == [True]  # workers were there while the step ran
    assert not _loky_workers()

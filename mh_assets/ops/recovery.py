"""After a crash: runs whose process is gone, the pool slots they hold, their temp files.

``kill -9`` of ``mh-assets run`` leaves its Dagster run ``STARTED`` in the instance
forever, holding its ``gpu`` pool slot, so the next run waits for a slot nobody will
free; and a half-written checkpoint directory (``.mlm.*.tmp``) stays behind. Every run
``mh-assets run`` starts carries its process id and host as tags; before starting,
:func:`recover` marks the runs of this host whose process no longer exists as failed
(with the reason), frees their concurrency slots, and removes the staging files and
directories that no live run is writing. Training then resumes from its per-epoch
state (``models/<sex>/.state``), which the atomic checkpoint rename never touched.
Runs launched from the UI are covered by run monitoring in ``deploy/dagster.yaml``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

PID_TAG, HOST_TAG = "mh-assets/pid", "mh-assets/host"
UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
              dg.DagsterRunStatus.CANCELING]


def run_tags() -> dict[str, str]:
    """The tags that let a later run tell whether this process is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def dead_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Unfinished runs started by ``mh-assets run`` on this host whose process is gone."""
    host = socket.gethostname()
    runs = instance.get_runs(dg.RunsFilter(statuses=UNFINISHED))
    return [run for run in runs
            if run.tags.get(HOST_TAG) == host and run.tags.get(PID_TAG, "").isdigit()
            and not alive(int(run.tags[PID_TAG]))]


def recover(instance: dg.DagsterInstance, artifacts: Path,
            log: Callable[[str], None] = print) -> list[str]:
    """Fail the dead runs, free their slots, remove stale staging files; their run ids."""
    recovered = []
    for run in dead_runs(instance):
        pid = run.tags[PID_TAG]
        instance.report_run_failed(
            run, f"Its process (pid {pid}) is gone (killed or crashed): marked failed by the "
            "next mh-assets run, which frees its pool slots and resumes the work.")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log(f"recovered run {run.run_id}: its process {pid} is gone; marked failed, pool "
            "slots freed")
        recovered.append(run.run_id)
    if not live_runs(instance):
        for stale in stale_staging(artifacts):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
            log(f"removed a half-written {stale.relative_to(artifacts)} left by a crash")
    return recovered


def live_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [run for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED))
            if not run.tags.get(PID_TAG, "").isdigit() or alive(int(run.tags[PID_TAG]))]


def stale_staging(artifacts: Path) -> list[Path]:
    """The store's staging names (``.<name>.*.tmp``) anywhere under the artifacts root."""
    if not artifacts.is_dir():
        return []
    return sorted(p for p in artifacts.rglob(".*.tmp") if p.name.startswith("."))


class PoolWaitTimeout(RuntimeError):
    """A pool slot stayed held by another live run for longer than the setting."""


def wait_for_pool(instance: dg.DagsterInstance, pool: str, timeout_s: int,
                  log: Callable[[str], None] = print, poll_s: float = 5.0) -> float:
    """Before a stage with ``pool`` steps: wait while every slot of the pool is held by
    other runs, saying which and for how long at most; seconds waited. Raises
    :class:`PoolWaitTimeout` after ``timeout_s`` -- a slot is never waited for silently."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0.0
    started, told = time.monotonic(), False
    while True:
        info = storage.get_concurrency_info(pool)
        limit = info.slot_count or info.limit or 0
        if not limit or info.active_slot_count < limit:
            return time.monotonic() - started
        holders = ", ".join(sorted(info.active_run_ids))
        waited = time.monotonic() - started
        if waited >= timeout_s:
            raise PoolWaitTimeout(
                f"gave up after {waited:.0f} s waiting for a '{pool}' pool slot held by run(s) "
                f"{holders}: let that run finish or cancel it in the UI, or raise "
                "MH_POOL_WAIT_SECONDS")
        if not told:
            log(f"waiting for a '{pool}' pool slot: all {limit} held by run(s) {holders} "
                f"(giving up after {timeout_s} s, MH_POOL_WAIT_SECONDS)")
            told = True
        time.sleep(poll_s)


class RunInProgress(RuntimeError):
    """Another ``mh-assets run`` holds this instance."""


LOCK_NAME = "mh-assets-run.lock"


@contextlib.contextmanager
def one_run_at_a_time(home: Path) -> Iterator[None]:
    """Hold the instance's run lock for the block, or raise :class:`RunInProgress`.

    Two ``mh-assets run`` commands on one instance would write the same artifacts
    at once; the second is refused, naming the first. An exclusive ``flock`` on a file
    in ``DAGSTER_HOME``: the kernel drops it when its process dies, even by kill -9,
    so a crash never leaves a stale lock behind.
    """
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_NAME, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunInProgress(
                f"another mh-assets run is using the Dagster instance in {home} "
                f"({holder}); wait for it to finish or stop it, or point DAGSTER_HOME "
                "elsewhere") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

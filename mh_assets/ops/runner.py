"""Materialize the whole graph, both sexes, into the persistent Dagster instance.

Used by ``mh-assets run`` and ``mh-assets demo``. The graph is executed in the three
stages of :mod:`mh_assets.ops.stages`: the unpartitioned assets upstream of the
per-sex work, then every partitioned asset once per sex -- the two sexes side by
side, one process each with half the cores (``MH_PARTITION_PROCESSES``) -- then the
unpartitioned assets that combine both sexes. Each stage is an ordinary Dagster run
(one per partition), so the UI shows the history and lineage afterwards.

On the console a step that fails with a ``dg.Failure`` -- a bad extract's file and
line, a refused write's path and remedy -- reads as one sentence, without Dagster's
stack trace (which stays in the run's event log for the UI); any other exception is
a bug and keeps its stack trace. The final "Stage ... failed" lines (one per failed
stage or partition) give the sentence, or the exception's ``Class: message``, never
Dagster's wrapper.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg

from mh_assets.core.clustering.geometry import release_workers, usable_core_ids
from mh_assets.core.cohort import ABSENT_SEX, present_sexes
from mh_assets.core.environment import PROJECT_ROOT
from mh_assets.core.modelling.config import GPU_POOL
from mh_assets.core.schema import SEXES
from mh_assets.ops.pools import apply_gpu_pool
from mh_assets.ops.provenance import write_run_provenance
from mh_assets.ops.recovery import PoolWaitTimeout, recover, run_tags, wait_for_pool
from mh_assets.ops.stages import Stage, plan_stages
from mh_assets.settings import dagster_home


def ensure_instance() -> dg.DagsterInstance:
    """The persistent instance under DAGSTER_HOME (project default), owner-only."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    config = home / "dagster.yaml"
    if not config.exists():
        # PostgreSQL storage when its connection is configured (deploy/dagster-postgres.yaml)
        template = "dagster-postgres.yaml" if os.environ.get("DAGSTER_PG_HOST") else "dagster.yaml"
        shutil.copyfile(PROJECT_ROOT / "deploy" / template, config)
    return dg.DagsterInstance.get()


def materialize_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    extract: Path | None = None,
    sexes: Sequence[str] = SEXES,
    log: Callable[[str], None] = print,
    run_config: dict | None = None,
) -> list[str]:
    """Run every stage in order; stop at the first failed stage. Returns the run ids.

    The per-sex stages run side by side, one process per partition
    (:func:`_run_partitions`), unless ``MH_PARTITION_PROCESSES=1``.
    """
    config = dict(run_config or {})
    if extract is not None:
        config.setdefault("ops", {})["registry_extract"] = {"config": {"extract": str(extract)}}
    platform = defs.resources["platform"]  # the Platform the definitions were built with
    settings = platform.settings
    recover(instance, Path(platform.store.path(".")), log)  # what a killed run left behind
    apply_gpu_pool(instance, settings, log)
    run_ids: list[str] = []
    for group in _consecutive(plan_stages(defs, sexes)):
        if group[0].partition_key:
            present = present_sexes(platform.store)
            for stage in [stage for stage in group if stage.partition_key not in present]:
                run_ids.append(_record_skip(defs, instance, stage, config, platform, log))
            group = [stage for stage in group if stage.partition_key in present]
            if not group:
                continue
            try:  # their GPU steps claim slots of the gpu pool
                wait_for_pool(instance, GPU_POOL, settings.pool_wait_seconds, log)
            except PoolWaitTimeout as err:
                raise RuntimeError(f"Stage '{_label(group[0])}' did not start: {err}") from None
        processes = min(len(group), partition_processes(settings)) if group[0].partition_key else 1
        for stage in group:
            log(f"==> {_label(stage)}: " + ", ".join(k.to_user_string() for k in stage.keys))
        started = time.perf_counter()
        if processes > 1:
            outcomes = _run_partitions(group, settings, instance, config, processes)
        else:
            outcomes = [_execute(defs, instance, stage, config) for stage in group]
            release_workers()  # the command's process can then exit without waiting
        run_ids += [run_id for run_id, _ in outcomes]
        _settle(group, outcomes, instance, platform)
        log(f"<== {', '.join(_label(s) for s in group)}: {time.perf_counter() - started:.1f} s"
            + (f" ({processes} processes side by side)" if processes > 1 else ""))
    return run_ids


def _record_skip(defs: dg.Definitions, instance: dg.DagsterInstance, stage: Stage,
                 config: dict, platform, log: Callable[[str], None]) -> str:
    """A sex without patients: its partition's run, here and at once -- every asset
    materializes as skipped, reading and writing nothing (``defs.partitions``) -- so the
    instance shows this extract's refresh as complete (``refresh_complete``) and the UI
    says why the partition is empty, as it does after an automated refresh."""
    log(f"==> partition {stage.partition_key} skipped: {ABSENT_SEX}")
    outcome = _execute(defs, instance, stage, config)
    _settle([stage], [outcome], instance, platform)
    return outcome[0]


def _settle(stages: Sequence[Stage], outcomes: Sequence[tuple[str, str | None]],
            instance: dg.DagsterInstance, platform) -> None:
    """Write each run's record; raise with every failed (or unrecorded) stage's sentence."""
    failures = []
    for stage, (run_id, failure) in zip(stages, outcomes, strict=True):
        unrecorded = _record(instance, run_id, platform)
        if failure or unrecorded:
            failures.append(_failed(stage, run_id, failure, unrecorded))
    if failures:  # one line per failed stage: two partitions' reasons do not run together
        raise RuntimeError("\n".join(failures))


def partition_processes(settings) -> int:
    """How many sex partitions run at once: ``MH_PARTITION_PROCESSES``, or (0, the
    default) one per partition up to the number of cores."""
    if settings.partition_processes:
        return settings.partition_processes
    return max(1, min(len(SEXES), os.cpu_count() or 1))


def _label(stage: Stage) -> str:
    return stage.name if stage.partition_key is None else f"partition {stage.partition_key}"


def _consecutive(stages: Sequence[Stage]) -> list[list[Stage]]:
    """The plan as groups: each unpartitioned stage alone, the per-sex stages together."""
    groups: list[list[Stage]] = []
    for stage in stages:
        if stage.partition_key and groups and groups[-1][0].partition_key:
            groups[-1].append(stage)
        else:
            groups.append([stage])
    return groups


def _execute(defs: dg.Definitions, instance: dg.DagsterInstance, stage: Stage,
             config: dict) -> tuple[str, str | None]:
    """One stage as one Dagster run in this process: its run id and failure (or None)."""
    job = defs.resolve_job_def(stage.job).with_logger_defs({"console": console_logger})
    result = job.execute_in_process(
        partition_key=stage.partition_key,
        instance=instance,
        run_config=_stage_config(config, stage),
        tags={"mh-assets/stage": stage.name, **run_tags()},
        raise_on_error=False,
    )
    return result.run_id, None if result.success else _first_failure(result)


def _run_partitions(stages: Sequence[Stage], settings, instance: dg.DagsterInstance,
                    config: dict, processes: int) -> list[tuple[str, str | None]]:
    """Each partition's run in its own process, side by side, each given an equal share
    of the cores; a partition that fails does not stop the other.

    A process per partition, not a thread: torch, numba and the BLAS libraries keep
    per-process state, and one partition's crash must not take the other down. Each
    process rebuilds the same definitions from the same settings and writes to the
    same instance, so the UI's history shows one run per partition exactly as in the
    sequential order, and the outputs are the same bit for bit (on CPU every step is
    seeded and single-partition; the ``demo`` preset pins torch to one thread either
    way, and presets that leave torch's thread count open get the process's share).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ref = instance.get_ref()
    shares = core_shares(processes)
    with ProcessPoolExecutor(max_workers=processes,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_partition_process, settings, ref, stage, config,
                               shares[i % len(shares)], os.getpid())
                   for i, stage in enumerate(stages)]
        return [future.result() for future in futures]


def core_shares(processes: int) -> list[tuple[int, ...]]:
    """This process's cores split into ``processes`` equal shares (2 cores, 2 sexes: one
    core each), so two partitions never fight over a core."""
    cores = usable_core_ids()
    if len(cores) < processes:
        return [tuple(cores)]
    size = len(cores) // processes
    return [tuple(cores[i * size:(i + 1) * size]) for i in range(processes)]


def _partition_process(settings, ref, stage: Stage, config: dict, cores: tuple[int, ...],
                       parent: int) -> tuple[str, str | None]:
    """In a fresh process: pinned to its share of the cores, thread counts set to that
    share before torch and the BLAS libraries load, then the definitions, the instance
    and the stage's run; joblib's idle workers are stopped before the process exits."""
    _die_with_parent(parent)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, str(len(cores)))
    from mh_assets.definitions import build_defs

    try:
        with dg.DagsterInstance.from_ref(ref) as instance:
            return _execute(build_defs(settings), instance, stage, config)
    finally:
        release_workers()


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the command's process dies (Linux).

    ``kill -9`` of ``mh-assets run`` must not leave its partitions training on as
    orphans that the rerun would race; killed with it, their runs are left ``STARTED``
    with a dead pid, which the rerun's :func:`recover` fails and frees.
    """
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request was in place
        os._exit(1)


def _record(instance: dg.DagsterInstance, run_id: str, platform) -> str | None:
    """The run's provenance record, pass or fail; why it could not be written, or None."""
    try:
        write_run_provenance(instance, run_id, platform.store, platform.settings)
    except dg.Failure as err:  # a refused write (read-only, full): its one sentence
        return f"its provenance record was not written: {err.description}"
    return None


def _failed(stage: Stage, run_id: str, failure: str | None, unrecorded: str | None) -> str:
    if failure:
        return (f"Stage '{_label(stage)}' failed (run {run_id}): {failure}"
                + (f"; {unrecorded}" if unrecorded else ""))
    return f"Stage '{_label(stage)}' ran (run {run_id}) but {unrecorded}"


# The console shows progress (INFO) rather than every engine event; the UI keeps all.
CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _stage_config(config: dict, stage: Stage) -> dict:
    """The run config for one stage: op config only for the ops the stage runs."""
    names = {key.path[-1] for key in stage.keys}
    ops = {name: value for name, value in config.get("ops", {}).items() if name in names}
    console = CONSOLE
    if stage.partition_key:  # two partitions' lines interleave on the console: name them
        console = {"loggers": {"console": {"config": {
            **CONSOLE["loggers"]["console"]["config"], "name": f"dagster[{stage.partition_key}]"}}}}
    return {**console, **{k: v for k, v in config.items() if k != "ops"},
            **({"ops": ops} if ops else {})}


def failure_message(data: object) -> str:
    """A failed step in one sentence: a ``dg.Failure``'s description, else the error
    the asset raised (``Class: message``), never the wrapper or its stack trace."""
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description.strip()
    error = getattr(data, "error", None)
    if error is None:
        return "unknown error"
    if error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
        error = error.cause
    message = error.message.strip()
    if message.startswith("dagster.") and ": " in message:  # e.g. a run's dg.Failure
        message = message.split(": ", 1)[1]
    return message


class _WithoutStackTraces(logging.Formatter):
    """Dagster's console lines, a ``dg.Failure``'s stack trace replaced by its sentence.

    A failure the code raised on purpose (a bad extract, a refused write) is the
    user's to fix and reads as one sentence; any other exception is a bug and keeps
    its stack trace.
    """

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event") or getattr(record, "dagster_event", None)
        data = getattr(event, "event_specific_data", None)
        error = getattr(data, "error", None)
        if error is not None and (getattr(data, "user_failure_data", None) is not None
                                  or error.cls_name == "Failure"):
            record = logging.makeLogRecord(record.__dict__)
            head = record.getMessage().split("\n\n", 1)[0]
            record.msg = f"{head} {failure_message(data)} (stack trace: the run's event log)"
            record.args = None
        return super().format(record)


@dg.logger(
    {"log_level": dg.Field(str, is_required=False, default_value="INFO"),
     "name": dg.Field(str, is_required=False, default_value="dagster")},
    description="Dagster's console format, failures in one sentence without stack traces.",
)
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.Logger(config["name"], level=config["log_level"].upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WithoutStackTraces(
        "%(asctime)s - %(name)s - %(levelname)s - %(message)s", "%Y-%m-%d %H:%M:%S %z"))
    logger.addHandler(handler)
    return logger


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            step = event.step_key or "?"
            return f"step {step}: {failure_message(event.step_failure_data)}"
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed is False and evaluation.blocking:
                return f"blocking check {evaluation.check_name} failed"
    return "see the run's event log in the Dagster UI"

"""Materialize the whole graph, both sexes, into the persistent Dagster instance.

Used by ``mh-assets run`` and ``mh-assets demo``. The graph is executed in three
stages so that each asset runs exactly once: the unpartitioned assets upstream of
the per-sex work, then every partitioned asset once per sex, then the unpartitioned
assets that combine both sexes. Each stage is an ordinary Dagster run, so the UI
shows the history and lineage afterwards.

On the console a step that fails with a ``dg.Failure`` -- a bad extract's file and
line, a refused write's path and remedy -- reads as one sentence, without Dagster's
stack trace (which stays in the run's event log for the UI); any other exception is
a bug and keeps its stack trace. The final "Stage ... failed" line gives the
sentence, or the exception's ``Class: message``, never Dagster's wrapper.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:  # what define_asset_job returns (not exported by name)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

from mh_assets.core.cohort import present_sexes
from mh_assets.core.environment import PROJECT_ROOT
from mh_assets.core.modelling.config import GPU_POOL
from mh_assets.core.schema import SEXES
from mh_assets.ops.graph import descendants
from mh_assets.ops.provenance import write_run_provenance
from mh_assets.ops.recovery import PoolWaitTimeout, recover, run_tags, wait_for_pool
from mh_assets.settings import default_dagster_home


@dataclass(frozen=True)
class Stage:
    name: str
    keys: tuple[dg.AssetKey, ...]
    partition_key: str | None = None

    @property
    def job(self) -> str:
        """The named job that runs this stage (what the UI's run list shows)."""
        return JOBS["per_sex" if self.partition_key else self.name]


#: Stage -> the job that runs it; the jobs are defined once by :func:`stage_jobs`.
JOBS = {"ingest": "ingest_job", "per_sex": "per_sex_job", "publish": "publish_job"}


def stage_jobs(graph) -> list[UnresolvedAssetJobDefinition]:
    """One named job per stage, over the assets (and their checks) of that stage."""
    stages = {("per_sex" if s.partition_key else s.name): s for s in _stages(graph, SEXES)}
    descriptions = {
        "ingest": "The extract, the cohort and the tables on the whole cohort.",
        "per_sex": "Everything per sex: corpus, model, embeddings, clusters, evaluation "
                   "(one run per partition).",
        "publish": "What combines both sexes: the cluster table, pairs, maps and the report.",
    }
    return [dg.define_asset_job(JOBS[name], selection=dg.AssetSelection.assets(*stage.keys),
                                description=descriptions[name])
            for name, stage in stages.items()]


def plan_stages(defs: dg.Definitions, sexes: Sequence[str] = SEXES) -> list[Stage]:
    """Split the asset graph into before / per-sex / after stages."""
    return _stages(defs.resolve_asset_graph(), sexes)


def _stages(graph, sexes: Sequence[str]) -> list[Stage]:
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    downstream_of_partitioned = descendants(graph, *partitioned) if partitioned else set()
    before = tuple(sorted(k for k in keys if k not in partitioned
                          and k not in downstream_of_partitioned))
    after = tuple(sorted(k for k in keys
                         if k not in partitioned and k in downstream_of_partitioned))
    stages = [Stage("ingest", before)]
    stages += [Stage(f"{sex}", tuple(sorted(partitioned)), sex) for sex in sexes if partitioned]
    if after:
        stages.append(Stage("publish", after))
    return [s for s in stages if s.keys]


def ensure_instance() -> dg.DagsterInstance:
    """The persistent instance under DAGSTER_HOME (project default), owner-only."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home())))
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
    """Run every stage in order; stop at the first failure. Returns the run ids."""
    config = dict(run_config or {})
    if extract is not None:
        config.setdefault("ops", {})["registry_extract"] = {"config": {"extract": str(extract)}}
    platform = defs.resources["platform"]  # the Platform the definitions were built with
    recover(instance, Path(platform.store.path(".")), log)  # what a killed run left behind
    run_ids = []
    for stage in plan_stages(defs, sexes):
        label = stage.name if stage.partition_key is None else f"partition {stage.partition_key}"
        if stage.partition_key and stage.partition_key not in present_sexes(platform.store):
            log(f"==> {label} skipped: no patients of this sex in the extract")
            continue
        if stage.partition_key:  # its GPU steps claim a slot of the gpu pool
            try:
                wait_for_pool(instance, GPU_POOL, platform.settings.pool_wait_seconds, log)
            except PoolWaitTimeout as err:
                raise RuntimeError(f"Stage '{label}' did not start: {err}") from None
        log(f"==> {label}: " + ", ".join(k.to_user_string() for k in stage.keys))
        job = defs.resolve_job_def(stage.job).with_logger_defs({"console": console_logger})
        result = job.execute_in_process(
            partition_key=stage.partition_key,
            instance=instance,
            run_config=_stage_config(config, stage),
            tags={"mh-assets/stage": stage.name, **run_tags()},
            raise_on_error=False,
        )
        run_ids.append(result.run_id)
        try:  # provenance/<run_id>.json, pass or fail
            write_run_provenance(instance, result.run_id, platform.store, platform.settings)
            unrecorded = None
        except dg.Failure as err:  # a refused write (read-only, full): its one sentence
            unrecorded = f"its provenance record was not written: {err.description}"
        if not result.success:
            failure = _first_failure(result) + (f"; {unrecorded}" if unrecorded else "")
            raise RuntimeError(f"Stage '{label}' failed (run {result.run_id}): {failure}")
        if unrecorded:
            raise RuntimeError(f"Stage '{label}' ran (run {result.run_id}) but {unrecorded}")
    return run_ids


# The console shows progress (INFO) rather than every engine event; the UI keeps all.
CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _stage_config(config: dict, stage: Stage) -> dict:
    """The run config for one stage: op config only for the ops the stage runs."""
    names = {key.path[-1] for key in stage.keys}
    ops = {name: value for name, value in config.get("ops", {}).items() if name in names}
    return {**CONSOLE, **{k: v for k, v in config.items() if k != "ops"},
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

"""Materialize the whole graph, both sexes, into the persistent Dagster instance.

Used by ``mh-assets run`` and ``mh-assets demo``. The graph is executed in three
stages so that each asset runs exactly once: the unpartitioned assets upstream of
the per-sex work, then every partitioned asset once per sex, then the unpartitioned
assets that combine both sexes. Each stage is an ordinary Dagster run, so the UI
shows the history and lineage afterwards.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from mh_assets.core.environment import PROJECT_ROOT
from mh_assets.core.schema import SEXES
from mh_assets.ops.graph import descendants
from mh_assets.ops.provenance import write_run_provenance
from mh_assets.settings import default_dagster_home


@dataclass(frozen=True)
class Stage:
    name: str
    keys: tuple[dg.AssetKey, ...]
    partition_key: str | None = None


def plan_stages(defs: dg.Definitions, sexes: Sequence[str] = SEXES) -> list[Stage]:
    """Split the asset graph into before / per-sex / after stages."""
    graph = defs.resolve_asset_graph()
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
    assets = list(defs.assets or []) + list(defs.asset_checks or [])
    platform = defs.resources["platform"]  # the Platform the definitions were built with
    run_ids = []
    for stage in plan_stages(defs, sexes):
        label = stage.name if stage.partition_key is None else f"partition {stage.partition_key}"
        log(f"==> {label}: " + ", ".join(k.to_user_string() for k in stage.keys))
        result = dg.materialize(
            assets,
            selection=dg.AssetSelection.assets(*stage.keys),
            partition_key=stage.partition_key,
            instance=instance,
            resources=defs.resources,
            run_config=_stage_config(config, stage),
            tags={"mh-assets/stage": stage.name},
            raise_on_error=False,
        )
        run_ids.append(result.run_id)
        # provenance/<run_id>.json, pass or fail
        write_run_provenance(instance, result.run_id, platform.store, platform.settings)
        if not result.success:
            failure = _first_failure(result)
            raise RuntimeError(f"Stage '{label}' failed (run {result.run_id}): {failure}")
    return run_ids


# The console shows progress (INFO) rather than every engine event; the UI keeps all.
CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _stage_config(config: dict, stage: Stage) -> dict:
    """The run config for one stage: op config only for the ops the stage runs."""
    names = {key.path[-1] for key in stage.keys}
    ops = {name: value for name, value in config.get("ops", {}).items() if name in names}
    return {**CONSOLE, **{k: v for k, v in config.items() if k != "ops"},
            **({"ops": ops} if ops else {})}


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            step = event.step_key or "?"
            message = error.message.strip() if error else "unknown error"
            return f"step {step}: {message}"
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.passed is False and evaluation.blocking:
                return f"blocking check {evaluation.check_name} failed"
    return "see the run's event log in the Dagster UI"

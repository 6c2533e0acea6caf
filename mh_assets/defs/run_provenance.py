"""``provenance/<run_id>.json``: what one run made, from what, with which code.

Written for every finished run -- by ``mh-assets run`` after each stage and, for runs
launched from the UI, the sensors or the schedule, by the ``run_provenance`` sensor --
so an auditor holding only the artifacts folder can still answer "which extract,
code, models and settings made this?". Built from the run's events in the Dagster
instance; it copies only allowlisted metadata (names, counts, hashes, versions, paths),
never a preview or anything patient-level.
"""

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import DagsterEventType

from mh_assets.core.artifacts import ArtifactStore
from mh_assets.defs.provenance import git_commit, library_versions
from mh_assets.defs.resources import PlatformResource
from mh_assets.settings import Settings

# Metadata worth carrying into provenance and lineage (exact keys; also any "*sha256").
KEY_METADATA = (
    "file_name", "size_bytes", "rows", "dagster/row_count", "artifacts", "path", "figures",
    "source", "edition", "provenance/input_data_versions",
)
RUN_TAG_PREFIXES = ("mh-assets/", "dagster/partition", "dagster/sensor_name",
                    "dagster/schedule_name", "dagster/backfill", "dagster/from_automation")
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED)


def _plain(value: Any) -> Any:
    """A metadata value as JSON-able data (``MetadataValue.value`` unwrapped)."""
    raw = getattr(value, "value", value)
    if isinstance(raw, (str, int, float, bool, list, dict)) or raw is None:
        return raw
    return str(raw)


def key_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The allowlisted entries of a materialization's metadata, as plain values."""
    return {
        key: _plain(value)
        for key, value in sorted(metadata.items())
        if key in KEY_METADATA or key.endswith("sha256")
    }


def materialization_summary(materialization: dg.AssetMaterialization) -> dict[str, Any]:
    tags = materialization.tags or {}
    return {
        "asset": materialization.asset_key.to_user_string(),
        "partition": materialization.partition,
        "data_version": tags.get("dagster/data_version"),
        "code_version": tags.get("dagster/code_version"),
        "metadata": key_metadata(materialization.metadata),
    }


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    # not ISO 8601: a "T20:..." would read as an ICD-10 code next to a date to a leak probe
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def run_provenance(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """The provenance record of one run, read from the instance."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        raise ValueError(f"run {run_id} is not in the Dagster instance")
    run = record.dagster_run
    events = instance.all_logs(
        run_id,
        of_type={DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION},
    )
    materializations, checks = [], []
    context: dict[str, Any] = {}
    for entry in events:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            materializations.append(materialization_summary(materialization))
            meta = materialization.metadata
            for key in ("provenance/preset", "provenance/git_commit", "provenance/settings",
                        "provenance/libraries"):
                if key in meta and key not in context:
                    context[key] = _plain(meta[key])
        else:
            evaluation = event.event_specific_data
            checks.append({
                "asset": evaluation.asset_key.to_user_string(),
                "check": evaluation.check_name,
                "partition": evaluation.partition,
                "passed": evaluation.passed,
                "severity": evaluation.severity.value,
                "blocking": evaluation.blocking,
            })
    settings = Settings.from_env()
    return {
        "run_id": run_id,
        "status": run.status.value,
        "job_name": run.job_name,
        "started_at": _iso(record.start_time),
        "ended_at": _iso(record.end_time),
        "tags": {k: v for k, v in sorted(run.tags.items()) if k.startswith(RUN_TAG_PREFIXES)},
        "materializations": materializations,
        "checks": checks,
        # What the assets recorded; the writer's own environment where none did.
        "preset": context.get("provenance/preset", settings.preset),
        "settings": context.get("provenance/settings", settings.as_metadata()),
        "git_commit": context.get("provenance/git_commit", git_commit()),
        "libraries": context.get("provenance/libraries", library_versions()),
    }


def write_run_provenance(
    instance: dg.DagsterInstance, run_id: str, store: ArtifactStore | None = None
) -> Path:
    """Write ``provenance/<run_id>.json`` under the artifacts root; returns its path."""
    store = store or ArtifactStore(Settings.from_env().artifacts_dir)
    record = run_provenance(instance, run_id)
    return store.write_text(f"provenance/{run_id}.json",
                            json.dumps(record, indent=2, sort_keys=True) + "\n")


@dg.sensor(
    name="run_provenance",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=Settings.from_env().sensor_interval_seconds,
    description="Writes provenance/<run_id>.json for every finished run (UI, sensors, "
    "schedules) into the artifacts folder.",
)
def run_provenance_sensor(
    context: dg.SensorEvaluationContext, platform: PlatformResource
) -> dg.SkipReason:
    since = float(context.cursor) if context.cursor else 0.0
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=list(FINISHED),
            updated_after=dt.datetime.fromtimestamp(since, tz=dt.timezone.utc),
        ),
        limit=100,
        ascending=True,
    )
    written = 0
    for record in records:
        write_run_provenance(context.instance, record.dagster_run.run_id, platform.store)
        written += 1
        since = max(since, record.update_timestamp.timestamp())
    context.update_cursor(str(since))
    return dg.SkipReason(f"wrote provenance for {written} finished runs")

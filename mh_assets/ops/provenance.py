"""``provenance/<run_id>.json``: what one run made, from what, with which code.

Written for every finished run -- by ``mh-assets run`` after each stage and, for runs
launched from the UI, the sensors or the schedule, by the ``run_provenance`` sensor
(:mod:`mh_assets.defs.sensors`) --
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

from mh_assets.core import layout
from mh_assets.core.environment import git_commit, library_versions
from mh_assets.core.storage import ArtifactStore
from mh_assets.settings import Settings

# The provenance every materialization carries, as ONE metadata entry ``provenance``
# (mh_assets.defs.metadata writes it; run records and lineage read it back through
# :func:`recorded`). Its fields are the names below; materializations written before it
# was one entry carry them as separate ``provenance/<field>`` entries, still read.
PROVENANCE = "provenance"
PROVENANCE_PREFIX = "provenance/"
PRESET, GIT_COMMIT, LIBRARIES, SETTINGS, RUN_ID, INPUT_DATA_VERSIONS = (
    "preset", "git_commit", "libraries", "settings", "run_id", "input_data_versions")
FIELDS = (PRESET, GIT_COMMIT, RUN_ID, INPUT_DATA_VERSIONS, SETTINGS, LIBRARIES)
# Metadata worth carrying into provenance and lineage (exact keys; also any "*sha256").
KEY_METADATA = (
    "file_name", "size_bytes", "rows", "dagster/row_count", "artifacts", "path", "figures",
    "source", "edition", "extract_files", "duplicates_dropped",
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


def recorded(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance fields a materialization recorded (either layout), as plain values."""
    single = _plain(metadata.get(PROVENANCE))
    if isinstance(single, dict):
        return single
    return {name: _plain(metadata[PROVENANCE_PREFIX + name]) for name in FIELDS
            if PROVENANCE_PREFIX + name in metadata}


def key_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The allowlisted entries of a materialization's metadata, as plain values, and the
    input data versions it recorded."""
    out = {
        key: _plain(value)
        for key, value in sorted(metadata.items())
        if key in KEY_METADATA or key.endswith("sha256")
    }
    inputs = recorded(metadata).get(INPUT_DATA_VERSIONS)
    if inputs:
        out[INPUT_DATA_VERSIONS] = inputs
    return out


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


def run_provenance(
    instance: dg.DagsterInstance, run_id: str, settings: Settings
) -> dict[str, Any]:
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
            for key, value in recorded(materialization.metadata).items():
                context.setdefault(key, value)
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
        "preset": context.get(PRESET, settings.preset),
        "settings": context.get(SETTINGS, settings.as_metadata()),
        "git_commit": context.get(GIT_COMMIT, git_commit()),
        "libraries": context.get(LIBRARIES, library_versions()),
    }


def write_run_provenance(
    instance: dg.DagsterInstance, run_id: str, store: ArtifactStore, settings: Settings
) -> Path:
    """Write ``provenance/<run_id>.json`` under the artifacts root; returns its path."""
    record = run_provenance(instance, run_id, settings)
    return store.write_text(layout.provenance(run_id),
                            json.dumps(record, indent=2, sort_keys=True) + "\n")

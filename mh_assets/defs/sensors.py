"""The code location's sensors: a new extract in the landing zone, and finished runs.

* ``new_extract_sensor`` (running by default) watches ``MH_EXTRACTS_DIR`` through
  :mod:`mh_assets.ops.landing` and requests one run of the roots
  (``registry_extract`` pinned to the new file, plus ``icd_descriptors``) per new
  content hash; ``refresh_automation`` (:mod:`.automation`) refreshes the rest.
  When several new extracts complete on the same tick, only the newest is ingested
  (the graph holds one extract), the others are marked handled.
* ``run_provenance`` writes ``provenance/<run_id>.json`` for every finished run
  launched from the UI, a sensor or the schedule (``mh-assets run`` writes its own).

Both are built from the run's settings (:func:`new_extract_sensor`,
:func:`run_provenance_sensor`), which set how often they look.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from mh_assets.defs.resources import PlatformParam
from mh_assets.ops.landing import (
    SENSOR_TARGETS,
    LandingCursor,
    ingested_sha256,
    scan_landing_zone,
)
from mh_assets.ops.provenance import FINISHED, write_run_provenance
from mh_assets.settings import Settings

TRIGGER_TAG = "mh-assets/trigger"
SHA_TAG = "mh-assets/extract_sha256"
FILE_TAG = "mh-assets/extract"


def extract_run_request(path: Path, sha256: str) -> dg.RunRequest:
    """The sensor's run: both roots, ``registry_extract`` pinned to this file."""
    return dg.RunRequest(
        run_key=f"extract-{sha256}",
        asset_selection=list(SENSOR_TARGETS),
        run_config={"ops": {"registry_extract": {"config": {"extract": str(path)}}}},
        tags={TRIGGER_TAG: "new-extract", SHA_TAG: sha256, FILE_TAG: path.name},
    )


def _new_extract(
    context: dg.SensorEvaluationContext, platform: PlatformParam
) -> dg.SensorResult:
    cursor = LandingCursor.parse(context.cursor)
    scan = scan_landing_zone(
        platform.settings.extracts_dir, cursor, ingested_sha256(context.instance)
    )
    requests: list[dg.RunRequest] = []
    if scan.new:
        (path, digest), superseded = scan.new[0], scan.new[1:]
        requests.append(extract_run_request(path, digest))
        scan.cursor.handled.add(digest)
        context.log.info(f"New extract {path.name} (sha256 {digest[:12]}...): refreshing")
        for older, older_digest in superseded:  # the graph holds one extract: the newest
            scan.cursor.handled.add(older_digest)
            context.log.info(f"Skipping {older.name}: a newer extract arrived with it")
    if scan.waiting:
        context.log.info("Waiting for a stable size and time: " + ", ".join(scan.waiting))
    skip = None if requests else dg.SkipReason(
        "no new complete extract" + (f"; waiting on {len(scan.waiting)}" if scan.waiting else "")
    )
    return dg.SensorResult(run_requests=requests, skip_reason=skip, cursor=scan.cursor.serialize())


def new_extract_sensor(settings: Settings) -> dg.SensorDefinition:
    """Refresh on a new, complete extract; looks every ``MH_SENSOR_INTERVAL_SECONDS``."""
    return dg.SensorDefinition(
        name="new_extract_sensor",
        evaluation_fn=_new_extract,
        target=dg.AssetSelection.assets(*SENSOR_TARGETS),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        description="Refreshes the graph when a new, complete extract lands in "
        "MH_EXTRACTS_DIR (identified by content sha256: the same content never triggers "
        "twice).",
    )


def _run_provenance(
    context: dg.SensorEvaluationContext, platform: PlatformParam
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
        write_run_provenance(context.instance, record.dagster_run.run_id, platform.store,
                             platform.settings)
        written += 1
        since = max(since, record.update_timestamp.timestamp())
    context.update_cursor(str(since))
    return dg.SkipReason(f"wrote provenance for {written} finished runs")


def run_provenance_sensor(settings: Settings) -> dg.SensorDefinition:
    """Provenance files for runs the command line did not launch."""
    return dg.SensorDefinition(
        name="run_provenance",
        evaluation_fn=_run_provenance,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        description="Writes `provenance/<run_id>.json` for every finished run (UI, sensors, "
        "schedules) into the artifacts folder.",
    )

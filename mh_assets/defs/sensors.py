"""The code location's sensors: a new extract in the landing zone, and finished runs.

* ``new_extract_sensor`` (running by default) watches ``MH_EXTRACTS_DIR`` through
  :mod:`mh_assets.ops.landing` and requests one run of the roots
  (``registry_extract`` plus ``icd_descriptors``); ``refresh_automation``
  (:mod:`.automation`) refreshes the rest. With ``MH_EXTRACT_MODE=all`` (default) the
  run is pinned to the set of complete files and keyed by the set's digest: a file
  added gives one run over all of them, the same set never a second, and nothing is
  requested while a file is still arriving. With ``newest`` it is pinned to the new
  file, one run per new content hash; when several new extracts complete on the same
  tick, only the newest is ingested, the others are marked handled.
* ``run_provenance`` writes ``provenance/<run_id>.json`` for every finished run
  launched from the UI, a sensor or the schedule (``mh-assets run`` writes its own).

Both are built from the run's settings (:func:`new_extract_sensor`,
:func:`run_provenance_sensor`), which set how often they look.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from mh_assets.core.registry import combined_label
from mh_assets.defs.resources import PlatformParam
from mh_assets.ops.landing import (
    SENSOR_TARGETS,
    LandingCursor,
    LandingSet,
    complete_set,
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


def extracts_run_request(landing: LandingSet) -> dg.RunRequest:
    """The sensor's run in ``all`` mode: both roots, ``registry_extract`` pinned to the
    set of complete files, keyed by the set's digest."""
    return dg.RunRequest(
        run_key=f"extract-{landing.digest}",
        asset_selection=list(SENSOR_TARGETS),
        run_config={"ops": {"registry_extract": {"config": {
            "extracts": [str(p) for p in landing.paths]}}}},
        tags={TRIGGER_TAG: "new-extract", SHA_TAG: landing.digest,
              FILE_TAG: combined_label([p.name for p in landing.paths])},
    )


def _new_extract(
    context: dg.SensorEvaluationContext, platform: PlatformParam
) -> dg.SensorResult:
    cursor = LandingCursor.parse(context.cursor)
    ingested = ingested_sha256(context.instance)
    scan = scan_landing_zone(platform.settings.extracts_dir, cursor, ingested)
    requests: list[dg.RunRequest] = []
    if platform.settings.extract_mode == "all":
        landing = complete_set(scan)
        if landing is not None and landing.digest not in scan.cursor.handled | ingested:
            requests.append(extracts_run_request(landing))
            scan.cursor.handled.add(landing.digest)
            context.log.info(f"The landing zone holds a new set of {len(landing.paths)} "
                             f"extract(s) (sha256 {landing.digest[:12]}...): refreshing")
    elif scan.new:
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
        "MH_EXTRACTS_DIR. MH_EXTRACT_MODE=all: one run over every complete file, keyed by "
        "the digest of the set (the same set never triggers twice); newest: one run per "
        "new file content sha256.",
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

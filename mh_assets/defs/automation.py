"""Refresh on new extracts, without a click, once.

The design, in three parts:

1. **The new-extract sensor** (``new_extract_sensor``, running by default) watches
   ``MH_EXTRACTS_DIR``. It looks at the same files ``registry_extract`` would
   (``registry.find_extracts``: ``.csv``/``.txt``, never hidden names, ``*.part``,
   ``*.tmp``, ``*.crdownload`` or the synthetic generator's ``*.truth.parquet``), and
   counts a file only when its size and modification time are the same as on the
   previous tick -- a file still being copied waits a tick. A complete file is
   identified by the sha256 of its content: the hash is the run key and goes into
   the cursor (stored in the Dagster instance, so it survives restarts), hence the
   same content never triggers twice, renamed or copied. Content that is already the
   data version of the latest ``registry_extract`` (e.g. after ``make demo``) does not
   trigger either. The sensor requests one run of ``registry_extract`` pinned to that
   file through run config (``ops.registry_extract.config.extract``), together with
   ``icd_descriptors`` so a fresh instance has every root. When several new
   extracts complete on the same tick, only the newest is ingested (the graph holds one
   extract), the others are marked handled.

2. **Every other asset carries an automation condition** (:func:`refresh_condition`)
   and the automation sensor ``refresh_automation`` (running by default) evaluates
   them. The condition is ``AutomationCondition.eager()`` -- run when a dependency
   updated, not while one is missing or in progress -- plus two guards that make a
   refresh run each asset exactly once:

   * ``all_deps_blocking_checks_passed``: a failed blocking check (e.g. descriptor
     coverage) stops the refresh there.
   * "no ancestor of another partitioning is still to refresh, refreshing or failed".
     Dagster plans an asset into the run of a parent only when both share a
     partitioning; across a partitioning boundary (``cohort`` -> ``descriptor_corpus
     [sex]`` -> ... -> ``cluster_profiles[sex]`` -> ``cluster_table``) plain eager would
     start an unpartitioned report while the per-sex runs have not even been
     requested, and run it again afterwards. With the guard, the per-sex chain runs
     as one run per sex after ``cohort``, and the assets that combine both sexes run
     once, after both sexes finished. An ancestor whose last run failed holds its
     descendants back until someone fixes and re-materializes it.

   A refresh is thus: the sensor's run (extract, descriptors) -> the cohort-level
   assets -> one run per sex (both at once, GPU steps queued on the "gpu" pool) -> one
   run for the assets that combine both sexes.

3. **A daily schedule** (``daily_checks``, ``MH_CHECK_CRON``, default 06:00) runs the
   checks that can run on their own: ``extract_schema`` and ``refresh_complete``, which
   fails when, ``MH_REFRESH_GRACE_HOURS`` (default 24) after the extract was ingested,
   some asset downstream of it is still older than it (a stalled or failed refresh).
"""

import functools
import json
import operator
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from mh_assets.core.artifacts import sha256_file
from mh_assets.core.registry import find_extracts
from mh_assets.defs.resources import PlatformResource
from mh_assets.settings import Settings

EXTRACT_KEY = dg.AssetKey("registry_extract")
DESCRIPTORS_KEY = dg.AssetKey("icd_descriptors")
# Roots refreshed by the sensor's run; everything else follows by automation.
SENSOR_TARGETS = (EXTRACT_KEY, DESCRIPTORS_KEY)
TRIGGER_TAG = "mh-assets/trigger"
SHA_TAG = "mh-assets/extract_sha256"
FILE_TAG = "mh-assets/extract"

_SETTINGS = Settings.from_env()


# --------------------------------------------------------------------------- cursor


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    sha256: str | None = None  # set once the file was seen unchanged on two ticks


@dataclass
class LandingCursor:
    """What the sensor remembers between ticks (serialised into the instance)."""

    files: dict[str, FileState] = field(default_factory=dict)
    handled: set[str] = field(default_factory=set)  # content hashes requested or skipped

    def serialize(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "files": {n: [s.size, s.mtime_ns, s.sha256] for n, s in sorted(self.files.items())},
                "handled": sorted(self.handled),
            },
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            files={n: FileState(int(a), int(b), c) for n, (a, b, c) in data["files"].items()},
            handled=set(data["handled"]),
        )


@dataclass(frozen=True)
class ScanResult:
    cursor: LandingCursor
    new: list[tuple[Path, str]]  # complete, never-handled extracts, newest first
    waiting: list[str]  # names seen for the first time or still changing


def scan_landing_zone(
    directory: Path, cursor: LandingCursor, ingested: Iterable[str] = ()
) -> ScanResult:
    """One tick over the landing zone: which complete files carry content not yet handled.

    A file is hashed once, on the first tick that finds its size and modification time
    unchanged; later ticks reuse the hash from the cursor while the file stays the same.
    """
    known = set(cursor.handled) | set(ingested)
    files: dict[str, FileState] = {}
    new: list[tuple[Path, str]] = []
    waiting: list[str] = []
    for path in find_extracts(directory):  # newest first
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed between listing and stat
            continue
        previous = cursor.files.get(path.name)
        if previous is None or (previous.size, previous.mtime_ns) != (stat.st_size,
                                                                       stat.st_mtime_ns):
            files[path.name] = FileState(stat.st_size, stat.st_mtime_ns)
            waiting.append(path.name)
            continue
        digest = previous.sha256 or sha256_file(path)
        files[path.name] = FileState(stat.st_size, stat.st_mtime_ns, digest)
        if digest not in known and all(digest != sha for _, sha in new):
            new.append((path, digest))
    return ScanResult(LandingCursor(files, set(cursor.handled)), new, waiting)


def ingested_sha256(instance: dg.DagsterInstance) -> set[str]:
    """The content hash of the extract the latest ``registry_extract`` was built from."""
    record = instance.get_latest_materialization_event(EXTRACT_KEY)
    if record is None or record.asset_materialization is None:
        return set()
    version = (record.asset_materialization.tags or {}).get("dagster/data_version")
    return {version} if version else set()


def extract_run_request(path: Path, sha256: str) -> dg.RunRequest:
    """The sensor's run: both roots, ``registry_extract`` pinned to this file."""
    return dg.RunRequest(
        run_key=f"extract-{sha256}",
        asset_selection=list(SENSOR_TARGETS),
        run_config={"ops": {"registry_extract": {"config": {"extract": str(path)}}}},
        tags={TRIGGER_TAG: "new-extract", SHA_TAG: sha256, FILE_TAG: path.name},
    )


@dg.sensor(
    name="new_extract_sensor",
    target=dg.AssetSelection.assets(*SENSOR_TARGETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=_SETTINGS.sensor_interval_seconds,
    description="Refreshes the graph when a new, complete extract lands in MH_EXTRACTS_DIR "
    "(identified by content sha256: the same content never triggers twice).",
)
def new_extract_sensor(
    context: dg.SensorEvaluationContext, platform: PlatformResource
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


# --------------------------------------------------------------------- automation


def _settling() -> dg.AutomationCondition:
    """True for an asset that is still to refresh, refreshing, or whose last run failed."""
    pending = (
        dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
    ).since_last_handled()
    return (
        pending | dg.AutomationCondition.in_progress() | dg.AutomationCondition.execution_failed()
    ).with_label("refreshing_or_failed")


def refresh_condition(guarded: Sequence[dg.AssetKey] = ()) -> dg.AutomationCondition:
    """Eager, blocked by failed blocking checks and by settling ancestors in ``guarded``."""
    condition = (
        dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    )
    if guarded:
        settling = functools.reduce(
            operator.or_,
            [dg.AutomationCondition.asset_matches(key, _settling()) for key in sorted(guarded)],
        )
        condition = condition & ~settling.with_label("upstream_of_other_partitioning_settled")
    return condition.with_label("refresh")


def _ancestors(parents: dict[dg.AssetKey, set[dg.AssetKey]], key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    frontier = list(parents.get(key, ()))
    while frontier:
        parent = frontier.pop()
        if parent not in seen:
            seen.add(parent)
            frontier.extend(parents.get(parent, ()))
    return seen


def refresh_guards(assets: Sequence[dg.AssetsDefinition]) -> dict[dg.AssetKey, list[dg.AssetKey]]:
    """For each automated asset, the ancestors its condition waits on.

    Those are the ancestors with a different partitioning: the ones Dagster cannot plan
    into the same run, so ``will_be_requested`` does not order them.
    """
    specs = {spec.key: spec for a in assets for spec in a.specs}
    parents = {key: {dep.asset_key for dep in spec.deps} for key, spec in specs.items()}
    return {
        key: sorted(a for a in _ancestors(parents, key)
                    if a in specs and specs[a].partitions_def != spec.partitions_def)
        for key, spec in specs.items()
        if key not in SENSOR_TARGETS
    }


def with_refresh_conditions(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Give every asset except the sensor's roots its :func:`refresh_condition`."""
    guards = refresh_guards(assets)

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key not in guards:
            return spec
        return spec.replace_attributes(automation_condition=refresh_condition(guards[spec.key]))

    return [a.map_asset_specs(apply) for a in assets]


refresh_automation = dg.AutomationConditionSensorDefinition(
    "refresh_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=_SETTINGS.sensor_interval_seconds,
    description="Evaluates the assets' refresh conditions: after the new-extract sensor's "
    "run, refreshes every downstream asset for both sexes, each once.",
)


# ------------------------------------------------------------------ daily checks


def stale_descendants(
    instance: dg.DagsterInstance, graph, root: dg.AssetKey = EXTRACT_KEY
) -> tuple[float | None, list[str]]:
    """Asset partitions downstream of ``root`` last materialized before ``root`` was.

    Returns the root's latest materialization time and the stale (or never
    materialized) ``asset[partition]`` names, sorted.
    """
    record = instance.get_latest_materialization_event(root)
    if record is None:
        return None, []
    since = record.timestamp
    descendants: set[dg.AssetKey] = set()
    frontier = list(graph.get(root).child_keys)
    while frontier:
        key = frontier.pop()
        if key not in descendants:
            descendants.add(key)
            frontier.extend(graph.get(key).child_keys)
    stale = []
    for key in sorted(descendants):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        partitions = node.partitions_def.get_partition_keys() if node.partitions_def else [None]
        for partition in partitions:
            latest = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=key, asset_partitions=[partition] if partition else None
                ),
                limit=1,
            ).records
            if not latest or latest[0].timestamp < since:
                stale.append(key.to_user_string() + (f"[{partition}]" if partition else ""))
    return since, stale


def _whole_graph(context: dg.AssetCheckExecutionContext):
    """The code location's asset graph (a run's own job may hold only a selection)."""
    try:
        return context.repository_def.asset_graph  # runs launched from the code location
    except Exception:  # in-process runs (`mh-assets run`, tests) carry no repository
        from mh_assets.definitions import defs

        return defs.resolve_asset_graph()


@dg.asset_check(
    asset=EXTRACT_KEY,
    name="refresh_complete",
    description="Every asset downstream of the extract was materialized after it, or the "
    "extract is younger than MH_REFRESH_GRACE_HOURS (a refresh still running). Fails when a "
    "refresh stalled or failed; the daily_checks schedule re-runs it.",
)
def refresh_complete(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    settings = Settings.from_env()
    since, stale = stale_descendants(context.instance, _whole_graph(context))
    hours = (time.time() - since) / 3600 if since is not None else 0.0
    late = bool(stale) and hours > settings.refresh_grace_hours
    if not stale:
        description = None
    elif late:
        description = f"{len(stale)} asset partitions are older than the extract"
    else:
        description = f"refresh in progress: {len(stale)} asset partitions still to update"
    return dg.AssetCheckResult(
        passed=not late,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "stale": dg.MetadataValue.json(stale),
            "stale_count": len(stale),
            "hours_since_extract": round(hours, 2),
            "grace_hours": settings.refresh_grace_hours,
        },
        description=description,
    )


def daily_checks_schedule(checks: Sequence[dg.AssetChecksDefinition]) -> dg.ScheduleDefinition:
    """The schedule that re-runs the separately executable checks (``MH_CHECK_CRON``)."""
    return dg.ScheduleDefinition(
        name="daily_checks",
        cron_schedule=_SETTINGS.check_cron,
        target=dg.AssetSelection.checks(*checks),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Re-runs extract_schema and refresh_complete so a stalled refresh is "
        "visible on the asset page and in the checks list.",
    )

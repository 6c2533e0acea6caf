"""The daily checks: is the last refresh complete, and is the extract still well formed?

``daily_checks`` (``MH_CHECK_CRON``, default 06:00 UTC) runs the checks that can run on
their own: ``extract_schema`` and ``refresh_complete``, which fails when,
``MH_REFRESH_GRACE_HOURS`` (default 24) after the extract was ingested, some asset
downstream of it is still older than it (a stalled or failed refresh).
"""

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:  # what define_asset_job returns (not exported by name)
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

from mh_assets.ops.graph import descendants, latest_materialization, partition_keys
from mh_assets.ops.landing import EXTRACT_KEY
from mh_assets.settings import Settings


def stale_descendants(
    instance: dg.DagsterInstance, graph, root: dg.AssetKey = EXTRACT_KEY
) -> tuple[float | None, list[str]]:
    """Asset partitions downstream of ``root`` last materialized before ``root`` was.

    Returns the root's latest materialization time and the stale (or never
    materialized) ``asset[partition]`` names, sorted.
    """
    record = latest_materialization(instance, root)
    if record is None:
        return None, []
    since = record.timestamp
    stale = []
    for key in sorted(descendants(graph, root)):
        if not graph.get(key).is_materializable:
            continue
        for partition in partition_keys(graph, key):
            latest = latest_materialization(instance, key, partition)
            if latest is None or latest.timestamp < since:
                stale.append(key.to_user_string() + (f"[{partition}]" if partition else ""))
    return since, stale


def refresh_complete(settings: Settings, graph: Any) -> dg.AssetChecksDefinition:
    """The check, over the code location's whole asset graph (a run's own job may hold
    only a selection of it)."""

    @dg.asset_check(
        asset=EXTRACT_KEY,
        name="refresh_complete",
        description="Every asset downstream of the extract was materialized after it, or the "
        "extract is younger than MH_REFRESH_GRACE_HOURS (a refresh still running). Fails when a "
        "refresh stalled or failed; the daily_checks schedule re-runs it.",
    )
    def refresh_complete(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        since, stale = stale_descendants(context.instance, graph)
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

    return refresh_complete


def daily_checks_job(checks: Sequence[dg.AssetChecksDefinition]
                     ) -> "UnresolvedAssetJobDefinition":
    """The checks that run on their own, as a named job (the schedule's readable target)."""
    return dg.define_asset_job(
        "daily_checks_job", selection=dg.AssetSelection.checks(*checks),
        description="extract_schema and refresh_complete, without materializing anything.")


def daily_checks_schedule(
    settings: Settings, job: "UnresolvedAssetJobDefinition"
) -> dg.ScheduleDefinition:
    """The schedule that re-runs the separately executable checks (``MH_CHECK_CRON``)."""
    return dg.ScheduleDefinition(
        name="daily_checks",
        cron_schedule=settings.check_cron,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Re-runs extract_schema and refresh_complete so a stalled refresh is "
        "visible on the asset page and in the checks list.",
    )

"""Refresh on new extracts, without a click, once.

The design, in three parts:

1. **The new-extract sensor** (``new_extract_sensor`` in :mod:`.sensors`, running by
   default) watches ``MH_EXTRACTS_DIR``. It looks at the same files ``registry_extract`` would
   (``registry.find_extracts``: ``.csv``/``.txt``, never hidden names, ``*.part``,
   ``*.tmp``, ``*.crdownload`` or the synthetic generator's ``*.truth.parquet``), and
   counts a file only when its size and modification time are the same as on the
   previous tick -- a file still being copied waits a tick. A complete file is
   identified by the sha256 of its content: the hash is the run key and goes into
   the cursor (stored in the Dagster instance, so it survives restarts), hence in
   ``newest`` mode the same content never triggers twice, renamed or copied. Content
   that is already the data version of the latest ``registry_extract`` (e.g. after
   ``make demo``) does not trigger either. With ``MH_EXTRACT_MODE=all`` (the default)
   the unit is the *set* of complete files: its digest (sha256 of the sorted
   name/sha256 pairs; one file's own sha256) is the run key and the cursor entry,
   nothing is requested while any file is still arriving, and the run pins
   ``registry_extract`` to the whole set (``ops.registry_extract.config.extracts``), so
   adding a year's delivery refreshes once over all of them. With ``newest`` the sensor
   requests one run of ``registry_extract`` pinned to the new file
   (``ops.registry_extract.config.extract``); when several new extracts complete on the
   same tick, only the newest is ingested, the others are marked handled. Either run
   includes ``icd_descriptors`` so a fresh instance has every root.

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

3. **A daily schedule** (``daily_checks`` in :mod:`.schedules`, ``MH_CHECK_CRON``,
   default 06:00) runs the checks that can run on their own: ``extract_schema`` and
   ``refresh_complete``, which fails when, ``MH_REFRESH_GRACE_HOURS`` (default 24) after
   the extract was ingested, some asset downstream of it is still older than it (a
   stalled or failed refresh).
"""

import functools
import operator
from collections.abc import Sequence

import dagster as dg

from mh_assets.ops.graph import ancestors
from mh_assets.ops.landing import SENSOR_TARGETS
from mh_assets.settings import Settings


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


def refresh_guards(assets: Sequence[dg.AssetsDefinition]) -> dict[dg.AssetKey, list[dg.AssetKey]]:
    """For each automated asset, the ancestors its condition waits on.

    Those are the ancestors with a different partitioning: the ones Dagster cannot plan
    into the same run, so ``will_be_requested`` does not order them.
    """
    specs = {spec.key: spec for a in assets for spec in a.specs}
    return {
        key: sorted(a for a in ancestors(assets, key)
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


def refresh_automation(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates every asset's refresh condition."""
    return dg.AutomationConditionSensorDefinition(
        "refresh_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        description="Evaluates the assets' refresh conditions: after the new-extract sensor's "
        "run, refreshes every downstream asset for both sexes, each once.",
    )

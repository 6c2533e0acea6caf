"""The code location: one ``Definitions`` object, built from one ``Settings`` object.

``dagster dev -w workspace.yaml``, ``dg check defs`` / ``dg dev`` and the UI's run
workers load :func:`defs`, which reads the environment once, when Dagster loads the
code location (never at import); ``mh-assets run`` and the tests call
:func:`build_defs` with the settings they hold.
"""

from __future__ import annotations

import dagster as dg

from mh_assets.defs import (
    automation,
    cluster_outputs,
    cluster_profiles,
    clusters,
    cohort,
    cohort_tables,
    corpus,
    evaluation,
    ingest,
    report,
    schedules,
    sensors,
    training,
)
from mh_assets.defs.executor import build_executor
from mh_assets.defs.resources import Platform
from mh_assets.ops.stages import stage_jobs
from mh_assets.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    """Every asset, check, sensor, schedule and the executor, for these settings."""
    # every asset but the sensor's roots refreshes by automation (see defs/automation.py)
    assets = automation.with_refresh_conditions([
        ingest.registry_extract,
        cohort.cohort_selection,
        corpus.icd_descriptors,
        corpus.descriptor_corpus,
        *training.training_assets(settings),
        cohort_tables.sud_by_sex_table,
        cohort_tables.cohort_descriptives,
        clusters.k_selection,
        clusters.cluster_assignments,
        clusters.cluster_stability,
        cluster_profiles.cluster_profiles,
        cluster_profiles.baseline_clusters,
        evaluation.representation_evaluation,
        cluster_outputs.cluster_table,
        cluster_outputs.cluster_pairs,
        cluster_outputs.cluster_maps,
        report.study_report,
    ])
    resources = {"platform": Platform(settings)}
    # refresh_complete looks at the whole graph, whatever selection a run holds
    graph = dg.Definitions(assets=assets, resources=resources).resolve_asset_graph()
    refresh_complete = schedules.refresh_complete(settings, graph)
    checks_job = schedules.daily_checks_job([ingest.extract_schema, refresh_complete])
    return dg.Definitions(
        assets=assets,
        asset_checks=[ingest.extract_schema, refresh_complete],
        jobs=[*stage_jobs(graph), checks_job],
        sensors=[
            sensors.new_extract_sensor(settings),
            automation.refresh_automation(settings),
            sensors.run_provenance_sensor(settings),
        ],
        schedules=[schedules.daily_checks_schedule(settings, checks_job)],
        resources=resources,
        executor=build_executor(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location as Dagster loads it: settings from the environment."""
    return build_defs(Settings.from_env())

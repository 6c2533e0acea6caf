"""The one ``Definitions`` object of the code location (``dagster dev -w workspace.yaml``)."""

from __future__ import annotations

import dagster as dg

from mh_assets.defs import (
    cluster_outputs,
    clusters,
    cohort,
    corpus,
    ingest,
    report,
    tables,
    training,
)
from mh_assets.defs.automation import (
    daily_checks_schedule,
    new_extract_sensor,
    refresh_automation,
    refresh_complete,
    with_refresh_conditions,
)
from mh_assets.defs.executor import build_executor
from mh_assets.defs.run_provenance import run_provenance_sensor
from mh_assets.defs.resources import PlatformResource
from mh_assets.settings import Settings

settings = Settings.from_env()

defs = dg.Definitions(
    # every asset but the sensor's roots refreshes by automation (see defs/automation.py)
    assets=with_refresh_conditions([
        ingest.registry_extract,
        cohort.cohort_selection,
        corpus.icd_descriptors,
        corpus.descriptor_corpus,
        training.mlm_checkpoint,
        training.contrastive_checkpoint,
        training.patient_embeddings,
        tables.sud_by_sex_table,
        tables.cohort_descriptives,
        clusters.k_selection,
        clusters.cluster_assignments,
        clusters.cluster_stability,
        clusters.cluster_profiles,
        clusters.baseline_clusters,
        cluster_outputs.cluster_table,
        cluster_outputs.cluster_pairs,
        cluster_outputs.cluster_maps,
        report.study_report,
    ]),
    asset_checks=[ingest.extract_schema, refresh_complete],
    sensors=[new_extract_sensor, refresh_automation, run_provenance_sensor],
    schedules=[daily_checks_schedule([ingest.extract_schema, refresh_complete])],
    resources={"platform": PlatformResource()},
    executor=build_executor(settings),
)

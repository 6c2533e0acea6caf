"""The one ``Definitions`` object of the code location (``dagster dev -w workspace.yaml``)."""

from __future__ import annotations

import dagster as dg

from mh_assets.defs import cohort, corpus, ingest, tables, training
from mh_assets.defs.executor import build_executor
from mh_assets.defs.resources import PlatformResource
from mh_assets.settings import Settings

settings = Settings.from_env()

defs = dg.Definitions(
    assets=[
        ingest.registry_extract,
        cohort.cohort_selection,
        corpus.icd_descriptors,
        corpus.descriptor_corpus,
        training.mlm_checkpoint,
        training.contrastive_checkpoint,
        training.patient_embeddings,
        tables.sud_by_sex_table,
        tables.cohort_descriptives,
    ],
    asset_checks=[ingest.extract_schema],
    resources={"platform": PlatformResource()},
    executor=build_executor(settings),
)

"""Which representation earns its keep: held-out outcomes and masked diagnoses, per sex.

``representation_evaluation[sex]`` scores every representation -- the run's, the
descriptor mean, the two baselines and an n_codes-only reference -- by 5-fold
cross-validated logistic regression on outcomes no representation saw and on
diagnoses masked out of the representation, then tabulates representations x criteria
(with the stability of the baselines table and the clusterability test's verdicts) and
says in one sentence which one to use. The science is in
:mod:`mh_assets.core.evaluation`; this body loads inputs, calls it, writes aggregates.
"""

import json

import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering.io import read_embeddings
from mh_assets.defs.metadata import artifacts_metadata, combine, provenance_metadata, table_value
from mh_assets.defs.partitions import clusters_asset, skips_absent_sex
from mh_assets.defs.resources import PlatformParam
from mh_assets.defs.run_config import (
    ClusterRunConfig,
    cluster_config,
    cluster_settings_metadata,
    training_config,
)


@clusters_asset(
    deps=["descriptor_corpus", "patient_embeddings", "contrastive_checkpoint", "k_selection",
          "baseline_clusters"],
    code_version="1",
    description="Every representation (the run's, the descriptor mean, multi-hot, "
    "TF-IDF-SVD, and an n_codes-only reference) scored by 5-fold cross-validated, seeded "
    "logistic regression: AUROC with a bootstrap 95% CI for outcomes independent of the "
    "coding (stay > median, discharge not home) and derived from it (APR severity, "
    "mortality risk, cost), and for masked diagnoses (F20-F29, F32-F33, F60, self-harm) "
    "predicted from representations rebuilt without them; R^2 of n_codes from each; and "
    "the recommendation: representations x criteria, best marked, in one sentence.",
)
@skips_absent_sex
def representation_evaluation(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.evaluation import ScoringConfig, evaluate_representations, recommend
    from mh_assets.core.representations import partition_representations

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = cluster_config(settings.seed, config)
    training = training_config(settings.preset, settings.seed)
    corpus = store.read_parquet(layout.corpus(sex))
    representations = partition_representations(
        training, store.path(layout.model_dir(sex, "contrastive")), cfg, context.log.info)
    evaluation = evaluate_representations(
        corpus, representations, ScoringConfig(seed=settings.seed, threads=cfg.threads),
        context.log.info,
        features={training.representation: read_embeddings(store, sex)})  # not re-embedded
    baselines = pl.read_csv(store.path(layout.table(f"baselines_{sex}")))
    clusterability = pl.read_csv(store.path(layout.table(f"clusterability_{sex}")))
    recommendation = recommend(
        evaluation, dict(baselines.select("method", "mean_stability").iter_rows()),
        dict(clusterability.select("representation", "beats_null").iter_rows()),
        training.representation)
    scores = layout.table(f"representation_evaluation_{sex}")
    criteria = layout.table(f"representation_criteria_{sex}")
    store.write_csv(scores, evaluation.table)
    store.write_csv(criteria, recommendation.table)
    store.write_text(layout.recommendation(sex),
                     json.dumps(recommendation.as_record(), indent=2, default=str))
    context.log.info(f"{sex}: {recommendation.sentence}")
    return dg.MaterializeResult(metadata=combine(
        {"finding": dg.MetadataValue.md(recommendation.sentence),
         "comparison": table_value(evaluation.wide()),
         "criteria": table_value(recommendation.table),
         "n_codes_r2": {row[0]: round(row[1], 4) for row in evaluation.r2.iter_rows()},
         "seconds": {name: round(s, 1) for name, s in evaluation.seconds.items()},
         "dagster/row_count": evaluation.table.height},
        artifacts_metadata(scores, criteria, layout.recommendation(sex)),
        cluster_settings_metadata(cfg), provenance_metadata(context, settings),
    ))

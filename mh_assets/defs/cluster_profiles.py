"""What the clusters are: code profiles, and the same k on two simple baselines -- per sex."""


import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering.io import read_assignments, read_embeddings, read_stability
from mh_assets.core.schema import CLUSTER, PATIENT_ID
from mh_assets.defs.metadata import (
    artifacts_metadata,
    combine,
    md_table,
    provenance_metadata,
    table_metadata,
)
from mh_assets.defs.partitions import clusters_asset
from mh_assets.defs.resources import PlatformParam
from mh_assets.defs.run_config import ClusterRunConfig, cluster_config


@clusters_asset(
    deps=["cluster_assignments", "descriptor_corpus"],
    code_version="1",
    description="Per cluster: c-DF-IPF of each code (the study's definition), prevalence "
    "inside and outside, lift, top codes with descriptors, class-based TF-IDF terms "
    "(whole descriptors), and the n_codes and age distributions.",
)
def cluster_profiles(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import profile_clusters

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = cluster_config(settings.seed, config)
    labels, names = read_assignments(store, sex)
    profiles = profile_clusters(store.read_parquet(layout.corpus(sex)), labels, names, cfg)
    parts = {"codes": profiles.codes, "terms": profiles.terms, "summary": profiles.summary,
             "histogram": profiles.histogram}
    paths = [layout.profile(sex, part) for part in parts]
    for path, frame in zip(paths, parts.values(), strict=True):
        store.write_parquet(path, frame)
    top = profiles.top_codes.filter(pl.col("rank") <= 3).select(
        "cluster_label", "rank", "code_display", "descriptor", "c_df_ipf", "lift")
    return dg.MaterializeResult(
        metadata={
            "clusters": len(names),
            "top_codes": md_table(top),
            **artifacts_metadata(*paths),
            **provenance_metadata(context, settings),
        }
    )


@clusters_asset(
    deps=["cluster_assignments", "cluster_stability", "patient_embeddings", "descriptor_corpus"],
    code_version="1",
    description="The same k on two simple baselines -- multi-hot ICD-10 categories, and "
    "TF-IDF over descriptor terms reduced with TruncatedSVD -- each with K-Means; "
    "silhouette, stability and ARI against the transformer clusters side by side.",
)
def baseline_clusters(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import compare_baselines

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = cluster_config(settings.seed, config)
    labels, names = read_assignments(store, sex)
    corpus = store.read_parquet(layout.corpus(sex))
    stability = read_stability(store, sex, cfg.stability_warn)
    baselines = compare_baselines(read_embeddings(store, sex), corpus, labels, names, cfg,
                                  stability)
    stem = layout.table_stem(f"baselines_{sex}")
    store.write_csv(f"{stem}.csv", baselines.table)
    for method, method_labels in baselines.labels.items():
        store.write_parquet(
            layout.baseline_labels(sex, method),
            pl.DataFrame({PATIENT_ID: corpus.get_column(PATIENT_ID),
                          CLUSTER: pl.Series(method_labels, dtype=pl.Int32)}),
        )
    return dg.MaterializeResult(metadata=combine(
        baselines.as_metadata(), table_metadata(baselines.table, stem, store),
        provenance_metadata(context, settings),
    ))

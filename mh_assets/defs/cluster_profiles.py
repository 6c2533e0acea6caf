"""What the clusters are: code profiles, and the baselines at the run's k and at their own."""


import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering.io import read_assignments, read_embeddings, read_stability
from mh_assets.core.modelling.config import DESCRIPTOR_MEAN
from mh_assets.core.schema import CLUSTER, PATIENT_ID
from mh_assets.defs.metadata import (
    artifacts_metadata,
    combine,
    md_table,
    provenance_metadata,
    table_metadata,
    table_value,
)
from mh_assets.defs.partitions import clusters_asset, skips_absent_sex
from mh_assets.defs.resources import PlatformParam
from mh_assets.defs.run_config import (
    ClusterRunConfig,
    cluster_config,
    cluster_settings_metadata,
    training_config,
)


@clusters_asset(
    deps=["cluster_assignments", "descriptor_corpus"],
    code_version="2",
    description="Per cluster: c-DF-IPF of each code (the study's definition), prevalence "
    "inside and outside, lift, top codes with descriptors, class-based TF-IDF terms "
    "(whole descriptors), and the n_codes and age distributions; and a descriptive name "
    "from its most distinctive codes (\"F3 · conduct disorder + cannabis abuse\").",
)
@skips_absent_sex
def cluster_profiles(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    import numpy as np

    from mh_assets.core.clustering import profile_clusters
    from mh_assets.core.clustering.io import write_display_names
    from mh_assets.core.clustering.naming import NamingRule, display_names
    from mh_assets.core.publish.suppression import ColumnMargin, suppress

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = cluster_config(settings.seed, config)
    labels, names = read_assignments(store, sex)
    profiles = profile_clusters(store.read_parquet(layout.corpus(sex)), labels, names, cfg)
    parts = {"codes": profiles.codes, "terms": profiles.terms, "summary": profiles.summary,
             "histogram": profiles.histogram}
    paths = [layout.profile(sex, part) for part in parts]
    for path, frame in zip(paths, parts.values(), strict=True):
        store.write_parquet(path, frame)
    # A name rests only on codes at least min_cell members of the cluster have.
    named = display_names(profiles.codes, names, NamingRule(min_patients=settings.min_cell))
    write_display_names(store, sex, named)
    paths.append(layout.cluster_display_names(sex))
    # Sizes add up to the partition's (published) size: a hidden one hides a second.
    sizes = suppress(
        pl.DataFrame({"label": names, "name": [named[n] for n in names],
                      "size": np.bincount(labels, minlength=len(names)).tolist()}),
        ["size"], column_margins=[ColumnMargin("size")], min_cell=settings.min_cell)
    top = profiles.top_codes.filter(pl.col("rank") <= 3).select(
        "cluster_label", "rank", "code_display", "descriptor", "c_df_ipf", "lift")
    return dg.MaterializeResult(
        metadata={
            "clusters": len(names),
            "cluster_names": md_table(sizes),
            "top_codes": md_table(top),
            **artifacts_metadata(*paths),
            **cluster_settings_metadata(cfg),
            **provenance_metadata(context, settings),
        }
    )


@clusters_asset(
    deps=["cluster_assignments", "cluster_stability", "patient_embeddings", "descriptor_corpus",
          "k_selection"],
    code_version="2",
    description="The run's k on the simple baselines -- multi-hot ICD-10 categories, TF-IDF "
    "over descriptor terms reduced with TruncatedSVD, and the descriptor mean (MiniLM, no "
    "training) -- each with K-Means; silhouette, stability and ARI against the run's "
    "clusters side by side. Then every representation at its own k (the clusterability "
    "test's): how much its clusters separate the outcomes (eta^2 of stay and cost, "
    "Cramer's V of the binary outcomes) next to eta^2(n_codes).",
)
@skips_absent_sex
def baseline_clusters(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import compare_baselines
    from mh_assets.core.clustering.baselines import baseline_features
    from mh_assets.core.evaluation.usefulness import cluster_usefulness, own_k_clusterings
    from mh_assets.core.modelling.descriptors import DescriptorEncoder

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = cluster_config(settings.seed, config)
    training = training_config(settings.preset, settings.seed)
    run = training.representation
    labels, names = read_assignments(store, sex)
    corpus = store.read_parquet(layout.corpus(sex))
    X = read_embeddings(store, sex)
    features = baseline_features(corpus, cfg)
    if run != DESCRIPTOR_MEAN:
        features[DESCRIPTOR_MEAN] = DescriptorEncoder(threads=training.torch_threads,
                                                      log=context.log.info)(corpus)
    stability = read_stability(store, sex, cfg.stability_warn)
    baselines = compare_baselines(X, corpus, labels, names, cfg, stability, run=run,
                                  features=features)
    own_k = dict(pl.read_csv(store.path(layout.table(f"clusterability_{sex}")))
                 .select("representation", "k").iter_rows())
    clusterings = own_k_clusterings({run: X, **features}, own_k, cfg)
    useful = cluster_usefulness(corpus, clusterings)
    table = baselines.table.join(useful.rename({"representation": "method"}), on="method",
                                 how="left", maintain_order="left")
    stem = layout.table_stem(f"baselines_{sex}")
    store.write_csv(f"{stem}.csv", table)
    for method, method_labels in baselines.labels.items():
        store.write_parquet(
            layout.baseline_labels(sex, method),
            pl.DataFrame({PATIENT_ID: corpus.get_column(PATIENT_ID),
                          CLUSTER: pl.Series(method_labels, dtype=pl.Int32)}),
        )
    return dg.MaterializeResult(metadata=combine(
        baselines.as_metadata(),
        {"usefulness_at_own_k": table_value(useful)},
        table_metadata(table, stem, store),
        cluster_settings_metadata(cfg), provenance_metadata(context, settings),
    ))

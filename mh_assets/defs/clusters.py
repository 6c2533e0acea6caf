"""Clusters that a methods reviewer can defend: k selection, K-Means, stability,
profiles, a confounder audit and simple baselines -- per sex.

Numpy/scikit-learn work lives in :mod:`mh_assets.core.clustering`; these bodies load
inputs, call it, write through the artifact store and report aggregates only.
"""

import json
from dataclasses import replace
from typing import Any

import dagster as dg
import numpy as np
import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.io import read_assignments, read_embeddings
from mh_assets.core.publish.suppression import ColumnMargin, mask_count, suppress
from mh_assets.core.schema import CLUSTER, PATIENT_ID
from mh_assets.defs.metadata import (
    artifacts_metadata,
    combine,
    md_table,
    png_markdown,
    provenance_metadata,
    table_metadata,
    write_csv,
)
from mh_assets.defs.partitions import sex_partitions
from mh_assets.defs.resources import PlatformParam


class ClusterRunConfig(dg.Config):
    """Run-config overrides of the clustering settings (unset = default)."""

    k: int | None = None
    min_k: int | None = None
    max_k: int | None = None
    n_bootstrap: int | None = None
    stability_resamples: int | None = None
    ami_threshold: float | None = None
    stability_warn: float | None = None

    def cluster_config(self, seed: int) -> ClusterConfig:
        overrides = {k: v for k, v in self.model_dump().items() if v is not None}
        return replace(ClusterConfig(seed=seed), **overrides)


def _clusters_asset(**kwargs: Any):
    return dg.asset(partitions_def=sex_partitions, group_name="clusters",
                    kinds={"scikitlearn"}, **kwargs)


@_clusters_asset(
    deps=["patient_embeddings"],
    code_version="1",
    description="k chosen by bootstrapped silhouette (cosine; K-Means inside every "
    "resample, as in the final fit) over k = min_k..max_k, with macro silhouette, "
    "Calinski-Harabasz and Davies-Bouldin. tables/k_selection_<sex>.csv, figures/.",
)
def k_selection(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import plots, select_k

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    selection = select_k(read_embeddings(store, sex), cfg)
    stem = layout.table_stem(f"k_selection_{sex}")
    write_csv(store, f"{stem}.csv", selection.table)
    store.write_text(layout.k_choice(sex),
                     json.dumps({"chosen_k": selection.chosen_k, "rule": selection.rule}))
    png = plots.k_selection_png(selection, sex)
    store.write_bytes(layout.figure(f"k_selection_{sex}", ".png"), png)
    store.write_text(layout.figure(f"k_selection_{sex}", ".html"),
                     plots.k_selection_html(selection, sex))
    if selection.at_edge:
        context.log.warning(
            f"{sex}: chosen k={selection.chosen_k} sits at the edge of {cfg.min_k}..{cfg.max_k}; "
            "widen the range (max_k) before trusting it"
        )
    context.log.info(f"{sex}: k={selection.chosen_k} ({selection.rule})")
    return dg.MaterializeResult(metadata=combine(
        selection.as_metadata(),
        table_metadata(selection.table, stem, store),
        {"curves": png_markdown(png, f"k selection ({sex})")},
        artifacts_metadata(layout.k_choice(sex), layout.figure(f"k_selection_{sex}", ".png"),
                           layout.figure(f"k_selection_{sex}", ".html")),
        provenance_metadata(context, settings),
    ))


@_clusters_asset(
    deps=["k_selection", "patient_embeddings", "descriptor_corpus"],
    code_version="1",
    description="K-Means (n_init 10, seeded) at the selected k; clusters numbered by size and "
    "labelled F1..Fk / M1..Mk. Carries the confounder audit (AMI and eta^2 of cluster "
    "with n_codes, admission year, length of stay).",
    check_specs=[
        dg.AssetCheckSpec(
            "confounder_audit", asset="cluster_assignments",
            description="Warns when AMI(cluster, n_codes) exceeds the setting (default 0.3): "
            "clusters that mirror how many codes a patient has (the published study: "
            "0.72 male, 0.83 female).",
        )
    ],
)
def cluster_assignments(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
):
    from mh_assets.core.clustering import assignments, confounder_audit, fit_clusters

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    chosen = json.loads(store.path(layout.k_choice(sex)).read_text())
    k = cfg.k or chosen["chosen_k"]
    corpus = store.read_parquet(layout.corpus(sex))
    fit = fit_clusters(read_embeddings(store, sex), k, sex, cfg)
    store.write_parquet(layout.assignments(sex), assignments(corpus.get_column(PATIENT_ID), fit))
    store.write_text(layout.cluster_names(sex), json.dumps(fit.names))
    audit = confounder_audit(corpus, fit.labels, cfg)
    write_csv(store, layout.table(f"confounder_audit_{sex}"), audit.table)
    context.log.info(f"{sex}: {k} clusters; AMI(cluster, n_codes) audit warn={audit.warn}")
    yield dg.MaterializeResult(
        metadata={
            **{k: v for k, v in fit.as_metadata().items() if k != "sizes"},  # unsuppressed
            "cluster_sizes": dg.MetadataValue.json({
                name: mask_count(size, settings.min_cell)
                for name, size in zip(fit.names, fit.sizes, strict=True)
            }),
            "confounder_audit": md_table(audit.table),
            **artifacts_metadata(layout.assignments(sex), layout.cluster_names(sex),
                                 layout.table(f"confounder_audit_{sex}")),
            **provenance_metadata(context, settings),
        }
    )
    yield dg.AssetCheckResult(
        check_name="confounder_audit",
        passed=not audit.warn,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=audit.as_metadata(),
        description=("Clusters follow the number of codes per patient" if audit.warn else None),
    )


@_clusters_asset(
    deps=["cluster_assignments", "patient_embeddings"],
    code_version="1",
    description="Hennig-style bootstrap stability: per cluster the mean Jaccard similarity to "
    "its best match over resamples, and how often it dissolved (<0.5) or was recovered "
    "(>=0.75). tables/stability_<sex>.csv.",
    check_specs=[
        dg.AssetCheckSpec(
            "clusters_stable", asset="cluster_stability",
            description="Warns for any cluster whose mean Jaccard is under the setting (0.6).",
        )
    ],
)
def cluster_stability(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
):
    from mh_assets.core.clustering import cluster_stability as stability_of

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    labels, names = read_assignments(store, sex)
    stability = stability_of(read_embeddings(store, sex), labels, names, cfg)
    stem = layout.table_stem(f"stability_{sex}")
    write_csv(store, layout.stability(sex), stability.table)
    with store.atomic_file(layout.stability_jaccard(sex)) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, stability.jaccard)
    published = suppress(stability.table, ["size"], column_margins=[ColumnMargin("size")],
                         min_cell=settings.min_cell)
    write_csv(store, f"{stem}.csv", published)
    yield dg.MaterializeResult(metadata=combine(
        stability.as_metadata(), table_metadata(published, stem, store),
        artifacts_metadata(layout.stability(sex), layout.stability_jaccard(sex)),
        provenance_metadata(context, settings),
    ))
    unstable = stability.table.filter(pl.col("mean_jaccard") < cfg.stability_warn)
    yield dg.AssetCheckResult(
        check_name="clusters_stable",
        passed=unstable.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"threshold": cfg.stability_warn,
                  "unstable_clusters": unstable.get_column("cluster_label").to_list()},
    )


@_clusters_asset(
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
    cfg = config.cluster_config(settings.seed)
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


@_clusters_asset(
    deps=["cluster_assignments", "cluster_stability", "patient_embeddings", "descriptor_corpus"],
    code_version="1",
    description="The same k on two simple baselines -- multi-hot ICD-10 categories, and "
    "TF-IDF over descriptor terms reduced with TruncatedSVD -- each with K-Means; "
    "silhouette, stability and ARI against the transformer clusters side by side.",
)
def baseline_clusters(
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import Stability, compare_baselines

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    labels, names = read_assignments(store, sex)
    corpus = store.read_parquet(layout.corpus(sex))
    stability = Stability(
        table=pl.read_csv(store.path(layout.stability(sex))),
        jaccard=np.load(store.path(layout.stability_jaccard(sex))),
        warn_below=cfg.stability_warn,
    )
    baselines = compare_baselines(read_embeddings(store, sex), corpus, labels, names, cfg,
                                  stability)
    stem = layout.table_stem(f"baselines_{sex}")
    write_csv(store, f"{stem}.csv", baselines.table)
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

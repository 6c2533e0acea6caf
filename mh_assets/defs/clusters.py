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

from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.schema import CLUSTER, EMBEDDING
from mh_assets.core.suppression import ColumnMargin, suppress
from mh_assets.defs.corpus import corpus_path
from mh_assets.defs.partitions import sex_partitions
from mh_assets.defs.provenance import artifacts_metadata, provenance_metadata
from mh_assets.defs.publishing import combine, png_markdown, table_metadata
from mh_assets.defs.resources import PlatformResource
from mh_assets.defs.training import embeddings_path


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


def cluster_dir(sex: str) -> str:
    return f"restricted/clusters/{sex}"


def load_embeddings(platform: PlatformResource, sex: str) -> np.ndarray:
    frame = platform.store.read_parquet(embeddings_path(sex))
    return frame.get_column(EMBEDDING).to_numpy().astype(np.float32, copy=False)


def load_assignments(platform: PlatformResource, sex: str) -> tuple[np.ndarray, list[str]]:
    """Cluster numbers (0 = largest) and the cluster names, e.g. ``["F1", "F2"]``."""
    store = platform.store
    labels = store.read_parquet(f"{cluster_dir(sex)}/assignments.parquet").get_column(CLUSTER)
    names = json.loads(store.path(f"{cluster_dir(sex)}/names.json").read_text())
    return labels.to_numpy(), names


def _write_csv(platform: PlatformResource, relative: str, frame: pl.DataFrame) -> None:
    with platform.store.atomic_file(relative) as tmp:
        frame.write_csv(tmp)


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
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import plots, select_k

    settings, sex = platform.settings, context.partition_key
    cfg = config.cluster_config(settings.seed)
    selection = select_k(load_embeddings(platform, sex), cfg)
    store = platform.store
    stem = f"tables/k_selection_{sex}"
    _write_csv(platform, f"{stem}.csv", selection.table)
    store.write_text(f"{cluster_dir(sex)}/k_selection.json",
                     json.dumps({"chosen_k": selection.chosen_k, "rule": selection.rule}))
    png = plots.k_selection_png(selection, sex)
    store.write_bytes(f"figures/k_selection_{sex}.png", png)
    store.write_text(f"figures/k_selection_{sex}.html", plots.k_selection_html(selection, sex))
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
        artifacts_metadata(f"{cluster_dir(sex)}/k_selection.json",
                           f"figures/k_selection_{sex}.png", f"figures/k_selection_{sex}.html"),
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
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformResource
):
    from mh_assets.core.clustering import assignments, confounder_audit, fit_clusters

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    chosen = json.loads(store.path(f"{cluster_dir(sex)}/k_selection.json").read_text())
    k = cfg.k or chosen["chosen_k"]
    corpus = store.read_parquet(corpus_path(sex))
    fit = fit_clusters(load_embeddings(platform, sex), k, sex, cfg)
    store.write_parquet(f"{cluster_dir(sex)}/assignments.parquet",
                        assignments(corpus.get_column("patient_id"), fit))
    store.write_text(f"{cluster_dir(sex)}/names.json", json.dumps(fit.names))
    audit = confounder_audit(corpus, fit.labels, cfg)
    _write_csv(platform, f"tables/confounder_audit_{sex}.csv", audit.table)
    context.log.info(f"{sex}: {k} clusters; AMI(cluster, n_codes) audit warn={audit.warn}")
    yield dg.MaterializeResult(
        metadata={
            **{k: v for k, v in fit.as_metadata().items() if k != "sizes"},  # unsuppressed
            "cluster_sizes": dg.MetadataValue.json(_masked_sizes(fit.names, fit.sizes,
                                                                 settings.min_cell)),
            "confounder_audit": dg.MetadataValue.md(_md(audit.table)),
            **artifacts_metadata(f"{cluster_dir(sex)}/assignments.parquet",
                                 f"{cluster_dir(sex)}/names.json",
                                 f"tables/confounder_audit_{sex}.csv"),
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
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformResource
):
    from mh_assets.core.clustering import cluster_stability as stability_of

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    labels, names = load_assignments(platform, sex)
    stability = stability_of(load_embeddings(platform, sex), labels, names, cfg)
    stem = f"tables/stability_{sex}"
    _write_csv(platform, f"{cluster_dir(sex)}/stability.csv", stability.table)
    with store.atomic_file(f"{cluster_dir(sex)}/stability_jaccard.npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, stability.jaccard)
    published = suppress(stability.table, ["size"], column_margins=[ColumnMargin("size")],
                         min_cell=settings.min_cell)
    _write_csv(platform, f"{stem}.csv", published)
    yield dg.MaterializeResult(metadata=combine(
        stability.as_metadata(), table_metadata(published, stem, store),
        artifacts_metadata(f"{cluster_dir(sex)}/stability.csv",
                           f"{cluster_dir(sex)}/stability_jaccard.npy"),
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
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import profile_clusters

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    labels, names = load_assignments(platform, sex)
    profiles = profile_clusters(store.read_parquet(corpus_path(sex)), labels, names, cfg)
    parts = {"codes": profiles.codes, "terms": profiles.terms, "summary": profiles.summary,
             "histogram": profiles.histogram}
    paths = [f"{cluster_dir(sex)}/profile_{part}.parquet" for part in parts]
    for path, frame in zip(paths, parts.values(), strict=True):
        store.write_parquet(path, frame)
    top = profiles.top_codes.filter(pl.col("rank") <= 3).select(
        "cluster_label", "rank", "code_display", "descriptor", "c_df_ipf", "lift")
    return dg.MaterializeResult(
        metadata={
            "clusters": len(names),
            "top_codes": dg.MetadataValue.md(_md(top)),
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
    context: dg.AssetExecutionContext, config: ClusterRunConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from mh_assets.core.clustering import Stability, compare_baselines

    settings, sex, store = platform.settings, context.partition_key, platform.store
    cfg = config.cluster_config(settings.seed)
    labels, names = load_assignments(platform, sex)
    corpus = store.read_parquet(corpus_path(sex))
    stability = Stability(
        table=pl.read_csv(store.path(f"{cluster_dir(sex)}/stability.csv")),
        jaccard=np.load(store.path(f"{cluster_dir(sex)}/stability_jaccard.npy")),
        warn_below=cfg.stability_warn,
    )
    baselines = compare_baselines(load_embeddings(platform, sex), corpus, labels, names, cfg,
                                  stability)
    stem = f"tables/baselines_{sex}"
    _write_csv(platform, f"{stem}.csv", baselines.table)
    for method, method_labels in baselines.labels.items():
        slug = method.replace(" ", "_").replace("-", "_")
        store.write_parquet(
            f"{cluster_dir(sex)}/baseline_{slug}.parquet",
            pl.DataFrame({"patient_id": corpus.get_column("patient_id"),
                          CLUSTER: pl.Series(method_labels, dtype=pl.Int32)}),
        )
    return dg.MaterializeResult(metadata=combine(
        baselines.as_metadata(), table_metadata(baselines.table, stem, store),
        provenance_metadata(context, settings),
    ))


def _masked_sizes(names: list[str], sizes: np.ndarray, min_cell: int) -> dict[str, str]:
    return {n: (str(int(s)) if s >= min_cell or s == 0 else f"<{min_cell}")
            for n, s in zip(names, sizes, strict=True)}


def _md(frame: pl.DataFrame) -> str:
    from mh_assets.core.tables import markdown_preview

    return markdown_preview(frame, max_rows=60)

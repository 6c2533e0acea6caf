"""Both sexes together: the all-clusters table, male/female pairs and cluster maps."""

import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.clustering import pairs
from mh_assets.core.clustering.io import read_assignments, read_embeddings
from mh_assets.core.publish import cluster_table as tables
from mh_assets.core.publish import maps
from mh_assets.core.schema import SEXES
from mh_assets.defs.metadata import (
    artifacts_metadata,
    combine,
    provenance_metadata,
    publish_figures,
    publish_table,
)
from mh_assets.defs.resources import Platform, PlatformParam

CLUSTERS_STEM = layout.table_stem("clusters")
PAIRS_STEM = layout.table_stem("cluster_pairs")
CLUSTERS_RESTRICTED = layout.restricted_table("clusters", ".parquet")


def _profiles(platform: Platform, part: str) -> dict[str, pl.DataFrame]:
    return {sex: platform.store.read_parquet(layout.profile(sex, part)) for sex in SEXES}


def _publish_asset(**kwargs):
    return dg.asset(group_name="publish", code_version="1", **kwargs)


@_publish_asset(
    deps=["cluster_profiles", "cluster_stability"],
    kinds={"polars", "excel"},
    description="Every cluster of both sexes: label, size, % of the sex, top ICD-10 codes "
    "with descriptors and c-DF-IPF, dominant terms, stability, mean codes per patient. "
    f"{CLUSTERS_STEM}.{{csv,xlsx,docx}}, small-cell suppressed.",
)
def cluster_table(context: dg.AssetExecutionContext, platform: PlatformParam):
    settings, store = platform.settings, platform.store
    stability = {sex: pl.read_csv(store.path(layout.stability(sex))) for sex in SEXES}
    table = tables.cluster_table(
        _profiles(platform, "codes"), _profiles(platform, "terms"),
        _profiles(platform, "summary"), stability,
    )
    store.write_parquet(CLUSTERS_RESTRICTED, table)
    published = tables.publish_cluster_table(table, settings.min_cell)
    meta = publish_table(published, CLUSTERS_STEM, store, title="Clusters by sex",
                         min_cell=settings.min_cell, headers=tables.CLUSTER_HEADERS)
    return dg.MaterializeResult(metadata=combine(
        meta, artifacts_metadata(CLUSTERS_RESTRICTED), provenance_metadata(context, settings)))


@_publish_asset(
    deps=["cluster_profiles"],
    kinds={"scipy"},
    description="Male and female clusters matched one-to-one by the cosine similarity of "
    "their c-DF-IPF profiles (Hungarian assignment), with shared and differing codes; "
    "unmatched clusters listed. tables/cluster_pairs.{csv,xlsx,docx}.",
)
def cluster_pairs(context: dg.AssetExecutionContext, platform: PlatformParam):
    from mh_assets.core.icd import display_code

    settings, store = platform.settings, platform.store
    matrices, labels, codes = pairs.profile_vectors(_profiles(platform, "codes"))
    matched = pairs.pair_clusters(matrices["male"], matrices["female"], labels["male"],
                                  labels["female"], [display_code(c) for c in codes])
    matched = matched.with_columns(pl.col("similarity").round(3))
    meta = publish_table(matched, PAIRS_STEM, store, title="Male/female cluster pairs",
                         min_cell=settings.min_cell)
    context.log.info(f"{int(matched.get_column('matched').sum())} pairs")
    return dg.MaterializeResult(metadata=combine(meta, provenance_metadata(context, settings)))


@_publish_asset(
    deps=["cluster_profiles", "cluster_assignments", "patient_embeddings"],
    kinds={"plotly", "umap"},
    description="PCA and UMAP (seeded) maps of the cluster profiles (both sexes, male, "
    "female) and of a sample of patient embeddings coloured by cluster. Hovers show "
    "cluster label, size and top terms only. figures/cluster_map_*.{html,png}.",
)
def cluster_maps(context: dg.AssetExecutionContext, platform: PlatformParam):
    from mh_assets.core.publish.figures import scatter_map

    settings, store = platform.settings, platform.store
    codes, terms = _profiles(platform, "codes"), _profiles(platform, "terms")
    matrices, labels, _ = pairs.profile_vectors(codes)
    hover = maps.cluster_hover(codes, terms, settings.min_cell)
    figures = {}
    views = {"both": list(SEXES), **{sex: [sex] for sex in SEXES}}
    for method in ("pca", "umap"):
        for view, sexes in views.items():
            name = f"cluster_map_{method}_{view}"
            figures[name] = scatter_map(
                maps.profile_points(matrices, labels, sexes, hover, method, settings.seed),
                f"Cluster profiles ({method.upper()}, {view})", name=name,
                note="Each point is a cluster's c-DF-IPF profile; marker area ~ cluster size.",
            )
        for sex in SEXES:
            name = f"embedding_map_{method}_{sex}"
            figures[name] = scatter_map(
                _embedding_points(platform, sex, method, settings.seed),
                f"Patient embeddings ({method.upper()}, {sex}, sample)", name=name,
                note=f"A seeded sample of up to {maps.EMBEDDING_SAMPLE} patients; no hovers.",
            )
    context.log.info(f"{len(figures)} maps")
    return dg.MaterializeResult(metadata=combine(
        publish_figures(figures, store), provenance_metadata(context, settings)))


def _embedding_points(platform: Platform, sex: str, method: str, seed: int) -> pl.DataFrame:
    clusters, names = read_assignments(platform.store, sex)
    return maps.embedding_points(read_embeddings(platform.store, sex), clusters, names,
                                 method, seed)

"""Both sexes together: the all-clusters table, male/female pairs and cluster maps."""

import dagster as dg
import numpy as np
import polars as pl

from mh_assets.core import cluster_tables
from mh_assets.core.schema import CLUSTER_LABEL, SEXES
from mh_assets.defs.clusters import cluster_dir, load_assignments, load_embeddings
from mh_assets.defs.provenance import artifacts_metadata, provenance_metadata
from mh_assets.defs.publishing import combine, publish_figures, publish_table
from mh_assets.defs.resources import PlatformResource

CLUSTERS_STEM = "tables/clusters"
PAIRS_STEM = "tables/cluster_pairs"
EMBEDDING_SAMPLE = 2000


def _profiles(platform: PlatformResource, part: str) -> dict[str, pl.DataFrame]:
    return {sex: platform.store.read_parquet(f"{cluster_dir(sex)}/profile_{part}.parquet")
            for sex in SEXES}


def _publish_asset(**kwargs):
    return dg.asset(group_name="publish", code_version="1", **kwargs)


@_publish_asset(
    deps=["cluster_profiles", "cluster_stability"],
    kinds={"polars", "excel"},
    description="Every cluster of both sexes: label, size, % of the sex, top ICD-10 codes "
    "with descriptors and c-DF-IPF, dominant terms, stability, mean codes per patient. "
    "tables/clusters.{csv,xlsx,docx}, small-cell suppressed.",
)
def cluster_table(context: dg.AssetExecutionContext, platform: PlatformResource):
    settings, store = platform.settings, platform.store
    stability = {sex: pl.read_csv(store.path(f"restricted/clusters/{sex}/stability.csv"))
                 for sex in SEXES}
    table = cluster_tables.cluster_table(
        _profiles(platform, "codes"), _profiles(platform, "terms"),
        _profiles(platform, "summary"), stability,
    )
    store.write_parquet(f"restricted/{CLUSTERS_STEM}.parquet", table)
    published = cluster_tables.publish_cluster_table(table, settings.min_cell)
    meta = publish_table(published, CLUSTERS_STEM, store, title="Clusters by sex",
                         min_cell=settings.min_cell, headers=cluster_tables.CLUSTER_HEADERS)
    return dg.MaterializeResult(metadata=combine(
        meta, artifacts_metadata(f"restricted/{CLUSTERS_STEM}.parquet"),
        provenance_metadata(context, settings)))


@_publish_asset(
    deps=["cluster_profiles"],
    kinds={"scipy"},
    description="Male and female clusters matched one-to-one by the cosine similarity of "
    "their c-DF-IPF profiles (Hungarian assignment), with shared and differing codes; "
    "unmatched clusters listed. tables/cluster_pairs.{csv,xlsx,docx}.",
)
def cluster_pairs(context: dg.AssetExecutionContext, platform: PlatformResource):
    from mh_assets.core.icd import display_code
    from mh_assets.core.pairs import pair_clusters

    settings, store = platform.settings, platform.store
    matrices, labels, codes = cluster_tables.profile_vectors(_profiles(platform, "codes"))
    pairs = pair_clusters(matrices["male"], matrices["female"], labels["male"],
                          labels["female"], [display_code(c) for c in codes])
    pairs = pairs.with_columns(pl.col("similarity").round(3))
    meta = publish_table(pairs, PAIRS_STEM, store, title="Male/female cluster pairs",
                         min_cell=settings.min_cell)
    context.log.info(f"{int(pairs.get_column('matched').sum())} pairs")
    return dg.MaterializeResult(metadata=combine(meta, provenance_metadata(context, settings)))


@_publish_asset(
    deps=["cluster_profiles", "cluster_assignments", "patient_embeddings"],
    kinds={"plotly", "umap"},
    description="PCA and UMAP (seeded) maps of the cluster profiles (both sexes, male, "
    "female) and of a sample of patient embeddings coloured by cluster. Hovers show "
    "cluster label, size and top terms only. figures/cluster_map_*.{html,png}.",
)
def cluster_maps(context: dg.AssetExecutionContext, platform: PlatformResource):
    from mh_assets.core.figures import scatter_map

    settings, store = platform.settings, platform.store
    codes, terms = _profiles(platform, "codes"), _profiles(platform, "terms")
    matrices, labels, _ = cluster_tables.profile_vectors(codes)
    hover = _cluster_hover(codes, terms, settings.min_cell)
    figures = {}
    views = {"both": list(SEXES), **{sex: [sex] for sex in SEXES}}
    for method in ("pca", "umap"):
        for view, sexes in views.items():
            matrix = np.vstack([matrices[s] for s in sexes])
            xy = cluster_tables.project(matrix, method, settings.seed)
            points = pl.DataFrame({
                "x": xy[:, 0], "y": xy[:, 1],
                "label": [lab for s in sexes for lab in labels[s]],
                "group": [s for s in sexes for _ in labels[s]],
            }).join(hover, on="label", how="left")
            name = f"cluster_map_{method}_{view}"
            figures[name] = scatter_map(
                points, f"Cluster profiles ({method.upper()}, {view})", name=name,
                note="Each point is a cluster's c-DF-IPF profile; marker area ~ cluster size.",
            )
        for sex in SEXES:
            figures[f"embedding_map_{method}_{sex}"] = _embedding_map(
                platform, sex, method, settings.seed, scatter_map)
    context.log.info(f"{len(figures)} maps")
    return dg.MaterializeResult(metadata=combine(
        publish_figures(figures, store), provenance_metadata(context, settings)))


def _cluster_hover(codes, terms, min_cell: int) -> pl.DataFrame:
    """Cluster-level hover text: label, size (suppressed below min_cell), top terms."""
    rows = []
    for sex, frame in codes.items():
        sizes = frame.group_by(CLUSTER_LABEL).agg(pl.col("cluster_size").first())
        top = (terms[sex].filter(pl.col("rank") <= 3).sort("rank")
               .group_by(CLUSTER_LABEL).agg(pl.col("term").str.join("; ")))
        rows.append(sizes.join(top, on=CLUSTER_LABEL, how="left"))
    frame = pl.concat(rows)
    size = pl.when(pl.col("cluster_size") < min_cell).then(pl.lit(f"<{min_cell}")).otherwise(
        pl.col("cluster_size").cast(pl.String))
    return frame.select(
        pl.col(CLUSTER_LABEL).alias("label"),
        pl.format("{} (n={}): {}", CLUSTER_LABEL, size, pl.col("term").fill_null("")).alias(
            "hover_text"),
        pl.col("cluster_size").cast(pl.Float64).alias("size"),
    )


def _embedding_map(platform, sex: str, method: str, seed: int, scatter_map):
    """A seeded sample of patients, coloured by cluster; no hover, no labels."""
    X = load_embeddings(platform, sex)
    labels, names = load_assignments(platform, sex)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(X), size=min(EMBEDDING_SAMPLE, len(X)), replace=False))
    xy = cluster_tables.project(X[idx], method, seed)
    points = pl.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": [""] * len(idx),
                           "group": np.asarray(names)[labels[idx]]})
    return scatter_map(points, f"Patient embeddings ({method.upper()}, {sex}, sample)",
                       name=f"embedding_map_{method}_{sex}",
                       note=f"A seeded sample of up to {EMBEDDING_SAMPLE} patients; no hovers.")

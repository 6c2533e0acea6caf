"""What the cluster figures draw: a cluster x top-codes prevalence grid, and samples of
patients in 2-D.

A grid cell is an aggregate: the share of a cluster's patients with a code, shown in
whole percent. Hidden, as in the tables:

* a cell of 1 to ``min_cell - 1`` patients (``<10``);
* every non-empty cell of a cluster whose size the clusters table hides (``*``: its
  shares could give the size back);
* along a code whose total in the sex is published -- the cluster-codes table shows
  the patients with a code inside and outside a cluster wherever both are at least
  ``min_cell`` -- one hidden cell is never left alone: the grid lists every cluster, so
  the cells of a code add up to that total, and the smallest other non-empty cell is
  withheld too (``*``). Where the total cannot be published (all but a handful of the
  code's patients in one cluster) nothing needs hiding beyond the handful, so the
  cluster a code defines is not blanked for it.

A patient point carries only its cluster's name -- no hover, no label -- so a map can
never show an individual. A projection of the clusters' own profiles (a handful of
points) was dropped: four or five points in 2-D say less than the grid they came from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from mh_assets.core.clustering.projection import project, sample_rows, umap_applies
from mh_assets.core.publish.suppression import (
    PRIMARY,
    SECONDARY,
    SECONDARY_MARK,
    VISIBLE,
    ColumnMargin,
    mask_count,
    primary_mark,
    suppression_status,
)
from mh_assets.core.schema import CLUSTER, CLUSTER_LABEL

#: Patients drawn for an embedding map.
EMBEDDING_SAMPLE = 2000
#: Stems of the cluster-profile projections no longer drawn: files an earlier run left in
#: figures/ are removed, so the report does not show stale maps.
RETIRED_FIGURES = tuple(f"cluster_map_{method}_{view}" for method in ("pca", "umap")
                        for view in ("both", "female", "male"))
COUNT = "patients_with_code"


def cluster_sizes(codes: pl.DataFrame, min_cell: int) -> pl.DataFrame:
    """cluster, cluster_label, size and its published text (as in the clusters table:
    a size of 1-9 is ``<10``, and the sizes add up to the published partition size, so a
    second one is withheld, ``*``), and ``size_hidden``."""
    sizes = (codes.group_by(CLUSTER, CLUSTER_LABEL).agg(pl.col("cluster_size").first()
                                                         .alias("size")).sort(CLUSTER))
    status = suppression_status(sizes, ["size"], column_margins=[ColumnMargin("size")],
                                min_cell=min_cell)["size"]
    text = [f"{n:,}" if s == VISIBLE else primary_mark(min_cell) if s == PRIMARY
            else SECONDARY_MARK for n, s in zip(sizes["size"].to_list(), status, strict=True)]
    return sizes.with_columns(size_text=pl.Series(text, dtype=pl.String),
                              size_hidden=status != VISIBLE)


def top_codes(codes: pl.DataFrame, min_cell: int, per_cluster: int = 5,
              max_codes: int = 30) -> pl.DataFrame:
    """The codes of the grid, in order: each cluster's ``per_cluster`` codes of highest
    c-DF-IPF among those at least ``min_cell`` of its patients have (a code whose cell
    would be hidden is no cluster's signature), clusters in order, no code twice. With
    many clusters each gets fewer codes, so that every cluster keeps its own and the grid
    stays under ``max_codes`` rows (a page)."""
    k = max(1, codes[CLUSTER].n_unique())
    per_cluster = max(1, min(per_cluster, max_codes // k))
    return (
        codes.filter(pl.col(COUNT) >= min_cell)
        .sort(CLUSTER, "rank")
        .group_by(CLUSTER, maintain_order=True).head(per_cluster)
        .unique("code", keep="first", maintain_order=True)
        .head(max_codes)
        .select("code", "code_display", "descriptor")
        .with_row_index("row")
    )


def prevalence_cells(codes: pl.DataFrame, min_cell: int, *, per_cluster: int = 5,
                     max_codes: int = 30) -> pl.DataFrame:
    """The publishable cells of one sex's clusters x top codes grid.

    ``codes`` is the ``cluster_profiles`` code profile (``layout.profile(sex, "codes")``:
    cluster, cluster_label, code, code_display, descriptor, patients_with_code,
    cluster_size, prevalence_in, rank). One row per (code, cluster): row, code,
    code_label, cluster, cluster_label, size_text, prevalence (% of the cluster, null
    where hidden) and mark ("" shown, "<10" for 1 to 9 patients, "*" withheld: a cell of
    a cluster whose size is hidden, or the complement of a hidden cell).
    """
    sizes = cluster_sizes(codes, min_cell)
    chosen = top_codes(codes, min_cell, per_cluster, max_codes)
    grid = (
        chosen.join(sizes, how="cross")
        .join(codes.select(CLUSTER, "code", COUNT, "prevalence_in"), on=[CLUSTER, "code"],
              how="left")
        .with_columns(pl.col(COUNT).fill_null(0), pl.col("prevalence_in").fill_null(0.0))
        .sort("row", CLUSTER)
    )
    status = _cell_status(grid, min_cell)
    marks = [mask_count(n, min_cell) if s == PRIMARY else SECONDARY_MARK if s == SECONDARY
             else "" for n, s in zip(grid[COUNT].to_list(), status.tolist(), strict=True)]
    return grid.select(
        "row", "code",
        pl.format("{} {}", "code_display", pl.col("descriptor").fill_null("")).str.strip_chars()
        .alias("code_label"),
        CLUSTER, CLUSTER_LABEL, "size_text",
        pl.when(pl.Series(status == VISIBLE)).then(100 * pl.col("prevalence_in"))
        .otherwise(None).alias("prevalence"),
        pl.Series("mark", marks, dtype=pl.String),
    )


def _cell_status(grid: pl.DataFrame, min_cell: int) -> np.ndarray:
    """VISIBLE, PRIMARY or SECONDARY per grid cell (see the module docstring)."""
    n = pl.col(COUNT)
    total = n.sum().over("code")
    # the code's total is published when some cluster has >= min_cell with and without it
    published = ((n >= min_cell) & (total - n >= min_cell)).any().over("code")
    # cells of a cluster with a hidden size enter the search as hidden (a stand-in count
    # of 1) and are marked "*" afterwards, never "<10"
    forced = pl.col("size_hidden") & (n > 0)
    probe = grid.with_columns(
        pl.when(forced).then(1).otherwise(n).alias(COUNT),
        # a code whose total is not published is no relation: each cell on its own
        pl.when(published).then(pl.lit(-1)).otherwise(pl.int_range(pl.len()))
        .alias("_relation"),
    )
    status = suppression_status(
        probe, [COUNT], column_margins=[ColumnMargin(COUNT, by=("code", "_relation"))],
        min_cell=min_cell)[COUNT].to_numpy()
    return np.where(grid.select(forced).to_series().to_numpy(), SECONDARY, status)


def embedding_points(
    embeddings: np.ndarray, clusters: np.ndarray, names: Sequence[str], method: str, seed: int,
) -> pl.DataFrame:
    """A seeded sample of patients projected from their embeddings, grouped by cluster.
    A UMAP of fewer than ``projection.UMAP_MIN_POINTS`` patients is their PCA (the
    asset draws no UMAP map then: :func:`map_methods`)."""
    idx = sample_rows(len(embeddings), EMBEDDING_SAMPLE, seed)
    xy = project(embeddings[idx], method, seed)
    return pl.DataFrame({"x": xy[:, 0], "y": xy[:, 1],
                         "group": np.asarray(names)[clusters[idx]]})


def map_methods(n_patients: int) -> tuple[str, ...]:
    """The embedding maps drawn for a sex of ``n_patients``: PCA always, UMAP from
    ``projection.UMAP_MIN_POINTS`` sampled patients (under that, its picture is mostly
    its initialisation, and the PCA map shows the same points)."""
    return ("pca", "umap") if umap_applies(min(n_patients, EMBEDDING_SAMPLE)) else ("pca",)

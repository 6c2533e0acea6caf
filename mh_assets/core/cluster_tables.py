"""Both sexes' clusters side by side: the all-clusters table and profile vectors.

Inputs are the per-sex outputs of :mod:`mh_assets.core.clustering`: the code
profiles (``code_profiles``: cluster_label, code, code_display, descriptor,
c_df_ipf, cluster_size, rank), the term profiles (cluster_label, term, rank), the
distribution summary (cluster_label, variable, mean) and the stability table
(cluster_label, mean_jaccard). Outputs are restricted aggregates; suppress
``size`` before publishing (``publish_cluster_table``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from mh_assets.core.schema import CLUSTER, CLUSTER_LABEL, N_CODES
from mh_assets.core.suppression import ColumnMargin, suppress

CLUSTER_HEADERS = {
    "sex": "Sex", "cluster_label": "Cluster", "size": "n", "pct_of_sex": "% of sex",
    "top_codes": "Top ICD-10 codes (c-DF-IPF)", "top_terms": "Dominant descriptor terms",
    "mean_jaccard": "Stability (mean Jaccard)", "mean_n_codes": "Mean codes per patient",
}


def cluster_table(
    codes: Mapping[str, pl.DataFrame],
    terms: Mapping[str, pl.DataFrame],
    summaries: Mapping[str, pl.DataFrame],
    stability: Mapping[str, pl.DataFrame],
    *,
    top_codes: int = 5,
    top_terms: int = 3,
) -> pl.DataFrame:
    """One row per cluster of every sex: label, size, % of the sex, top codes with
    descriptors and c-DF-IPF, dominant terms, stability and mean n_codes."""
    parts = []
    for sex, code_frame in codes.items():
        sizes = code_frame.group_by(CLUSTER, CLUSTER_LABEL).agg(pl.col("cluster_size").first())
        top = (
            code_frame.filter(pl.col("rank") <= top_codes).sort(CLUSTER, "rank")
            .group_by(CLUSTER_LABEL, maintain_order=True)
            .agg(pl.format("{} {} ({})", "code_display", "descriptor",
                           pl.col("c_df_ipf").round(3)).str.join("; ").alias("top_codes"))
        )
        dominant = (
            terms[sex].filter(pl.col("rank") <= top_terms).sort(CLUSTER, "rank")
            .group_by(CLUSTER_LABEL, maintain_order=True)
            .agg(pl.col("term").str.join("; ").alias("top_terms"))
        )
        mean_codes = summaries[sex].filter(pl.col("variable") == N_CODES).select(
            CLUSTER_LABEL, pl.col("mean").alias("mean_n_codes"))
        jaccard = stability[sex].select(CLUSTER_LABEL, "mean_jaccard")
        part = (
            sizes.rename({"cluster_size": "size"})
            .join(top, on=CLUSTER_LABEL, how="left")
            .join(dominant, on=CLUSTER_LABEL, how="left")
            .join(jaccard, on=CLUSTER_LABEL, how="left")
            .join(mean_codes, on=CLUSTER_LABEL, how="left")
            .with_columns(pl.lit(sex).alias("sex"),
                          (100 * pl.col("size") / pl.col("size").sum()).alias("pct_of_sex"))
            .sort(CLUSTER)
        )
        parts.append(part)
    return pl.concat(parts).select(
        "sex", CLUSTER_LABEL, "size", "pct_of_sex", "top_codes", "top_terms",
        "mean_jaccard", "mean_n_codes",
    )


def publish_cluster_table(table: pl.DataFrame, min_cell: int = 10) -> pl.DataFrame:
    """Sizes of 1..min_cell-1 hidden; the sizes of a sex add up to the published
    cohort size, so a second size is hidden with any hidden one (and its %)."""
    return suppress(
        table, ["size"], pct_for={"pct_of_sex": "size"},
        column_margins=[ColumnMargin("size", by=("sex",))], min_cell=min_cell,
        formatters={"mean_jaccard": lambda v: f"{v:.3f}", "mean_n_codes": lambda v: f"{v:.2f}"},
    )


def profile_vectors(
    codes: Mapping[str, pl.DataFrame],
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], list[str]]:
    """c-DF-IPF profile matrices (clusters x codes) over the union of both sexes' codes.

    Returns per-sex matrices, per-sex cluster labels (row order = cluster number) and
    the shared column order (normalised codes).
    """
    vocabulary = sorted(set().union(*(set(f.get_column("code").to_list()) for f in codes.values())))
    column = {code: i for i, code in enumerate(vocabulary)}
    matrices, labels = {}, {}
    for sex, frame in codes.items():
        names = (frame.group_by(CLUSTER).agg(pl.col(CLUSTER_LABEL).first()).sort(CLUSTER)
                 .get_column(CLUSTER_LABEL).to_list())
        matrix = np.zeros((len(names), len(vocabulary)))
        cols = np.array([column[c] for c in frame.get_column("code").to_list()], dtype=np.int64)
        matrix[frame.get_column(CLUSTER).to_numpy(), cols] = frame.get_column("c_df_ipf").to_numpy()
        matrices[sex], labels[sex] = matrix, names
    return matrices, labels, vocabulary


def project(matrix: np.ndarray, method: str, seed: int) -> np.ndarray:
    """2-D coordinates of the rows of ``matrix`` by PCA or UMAP (seeded)."""
    n = matrix.shape[0]
    if n < 3:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(matrix)
    if method == "umap":
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(15, n - 1)),
                            init="random" if n < 10 else "spectral", random_state=seed,
                            metric="cosine", n_jobs=1)
        return reducer.fit_transform(matrix)
    raise ValueError(f"unknown projection {method!r}: expected 'pca' or 'umap'")

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

import polars as pl

from mh_assets.core.publish.suppression import ColumnMargin, suppress
from mh_assets.core.schema import CLUSTER, CLUSTER_LABEL, N_CODES

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

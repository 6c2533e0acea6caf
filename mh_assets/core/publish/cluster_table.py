"""Both sexes' clusters side by side: the all-clusters table and profile vectors.

Inputs are the per-sex outputs of :mod:`mh_assets.core.clustering`: the code
profiles (``code_profiles``: cluster_label, code, code_display, descriptor,
c_df_ipf, cluster_size, rank), the term profiles (cluster_label, term, rank), the
distribution summary (cluster_label, variable, mean) and the stability table
(cluster_label, mean_jaccard). Outputs are restricted aggregates; suppress
``size`` before publishing (``publish_cluster_table``).

``cluster_codes`` is the long companion table the study printed: per cluster and
each of its top codes, the share of the cluster with the code and the share of
the rest of the sex (each with a Wilson 95% CI), lift and c-DF-IPF.
``publish_cluster_codes`` hides it like counts are hidden (see its docstring), and
the published per-cluster table takes its c-DF-IPF scores from that published
copy, so a score withheld there is withheld in both.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from mh_assets.core.publish.intervals import format_interval, wilson_interval
from mh_assets.core.publish.suppression import (
    SECONDARY_MARK,
    VISIBLE,
    ColumnMargin,
    primary_mark,
    suppress,
    suppression_status,
)
from mh_assets.core.schema import CLUSTER, CLUSTER_LABEL, N_CODES

CLUSTER_COLUMNS = ("sex", CLUSTER_LABEL, "name", "size", "pct_of_sex", "top_codes",
                   "top_terms", "mean_jaccard", "mean_n_codes")
CLUSTER_HEADERS = {
    "sex": "Sex", "cluster_label": "Cluster", "name": "Name", "size": "n",
    "pct_of_sex": "% of sex",
    "top_codes": "Top ICD-10 codes (by c-DF-IPF; shares and scores in the code table)",
    "top_terms": "Dominant descriptor terms",
    "mean_jaccard": "Stability (mean Jaccard)", "mean_n_codes": "Mean codes per patient",
}
CODE_HEADERS = {
    "sex": "Sex", "cluster_label": "Cluster", "rank": "Rank", "code": "ICD-10",
    "descriptor": "Descriptor", "n_in": "n with code", "pct_in": "% in cluster",
    "pct_in_ci": "95% CI (in cluster)", "pct_out": "% outside cluster",
    "pct_out_ci": "95% CI (outside)", "lift": "Lift", "c_df_ipf": "c-DF-IPF",
}
CODE_PUBLISHED = tuple(CODE_HEADERS)
# The male/female pairs (mh_assets.core.clustering.pairs.PAIR_SCHEMA) as readers see them.
PAIR_HEADERS = {
    "pair": "Pair", "male_label": "Male cluster", "female_label": "Female cluster",
    "male_name": "Male cluster (name)", "female_name": "Female cluster (name)",
    "similarity": "Cosine similarity", "matched": "Matched", "status": "Status",
    "shared_codes": "Shared codes", "differing_codes": "Differing codes",
}
PAIR_NOTE = ("(F>M) / (M>F): the code weighs more in the female / male cluster's c-DF-IPF "
             "profile. Shared codes are listed by their weight in both profiles, differing "
             "codes by the size of the difference, largest first.")
# The size of a sex's clusters add up to the published cohort size per sex.
_SIZE_MARGINS = (ColumnMargin("size", by=("sex",)),)


def cluster_table(
    codes: Mapping[str, pl.DataFrame],
    terms: Mapping[str, pl.DataFrame],
    summaries: Mapping[str, pl.DataFrame],
    stability: Mapping[str, pl.DataFrame],
    *,
    top_codes: int = 5,
    top_terms: int = 3,
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> pl.DataFrame:
    """One row per cluster of every sex: label, descriptive name (``names``: sex ->
    label -> name; the label where none), size, % of the sex, top codes with descriptors
    and c-DF-IPF, dominant terms, stability and mean n_codes."""
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
                          (100 * pl.col("size") / pl.col("size").sum()).alias("pct_of_sex"),
                          pl.col(CLUSTER_LABEL).replace_strict(
                              dict((names or {}).get(sex, {})), default=pl.col(CLUSTER_LABEL),
                              return_dtype=pl.Utf8).alias("name"))
            .sort(CLUSTER)
        )
        parts.append(part)
    return pl.concat(parts).select(CLUSTER_COLUMNS)


def publish_cluster_table(
    table: pl.DataFrame, min_cell: int = 10, *, codes: pl.DataFrame
) -> pl.DataFrame:
    """Sizes of 1..min_cell-1 hidden; the sizes of a sex add up to the published
    cohort size, so a second size is hidden with any hidden one (and its %).

    ``codes`` is the *published* code table (:func:`publish_cluster_codes`): the top
    codes are listed from it by name only -- a c-DF-IPF score, with the IPF from a lift
    elsewhere, gives back the count it was computed from, so scores are read (with their
    suppression) in the code table, not repeated here.
    """
    listed = (
        codes.with_columns(pl.col("rank").cast(pl.Int64))
        .sort("sex", CLUSTER_LABEL, "rank")
        .group_by("sex", CLUSTER_LABEL, maintain_order=True)
        .agg(pl.format("{} {}", "code", "descriptor").str.join("; ").alias("top_codes"))
    )
    table = table.drop("top_codes").join(listed, on=["sex", CLUSTER_LABEL], how="left",
                                         maintain_order="left")
    return suppress(
        table.select(CLUSTER_COLUMNS).with_columns(pl.col("top_codes").fill_null("")),
        ["size"], pct_for={"pct_of_sex": "size"},
        column_margins=list(_SIZE_MARGINS), min_cell=min_cell,
        formatters={"mean_jaccard": lambda v: f"{v:.3f}", "mean_n_codes": lambda v: f"{v:.2f}"},
    )


def hidden_clusters(table: pl.DataFrame, min_cell: int = 10) -> set[tuple[str, str]]:
    """(sex, cluster_label) of the clusters whose size the published table hides."""
    status = suppression_status(table, ["size"], column_margins=_SIZE_MARGINS,
                                min_cell=min_cell)["size"].to_list()
    keys = zip(table["sex"].to_list(), table[CLUSTER_LABEL].to_list(), strict=True)
    return {key for key, s in zip(keys, status, strict=True) if s != VISIBLE}


def cluster_codes(codes: Mapping[str, pl.DataFrame], *, top_codes: int = 5) -> pl.DataFrame:
    """One row per cluster of every sex and each of its ``top_codes`` codes (by c-DF-IPF).

    Restricted (exact counts, full precision). Columns: sex, cluster_label, rank, code
    (display form), descriptor, n_in (members with the code), cluster_size, pct_in
    (% of the cluster), n_out (patients of the sex outside the cluster with it),
    n_outside (patients of the sex outside the cluster), pct_out, the Wilson 95% CI
    bounds ``pct_in_ci_low/high`` and ``pct_out_ci_low/high`` (percent), lift,
    c_df_ipf, and clusters_with_code (how many of the sex's clusters have the code at
    all, which says whether the published rows of a code add up to its total).
    """
    parts = []
    for sex, frame in codes.items():
        n_sex = int(frame.group_by(CLUSTER).agg(pl.col("cluster_size").first())
                    ["cluster_size"].sum())
        per_code = frame.group_by("code").agg(
            pl.col("patients_with_code").sum().alias("n_code"),
            pl.len().cast(pl.Int64).alias("clusters_with_code"),
        )
        top = (
            frame.filter(pl.col("rank") <= top_codes)
            .join(per_code, on="code", how="left")
            .with_columns(
                pl.lit(sex).alias("sex"),
                pl.col("patients_with_code").alias("n_in"),
                (pl.col("n_code") - pl.col("patients_with_code")).alias("n_out"),
                (pl.lit(n_sex, dtype=pl.Int64) - pl.col("cluster_size")).alias("n_outside"),
            )
            .sort(CLUSTER, "rank")
        )
        parts.append(top)
    if not parts:
        raise ValueError("no code profiles")
    frame = pl.concat(parts)
    in_low, in_high = wilson_interval(frame["n_in"].to_numpy(), frame["cluster_size"].to_numpy())
    out_low, out_high = wilson_interval(frame["n_out"].to_numpy(), frame["n_outside"].to_numpy())
    with_share = frame.with_columns(
        pl.Series("pct_in_ci_low", 100 * in_low), pl.Series("pct_in_ci_high", 100 * in_high),
        pl.Series("pct_out_ci_low", 100 * out_low), pl.Series("pct_out_ci_high", 100 * out_high),
        (100 * pl.col("n_in") / pl.col("cluster_size")).alias("pct_in"),
        pl.when(pl.col("n_outside") > 0)
        .then(100 * pl.col("n_out") / pl.col("n_outside")).otherwise(None).alias("pct_out"),
    )
    return with_share.select(
        "sex", CLUSTER_LABEL, pl.col("rank").cast(pl.Int64), pl.col("code_display").alias("code"),
        "descriptor", "n_in", "cluster_size", "pct_in", "pct_in_ci_low", "pct_in_ci_high",
        "n_out", "n_outside", "pct_out", "pct_out_ci_low", "pct_out_ci_high", "lift",
        "c_df_ipf", "clusters_with_code",
    )


def publish_cluster_codes(
    table: pl.DataFrame, clusters: pl.DataFrame, min_cell: int = 10
) -> pl.DataFrame:
    """The suppressed, all-string copy of :func:`cluster_codes` (columns ``CODE_PUBLISHED``).

    A share reveals its count (share x cluster size), so it is hidden like one:

    * ``n_in`` of 1..min_cell-1 is shown as "<10", and the share in the cluster and
      its CI as "*"; likewise the share outside for ``n_out`` of 1..min_cell-1;
    * the share outside, lift and c-DF-IPF are also hidden when ``n_in`` is: any
      fully shown row of the same code publishes the code's total (n_in + n_out),
      and either of them would then give the hidden count by subtraction;
    * when every cluster of a sex that has a code is listed for it, the listed
      ``n_in`` add up to that total, so one hidden ``n_in`` hides a second one;
    * every number of a cluster whose size the per-cluster table hides (``clusters``:
      the restricted :func:`cluster_table`) is withheld: with its shares, it would
      give the size back.
    """
    small = primary_mark(min_cell)
    listed = pl.len().over("sex", "code")
    ready = table.with_columns(
        *(
            pl.Series(f"{side}_ci", [
                format_interval(lo, hi, 1) for lo, hi in zip(
                    table[f"{side}_ci_low"].to_list(), table[f"{side}_ci_high"].to_list(),
                    strict=True)
            ], dtype=pl.String)
            for side in ("pct_in", "pct_out")
        ),
        # rows of one code form a closed sum only when every cluster with it is listed
        pl.when(listed == pl.col("clusters_with_code")).then(-1)
        .otherwise(pl.int_range(pl.len())).alias("_relation"),
    )
    both = ["n_in", "n_out"]
    published = suppress(
        ready.select(*CODE_PUBLISHED, "n_out", "_relation"),
        both,
        pct_for={"pct_in": "n_in"},
        column_margins=[ColumnMargin("n_in", by=("sex", "code", "_relation"))],
        derived={"pct_in_ci": ["n_in"], "pct_out": both, "pct_out_ci": both, "lift": both,
                 "c_df_ipf": both},
        min_cell=min_cell,
        pct_decimals=1,
        formatters={"pct_out": lambda v: f"{v:.1f}", "lift": lambda v: f"{v:.2f}",
                    "c_df_ipf": lambda v: f"{v:.3f}"},
    ).select(CODE_PUBLISHED)
    hidden = hidden_clusters(clusters, min_cell)
    if not hidden:
        return published
    withheld = pl.struct("sex", CLUSTER_LABEL).map_elements(
        lambda key: (key["sex"], key[CLUSTER_LABEL]) in hidden, return_dtype=pl.Boolean)
    numbers = [c for c in CODE_PUBLISHED if c not in ("sex", CLUSTER_LABEL, "rank", "code",
                                                       "descriptor")]
    return published.with_columns(
        pl.when(withheld & (pl.col(c) != small)).then(pl.lit(SECONDARY_MARK))
        .otherwise(pl.col(c)).alias(c)
        for c in numbers
    )

"""Cohort descriptives: admissions per year and severity, top principal diagnoses,
stay and cost by sex, with Mann-Whitney and chi-square tests.

``descriptives`` returns the *restricted* aggregates; ``publish_descriptives`` the
small-cell-suppressed copies. Input contract: the ``cohort`` frame (see
``sud_table``) plus ``Year`` (int), ``DaysOfStay`` (int), ``APRSeverityLevel``
(int 1-4) and ``APRCost`` (float).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from mh_assets.core.publish.sud_table import format_p, sexed_rows
from mh_assets.core.publish.suppression import (
    ColumnMargin,
    RowMargin,
    suppress,
)
from mh_assets.core.schema import (
    PRINCIPAL,
    SEX,
    SEXES,
)

YEAR = "Year"
STAY = "DaysOfStay"
SEVERITY = "APRSeverityLevel"
COST = "APRCost"
OTHER = "other"

DescriptorLookup = Mapping[str, str] | Callable[[str], str | None]

# Display names of the published statistics (tables/descriptives.*) and of its variables.
STATISTICS_HEADERS = {
    "test": "Test", "variable": "Variable", "statistic": "Statistic", "dof": "df",
    "p_value": "p", "n_female": "Females n", "n_male": "Males n",
}
STATISTICS_VALUES = {"variable": {
    "DaysOfStay": "Length of stay (days)", "APRCost": "APR cost", "Year": "Discharge year",
    "APRSeverityLevel": "APR severity of illness",
    "PrincipalDiagnosis (top 20 + other)": "Principal diagnosis (20 most frequent + other)",
}}



@dataclass(frozen=True)
class Descriptives:
    """Restricted aggregates of the cohort (counts unsuppressed) and its tests.

    * ``statistics``: test, variable, statistic, dof, p_value, n_female, n_male
      (``tables/descriptives.csv``; for Mann-Whitney the statistic is the females' U,
      two-sided, on the uncapped values; chi-square uses scipy's defaults);
    * ``by_year`` / ``by_severity``: <key>, female_n, female_pct, male_n, male_pct, total;
    * ``top_principal``: sex, rank, code, descriptor, n, pct -- ten per sex;
    * ``principal_top20``: code, descriptor, female_n, male_n, total -- the 20 most
      frequent principal diagnoses and an ``other`` row (the chi-square's table);
    * ``continuous``: variable, sex, n, mean, sd, p1, q1, median, q3, p99, cap,
      lowerfence, upperfence -- ``cap`` is the pooled 99th percentile used by the
      figures; the fences are Tukey's 1.5 IQR clipped to [p1, cap], so a box plot
      never draws an individual's value;
    * ``histograms``: variable, sex, bin, left, right, n -- values clipped to
      [lower, cap], so the last bin holds everything above the cap.
    """

    statistics: pl.DataFrame
    by_year: pl.DataFrame
    by_severity: pl.DataFrame
    top_principal: pl.DataFrame
    principal_top20: pl.DataFrame
    continuous: pl.DataFrame
    histograms: pl.DataFrame


def descriptives(
    cohort: pl.DataFrame,
    descriptor_lookup: DescriptorLookup | None = None,
    *,
    top_n: int = 10,
    chi2_top: int = 20,
    bins: int = 30,
) -> Descriptives:
    """Admissions by year, diagnoses, stay, severity and cost by sex, with the tests."""
    cohort = sexed_rows(cohort)
    by_year = _by_sex(cohort, YEAR)
    by_severity = _by_sex(cohort, SEVERITY)
    top20 = _principal_top(cohort, chi2_top, descriptor_lookup)
    stats_rows = [
        _mann_whitney(cohort, STAY), _mann_whitney(cohort, COST),
        _chi2(by_year, YEAR), _chi2(by_severity, SEVERITY),
        _chi2(top20, f"{PRINCIPAL} (top {chi2_top} + other)"),
    ]
    continuous = pl.concat([_summary(cohort, STAY), _summary(cohort, COST)])
    histograms = pl.concat([
        _histogram(cohort, STAY, continuous, bins, integer=True),
        _histogram(cohort, COST, continuous, bins, integer=False),
    ])
    return Descriptives(
        statistics=pl.DataFrame(stats_rows, schema=_STATS_SCHEMA, orient="row"),
        by_year=by_year,
        by_severity=by_severity,
        top_principal=_top_by_sex(cohort, top_n, descriptor_lookup),
        principal_top20=top20,
        continuous=continuous,
        histograms=histograms,
    )


_STATS_SCHEMA = {
    "test": pl.String, "variable": pl.String, "statistic": pl.Float64, "dof": pl.Int64,
    "p_value": pl.Float64, "n_female": pl.Int64, "n_male": pl.Int64,
}


def _describe(codes: list[str], lookup: DescriptorLookup | None) -> list[str]:
    if lookup is None:
        return ["" for _ in codes]
    get = lookup.get if isinstance(lookup, Mapping) else lookup
    return [(get(c) or "") if c != OTHER else "" for c in codes]  # loop over unique codes


def _by_sex(cohort: pl.DataFrame, key: str) -> pl.DataFrame:
    """Admissions per value of ``key`` (nulls dropped) by sex, with % of each sex."""
    counts = (
        cohort.filter(pl.col(key).is_not_null())
        .group_by(key, SEX).len()
        .pivot(on=SEX, index=key, values="len")
    )
    for sex in SEXES:
        if sex not in counts.columns:
            counts = counts.with_columns(pl.lit(0).alias(sex))
    counts = counts.with_columns(pl.col(*SEXES).fill_null(0).cast(pl.Int64)).sort(key)
    return counts.select(
        key,
        female_n=pl.col("female"), female_pct=100 * pl.col("female") / pl.col("female").sum(),
        male_n=pl.col("male"), male_pct=100 * pl.col("male") / pl.col("male").sum(),
        total=pl.col("female") + pl.col("male"),
    )


def _principal_top(cohort: pl.DataFrame, n: int, lookup: DescriptorLookup | None) -> pl.DataFrame:
    code = pl.col(PRINCIPAL).str.strip_chars().str.to_uppercase()
    frame = cohort.filter(code.is_not_null()).with_columns(code.alias("code"))
    ranked = frame.group_by("code").len().sort(["len", "code"], descending=[True, False])
    top = ranked.head(n)["code"].to_list()
    pooled = frame.with_columns(
        code=pl.when(pl.col("code").is_in(top)).then(pl.col("code")).otherwise(pl.lit(OTHER))
    )
    table = _by_sex(pooled, "code").select("code", "female_n", "male_n", "total")
    order = {c: i for i, c in enumerate([*top, OTHER])}
    table = table.sort(pl.col("code").replace_strict(order, return_dtype=pl.Int64))
    descriptors = _describe(table["code"].to_list(), lookup)
    return table.insert_column(1, pl.Series("descriptor", descriptors, dtype=pl.String))


def _top_by_sex(cohort: pl.DataFrame, n: int, lookup: DescriptorLookup | None) -> pl.DataFrame:
    code = pl.col(PRINCIPAL).str.strip_chars().str.to_uppercase()
    counts = (
        cohort.filter(code.is_not_null())
        .group_by(SEX, code.alias("code")).len()
        .with_columns(pct=100 * pl.col("len") / pl.col("len").sum().over(SEX))
        .sort([SEX, "len", "code"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over(SEX))
        .filter(pl.col("rank") <= n)
        .select(SEX, "rank", "code", n=pl.col("len").cast(pl.Int64), pct="pct")
    )
    descriptors = _describe(counts["code"].to_list(), lookup)
    return counts.insert_column(3, pl.Series("descriptor", descriptors, dtype=pl.String))


def _values(cohort: pl.DataFrame, column: str, sex: str) -> np.ndarray:
    frame = cohort.filter((pl.col(SEX) == sex) & pl.col(column).is_not_null())
    return frame.get_column(column).cast(pl.Float64).to_numpy()


def _mann_whitney(cohort: pl.DataFrame, column: str) -> tuple:
    from scipy import stats  # here, not at import: the code location loads faster

    female, male = _values(cohort, column, "female"), _values(cohort, column, "male")
    if len(female) == 0 or len(male) == 0:
        return ("Mann-Whitney U", column, None, None, None, len(female), len(male))
    result = stats.mannwhitneyu(female, male, alternative="two-sided")
    return ("Mann-Whitney U", column, float(result.statistic), None, float(result.pvalue),
            len(female), len(male))


def _chi2(table: pl.DataFrame, variable: str) -> tuple:
    from scipy import stats  # here, not at import: the code location loads faster

    observed = table.select("female_n", "male_n").to_numpy()
    n_f, n_m = (int(x) for x in observed.sum(axis=0)) if observed.size else (0, 0)
    try:
        with np.errstate(all="ignore"):
            result = stats.chi2_contingency(observed)
        stat, dof, p = float(result.statistic), int(result.dof), float(result.pvalue)
    except ValueError:  # a zero row/column or a single category: no test
        stat, dof, p = None, None, None
    return ("chi-square", variable, stat, dof, p, n_f, n_m)


def _summary(cohort: pl.DataFrame, column: str) -> pl.DataFrame:
    values = cohort.filter(pl.col(column).is_not_null()).with_columns(
        pl.col(column).cast(pl.Float64)
    )
    cap = values.get_column(column).quantile(0.99, "linear") if values.height else None
    v = pl.col(column)
    summary = (
        values.group_by(SEX)
        .agg(
            n=pl.len().cast(pl.Int64), mean=v.mean(), sd=v.std(),
            p1=v.quantile(0.01, "linear"), q1=v.quantile(0.25, "linear"),
            median=v.quantile(0.5, "linear"), q3=v.quantile(0.75, "linear"),
            p99=v.quantile(0.99, "linear"),
        )
        .sort(SEX)
        .with_columns(cap=pl.lit(cap, dtype=pl.Float64))
    )
    iqr = pl.col("q3") - pl.col("q1")
    return summary.select(
        pl.lit(column).alias("variable"), pl.all(),
        lowerfence=pl.max_horizontal(pl.col("q1") - 1.5 * iqr, pl.col("p1")),
        upperfence=pl.min_horizontal(pl.col("q3") + 1.5 * iqr, pl.col("cap")),
    )


def _histogram(
    cohort: pl.DataFrame, column: str, summary: pl.DataFrame, bins: int, *, integer: bool
) -> pl.DataFrame:
    """Counts per bin of values clipped to [lower, pooled p99]; every bin listed for both sexes."""
    schema = {"variable": pl.String, SEX: pl.String, "bin": pl.Int64, "left": pl.Float64,
              "right": pl.Float64, "n": pl.Int64}
    rows = summary.filter(pl.col("variable") == column)
    if rows.height == 0:
        return pl.DataFrame(schema=schema)
    cap = float(rows["cap"][0])
    lower = min(0.0, float(rows["p1"].min()))
    if integer:
        cap, lower = float(np.floor(cap)), float(np.floor(lower))
        width = float(max(1, int(np.ceil((cap - lower + 1) / bins))))
        n_bins = int(np.floor((cap - lower) / width)) + 1
    else:
        n_bins = bins
        width = (cap - lower) / bins if cap > lower else 1.0
    edges = lower + width * np.arange(n_bins + 1)
    clipped = pl.col(column).cast(pl.Float64).clip(lower, cap)
    index = ((clipped - lower) / width).floor().cast(pl.Int64).clip(0, n_bins - 1)
    counts = (
        cohort.filter(pl.col(column).is_not_null())
        .group_by(SEX, index.alias("bin")).len()
    )
    grid = pl.DataFrame({SEX: list(SEXES)}).join(
        pl.DataFrame({"bin": np.arange(n_bins, dtype=np.int64)}), how="cross"
    )
    return (
        grid.join(counts, on=[SEX, "bin"], how="left")
        .select(
            pl.lit(column).alias("variable"), SEX, "bin",
            left=pl.col("bin").replace_strict(dict(enumerate(edges[:-1].tolist())),
                                              return_dtype=pl.Float64),
            right=pl.col("bin").replace_strict(dict(enumerate(edges[1:].tolist())),
                                               return_dtype=pl.Float64),
            n=pl.col("len").fill_null(0).cast(pl.Int64),
        )
        .sort(SEX, "bin")
    )


def publish_descriptives(desc: Descriptives, min_cell: int = 10) -> dict[str, pl.DataFrame]:
    """Suppressed, all-string copies of the count tables and the statistics, for the report.

    Per-sex column sums (the admissions per sex) are published, so each column is a
    relation as well as each row (``total = female + male``).
    """
    pcts = {"female_pct": "female_n", "male_pct": "male_n"}
    crossed = dict(
        row_margins=[RowMargin("total", ("female_n", "male_n"))],
        column_margins=[ColumnMargin(c) for c in ("female_n", "male_n", "total")],
        min_cell=min_cell,
    )
    counts = ["female_n", "male_n", "total"]
    summary_stats = [c for c in desc.continuous.columns if c not in ("variable", SEX, "n")]
    return {
        "statistics": desc.statistics.with_columns(
            pl.col("p_value").map_elements(format_p, return_dtype=pl.String),
            pl.col("statistic").round(4).cast(pl.String),
        ).with_columns(pl.all().cast(pl.String).fill_null("")),
        "by_year": suppress(desc.by_year, counts, pct_for=pcts, **crossed),
        "by_severity": suppress(desc.by_severity, counts, pct_for=pcts, **crossed),
        "principal_top20": suppress(desc.principal_top20, counts, **crossed),
        "top_principal": suppress(desc.top_principal, ["n"], pct_for={"pct": "n"},
                                  min_cell=min_cell),
        # a summary of fewer than min_cell admissions describes individuals: hidden
        "continuous": suppress(
            desc.continuous, ["n"], derived={c: ["n"] for c in summary_stats},
            formatters={c: (lambda v: f"{v:.2f}") for c in summary_stats}, min_cell=min_cell,
        ),
    }



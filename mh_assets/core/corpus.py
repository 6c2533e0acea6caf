"""The descriptor corpus: one text per patient, made of their diagnoses' descriptors.

Following the study, each patient's ICD-10 codes (principal diagnosis first, then the
secondary fields in order) are replaced by their descriptors and joined into one text
that the language model reads. Unlike the published code, codes are normalised before
the lookup (see :mod:`mh_assets.core.icd`), a retired code borrows its nearest valid
ancestor's descriptor, and a code with no descriptor at all is kept as the code itself
so it still reaches the model as a distinct token instead of a shared "NOCODE".

The same code twice in one record carries no extra information, so duplicates are
dropped keeping the first position. Everything is vectorised over list columns; only
the distinct codes (thousands) are resolved individually.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from mh_assets.core import schema
from mh_assets.core.icd import DescriptorTable, display_expr, normalise_expr, resolve_codes

YEAR_SOURCE, YEAR = "Year", "year"
STAY_SOURCE, DAYS_OF_STAY = "DaysOfStay", "days_of_stay"
COVARIATES = {schema.AGE: schema.AGE, YEAR_SOURCE: YEAR, STAY_SOURCE: DAYS_OF_STAY}
# Outcomes the registry records but no representation reads: the confounder audit
# reports them and the representation evaluation predicts them. APR severity, mortality
# risk and cost come from the APR-DRG grouper, which reads the same diagnoses.
APR_SEVERITY, APR_MORTALITY, APR_COST, DISCHARGE_TYPE = (
    "apr_severity", "apr_mortality_risk", "apr_cost", "discharge_type")
OUTCOMES = {"APRSeverityLevel": APR_SEVERITY, "APRMortalityRisk": APR_MORTALITY,
            "APRCost": APR_COST, "DischargeType": DISCHARGE_TYPE}
#: Between a retired code and the ancestor whose descriptor it borrows, in the coverage
#: record's ``top_substitutions`` keys ("T407X1A->T407").
SUBSTITUTION = "->"


def input_columns(available: Iterable[str]) -> list[str]:
    """The cohort columns :func:`build_corpus` reads, of those ``available``: a reader can
    decode only these (a cohort has ~80 columns; the corpus needs ~30)."""
    needed = {schema.PATIENT_ID, schema.SEX, *schema.DIAGNOSIS_COLUMNS, *COVARIATES, *OUTCOMES}
    return [c for c in available if c in needed]


def build_corpus(cohort: pl.DataFrame, table: DescriptorTable, sex: str) -> pl.DataFrame:
    """One row per cohort record of ``sex``, in cohort order.

    Columns: ``patient_id``, ``sex``, ``codes`` (normalised, principal first, blanks and
    repeats dropped), ``n_codes`` (Int32), ``resolved_codes`` (the code whose descriptor
    was used; the code itself when unresolved), ``descriptors`` (the code itself when
    unresolved), ``resolution`` ("exact" / "ancestor" / "unresolved"), ``text``
    (descriptors joined with ``schema.DESCRIPTOR_SEPARATOR``), ``age_at_admission``,
    ``year``, ``days_of_stay``, and the outcomes ``apr_severity``,
    ``apr_mortality_risk``, ``apr_cost`` and ``discharge_type`` (null where the cohort
    lacks the column: a pruned extract may).
    """
    if sex not in schema.SEXES:
        raise ValueError(f"sex must be one of {schema.SEXES}, got {sex!r}")
    required = [schema.PATIENT_ID, schema.SEX, schema.PRINCIPAL, *COVARIATES]
    missing = [c for c in required if c not in cohort.columns]
    if missing:
        raise ValueError(f"the cohort lacks column(s) {missing} needed for the descriptor corpus")
    fields = [c for c in schema.DIAGNOSIS_COLUMNS if c in cohort.columns]

    records = cohort.filter(pl.col(schema.SEX) == sex).with_columns(
        pl.lit(None).alias(src) for src in OUTCOMES if src not in cohort.columns
    )
    raw = [pl.col(c).cast(pl.Utf8) for c in fields]

    # Resolve each distinct raw value once, then work with integer code ids: building
    # and de-duplicating 20 string columns per patient is several times slower.
    distinct = records.select(
        pl.concat([r.drop_nulls().unique() for r in raw]).unique().alias("raw")
    )
    keys = distinct.with_columns(normalise_expr(pl.col("raw")).alias("code"))
    resolved = (
        resolve_codes(keys["code"], table)
        .with_columns(
            pl.col("resolved_code").fill_null(pl.col("code")),
            pl.col("descriptor").fill_null(pl.col("code")),
        )
        .with_row_index("id")
    )
    ids = keys.join(resolved.select("code", "id"), on="code", how="inner")
    to_id = [
        r.replace_strict(ids["raw"], ids["id"], default=None, return_dtype=pl.UInt32) for r in raw
    ]
    lists = (
        pl.concat_arr(to_id)  # a fixed-size array per record: far cheaper than concat_list
        .arr.to_list()
        .list.drop_nulls()
        .list.unique(maintain_order=True)
    )
    frame = records.select(
        pl.col(schema.PATIENT_ID),
        pl.col(schema.SEX),
        lists.alias("_ids"),
        *[pl.col(src).alias(dst) for src, dst in COVARIATES.items()],
        *[pl.col(src).alias(dst) for src, dst in OUTCOMES.items()],
    )

    def lookup(column: str) -> pl.Expr:
        if resolved.height == 0:
            # No codes at all (every list is empty). polars 2.1 leaves an empty mapping's
            # output as list[u32] while planning it as list[str], so cast explicitly.
            return pl.col("_ids").cast(pl.List(pl.Utf8))
        return pl.col("_ids").list.eval(
            pl.element().replace_strict(resolved["id"], resolved[column], return_dtype=pl.Utf8)
        )

    return frame.with_columns(
        lookup("code").alias(schema.CODES),
        pl.col("_ids").list.len().cast(pl.Int32).alias(schema.N_CODES),
        lookup("resolved_code").alias(schema.RESOLVED_CODES),
        lookup("descriptor").alias(schema.DESCRIPTORS),
        lookup("resolution").alias(schema.RESOLUTION),
    ).select(
        schema.PATIENT_ID,
        schema.SEX,
        schema.CODES,
        schema.N_CODES,
        schema.RESOLVED_CODES,
        schema.DESCRIPTORS,
        schema.RESOLUTION,
        pl.col(schema.DESCRIPTORS).list.join(schema.DESCRIPTOR_SEPARATOR).alias(schema.TEXT),
        *COVARIATES.values(),
        *OUTCOMES.values(),
    )


@dataclass(frozen=True)
class CoverageThresholds:
    """Minimum share of code occurrences that must find a descriptor."""

    exact: float = 0.99
    with_ancestors: float = 0.999


@dataclass(frozen=True)
class CoverageReport:
    """How many code occurrences found a descriptor, and how.

    ``unresolved_codes`` (code, count) and ``substitutions`` (code, resolved_code,
    count) are aggregates over the whole corpus, sorted by count, descending.
    """

    occurrences: int
    exact: int
    ancestor: int
    unresolved: int
    exact_share: float
    with_ancestors_share: float
    unresolved_codes: pl.DataFrame
    substitutions: pl.DataFrame

    def as_metadata(
        self, top: int = 20, min_cell: int = 10
    ) -> dict[str, int | float | dict[str, str]]:
        """Counts and shares; the most frequent unresolved codes with small counts masked."""

        def masked(frame: pl.DataFrame, key: pl.Expr) -> dict[str, str]:
            rows = frame.head(top).select(key.alias("k"), pl.col("count")).iter_rows()
            return {k: (str(n) if n >= min_cell else f"<{min_cell}") for k, n in rows}

        return {
            "code_occurrences": self.occurrences,
            "codes_exact": self.exact,
            "codes_ancestor": self.ancestor,
            "codes_unresolved": self.unresolved,
            "exact_share": round(self.exact_share, 6),
            "with_ancestors_share": round(self.with_ancestors_share, 6),
            "distinct_unresolved_codes": self.unresolved_codes.height,
            "top_unresolved_codes": masked(self.unresolved_codes, pl.col("code")),
            "top_substitutions": masked(
                self.substitutions,
                pl.concat_str([pl.col("code"), pl.lit(SUBSTITUTION), pl.col("resolved_code")]),
            ),
        }


def _occurrence_counts(corpus: pl.DataFrame) -> pl.DataFrame:
    """(code, resolved_code, resolution, count) over every code occurrence."""
    return (
        corpus.select(
            pl.col(schema.CODES).alias("code"),
            pl.col(schema.RESOLVED_CODES).alias("resolved_code"),
            pl.col(schema.RESOLUTION).alias("resolution"),
        )
        .explode(["code", "resolved_code", "resolution"], empty_as_null=False, keep_nulls=False)
        # Within one corpus a code always resolves the same way: group by the code alone.
        .group_by("code")
        .agg(pl.len().alias("count"), pl.first("resolved_code"), pl.first("resolution"))
    )


def coverage(corpus: pl.DataFrame) -> CoverageReport:
    """Coverage of a corpus from :func:`build_corpus`; shares are 0.0 when it has no codes."""
    counts = _occurrence_counts(corpus)
    by_resolution = dict(counts.group_by("resolution").agg(pl.col("count").sum()).iter_rows())
    exact, ancestor = by_resolution.get("exact", 0), by_resolution.get("ancestor", 0)
    unresolved = by_resolution.get("unresolved", 0)
    total = exact + ancestor + unresolved
    order = dict(descending=[True, False], maintain_order=True)
    return CoverageReport(
        occurrences=total,
        exact=exact,
        ancestor=ancestor,
        unresolved=unresolved,
        exact_share=exact / total if total else 0.0,
        with_ancestors_share=(exact + ancestor) / total if total else 0.0,
        unresolved_codes=counts.filter(pl.col("resolution") == "unresolved")
        .select("code", "count")
        .sort(["count", "code"], **order),
        substitutions=counts.filter(pl.col("resolution") == "ancestor")
        .select("code", "resolved_code", "count")
        .sort(["count", "code"], **order),
    )


def naive_coverage(corpus: pl.DataFrame, table: DescriptorTable) -> float:
    """Share of occurrences the study's lookup matched: the dotted code, as written.

    The registry writes every code longer than three characters with a dot after the
    third, and the descriptor table has no dots, so only bare categories matched.
    """
    counts = (
        corpus.select(
            pl.col(schema.CODES).explode(empty_as_null=False, keep_nulls=False).alias("code")
        )
        .group_by("code")
        .len("count")
    )
    total = counts["count"].sum()
    if not total:
        return 0.0
    matched = counts.filter(display_expr(pl.col("code")).is_in(table.frame["code"].implode()))
    return float(matched["count"].sum() / total)

"""Supplementary Table 1: patients with a code of each SUD group, by sex.

``sud_by_sex`` returns the *restricted* aggregate (full precision, exact counts);
``publish_sud_by_sex`` the small-cell-suppressed copy that may leave ``restricted/``.

Input contract (the ``cohort`` frame, one row per admission; see :mod:`mh_assets.core.schema`):
``patient_id``, ``sex`` ("female"/"male"), ``PrincipalDiagnosis`` and
``Diagnosis2``..``Diagnosis20`` (ICD-10 codes with a dot, null when blank). Rows with
another sex value are ignored, so ``total = male_n + female_n`` holds.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mh_assets.core.publish.intervals import format_interval, wilson_interval
from mh_assets.core.publish.suppression import (
    RowMargin,
    suppress,
)
from mh_assets.core.schema import (
    DIAGNOSIS_COLUMNS,
    PATIENT_ID,
    SEX,
    SEXES,
)

# The study's Supplementary Table 1 groups, then the two blocks it left out.
SUD_GROUPS: tuple[tuple[str, str], ...] = (
    ("F11", "Opioids"),
    ("F12", "Cannabis"),
    ("F13", "Sedatives, hypnotics or anxiolytics"),
    ("F14", "Cocaine"),
    ("F15", "Other stimulants"),
    ("F16", "Hallucinogens"),
    ("F18", "Other drugs (inhalants)"),
    ("F19", "Other or multiple psychoactive substances"),
)
SUD_ADDITIONS: tuple[tuple[str, str], ...] = (("F10", "Alcohol"), ("F17", "Nicotine"))

# The study's columns, then the Wilson 95% CI bounds of each rate (percent, full precision).
SUD_COLUMNS = (
    "group", "icd10_block", "total", "rate_pct", "male_n", "male_pct",
    "female_n", "female_pct", "p_value", "addition",
    "rate_ci_low", "rate_ci_high", "male_ci_low", "male_ci_high",
    "female_ci_low", "female_ci_high",
)
# The published table: each rate followed by its CI as one "low–high" column.
SUD_PUBLISHED = (
    "group", "icd10_block", "total", "rate_pct", "rate_ci", "male_n", "male_pct", "male_ci",
    "female_n", "female_pct", "female_ci", "p_value", "addition",
)
SUD_HEADERS = {
    "group": "Substance group", "icd10_block": "ICD-10", "total": "Total n",
    "rate_pct": "Rate (%)", "rate_ci": "Rate 95% CI", "male_n": "Males n",
    "male_pct": "% of males", "male_ci": "Males 95% CI", "female_n": "Females n",
    "female_pct": "% of females", "female_ci": "Females 95% CI", "p_value": "p",
    "addition": "Added",
}
# (rate, the count it is of, its published CI column, the CI bounds' prefix)
_RATES = (("rate_pct", "total", "rate_ci", "rate"), ("male_pct", "male_n", "male_ci", "male"),
          ("female_pct", "female_n", "female_ci", "female"))


def sexed_rows(cohort: pl.DataFrame) -> pl.DataFrame:
    return cohort.filter(pl.col(SEX).is_in(list(SEXES)))


def _chi2_2x2(has_m: int, n_m: int, has_f: int, n_f: int) -> float:
    """Yates-corrected chi-square p of sex x has/has-not, exactly as scipy's default."""
    from scipy import stats  # here, not at import: the code location loads faster

    table = np.array([[has_m, n_m - has_m], [has_f, n_f - has_f]])
    try:
        with np.errstate(all="ignore"):
            return float(stats.chi2_contingency(table).pvalue)
    except ValueError:  # a zero margin: no test is possible
        return float("nan")


def sud_by_sex(cohort: pl.DataFrame) -> pl.DataFrame:
    """Patients with a code of each SUD block in any diagnosis field, by sex.

    Columns ``SUD_COLUMNS``; the eight study groups sorted by rate (descending, then
    block), then F10 and F17 with ``addition=True``. A code belongs to block F1x
    when its first three characters (trimmed, upper-case) are F1x; a patient counts
    once per block however many fields or admissions carry it. Percentages are of
    all patients / all males / all females, at full precision; ``*_ci_low`` /
    ``*_ci_high`` bound each with its Wilson 95% CI (percent).
    """
    cohort = sexed_rows(cohort)
    diag = [c for c in DIAGNOSIS_COLUMNS if c in cohort.columns]
    blocks = [b for b, _ in (*SUD_GROUPS, *SUD_ADDITIONS)]
    patients = cohort.select(PATIENT_ID, SEX).unique()
    n_sex = dict(patients.group_by(SEX).len().iter_rows())
    n_m, n_f = int(n_sex.get("male", 0)), int(n_sex.get("female", 0))
    hits = (
        cohort.select(PATIENT_ID, SEX, *diag)
        .unpivot(index=[PATIENT_ID, SEX], on=diag, value_name="code")
        .select(
            PATIENT_ID, SEX,
            block=pl.col("code").str.strip_chars().str.to_uppercase().str.slice(0, 3),
        )
        .filter(pl.col("block").is_in(blocks))
        .unique()
        .group_by("block", SEX)
        .len()
    )
    counts = {(b, s): int(n) for b, s, n in hits.iter_rows()}
    rows = []
    for addition, groups in ((False, SUD_GROUPS), (True, SUD_ADDITIONS)):
        for block, name in groups:
            male, female = counts.get((block, "male"), 0), counts.get((block, "female"), 0)
            rows.append({
                "group": name, "icd10_block": block, "total": male + female,
                "rate_pct": percent(male + female, n_m + n_f),
                "male_n": male, "male_pct": percent(male, n_m),
                "female_n": female, "female_pct": percent(female, n_f),
                "p_value": _chi2_2x2(male, n_m, female, n_f), "addition": addition,
                **_ci("rate", male + female, n_m + n_f), **_ci("male", male, n_m),
                **_ci("female", female, n_f),
            })
    schema = {
        "group": pl.String, "icd10_block": pl.String, "total": pl.Int64, "rate_pct": pl.Float64,
        "male_n": pl.Int64, "male_pct": pl.Float64, "female_n": pl.Int64,
        "female_pct": pl.Float64, "p_value": pl.Float64, "addition": pl.Boolean,
        **{c: pl.Float64 for c in SUD_COLUMNS if c.endswith(("_ci_low", "_ci_high"))},
    }
    frame = pl.DataFrame(rows, schema=schema)
    return frame.sort(["addition", "rate_pct", "icd10_block"], descending=[False, True, False])


def percent(n: int, d: int) -> float:
    return 100.0 * n / d if d else float("nan")


def _ci(prefix: str, n: int, d: int) -> dict[str, float]:
    """The Wilson 95% CI of ``n`` of ``d``, in percent (NaN when ``d`` is 0)."""
    low, high = wilson_interval(n, d)
    return {f"{prefix}_ci_low": 100.0 * float(low), f"{prefix}_ci_high": 100.0 * float(high)}


def format_p(p: float) -> str:
    """Four decimals, as the study printed; below that, ``<0.0001``."""
    if p is None or np.isnan(p):
        return ""
    return "<0.0001" if p < 0.0001 else f"{p:.4f}"


def publish_sud_by_sex(table: pl.DataFrame, min_cell: int = 10) -> pl.DataFrame:
    """The suppressed, all-string copy of :func:`sud_by_sex` for ``tables/sud_by_sex.*``.

    ``total = male_n + female_n`` is a published relation, so one hidden sex forces
    the other (or the total) hidden; the p-value is hidden whenever any count of its
    row is, because with the published group sizes it determines the cell. Each rate's
    Wilson 95% CI (``rate_ci``, ``male_ci``, ``female_ci``: "low–high", two decimals
    like the rate) is hidden with its count, whose value its bounds determine.
    Columns ``SUD_PUBLISHED``.
    """
    intervals = {
        ci: [format_interval(lo, hi, 2) for lo, hi in zip(
            table[f"{prefix}_ci_low"].to_list(), table[f"{prefix}_ci_high"].to_list(),
            strict=True)]
        for _, _, ci, prefix in _RATES
    }
    table = table.with_columns(
        pl.Series(ci, values, dtype=pl.String) for ci, values in intervals.items()
    ).select(SUD_PUBLISHED)
    return suppress(
        table,
        ["total", "male_n", "female_n"],
        pct_for={rate: count for rate, count, _, _ in _RATES},
        row_margins=[RowMargin("total", ("male_n", "female_n"))],
        derived={"p_value": ["total", "male_n", "female_n"],
                 **{ci: [count] for _, count, ci, _ in _RATES}},
        min_cell=min_cell,
        formatters={"p_value": format_p, "addition": lambda v: "yes" if v else "no"},
    )



"""The study's published tables: SUD prevalence by sex and the cohort descriptives.

Every function here returns the *restricted* aggregate (full precision, exact
counts); the ``publish_*`` functions return the small-cell-suppressed copy that
may leave ``restricted/``. Writers put a frame on disk as CSV, XLSX and DOCX.

Input contract (the ``cohort`` frame, one row per admission; see ``schema.py``):
``patient_id``, ``sex`` ("female"/"male"), ``Year`` (int), ``PrincipalDiagnosis``
and ``Diagnosis2``..``Diagnosis20`` (ICD-10 codes with a dot, null when blank),
``DaysOfStay`` (int), ``APRSeverityLevel`` (int 1-4), ``APRCost`` (float).
Rows with another sex value are ignored, so ``total = male_n + female_n`` holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

from mh_assets.core.artifacts import ArtifactStore
from mh_assets.core.schema import (
    DIAGNOSIS_COLUMNS,
    PATIENT_ID,
    PRINCIPAL,
    SEX,
    SEXES,
)
from mh_assets.core.suppression import (
    ColumnMargin,
    RowMargin,
    suppress,
    suppression_footnote,
)

YEAR = "Year"
STAY = "DaysOfStay"
SEVERITY = "APRSeverityLevel"
COST = "APRCost"
OTHER = "other"

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

SUD_COLUMNS = (
    "group", "icd10_block", "total", "rate_pct", "male_n", "male_pct",
    "female_n", "female_pct", "p_value", "addition",
)
SUD_HEADERS = {
    "group": "Substance group", "icd10_block": "ICD-10", "total": "Total n",
    "rate_pct": "Rate (%)", "male_n": "Males n", "male_pct": "% of males",
    "female_n": "Females n", "female_pct": "% of females", "p_value": "p",
    "addition": "Not in the study's table",
}

DescriptorLookup = Mapping[str, str] | Callable[[str], str | None]


# --------------------------------------------------------------------------- SUD by sex


def _sexed(cohort: pl.DataFrame) -> pl.DataFrame:
    return cohort.filter(pl.col(SEX).is_in(list(SEXES)))


def _chi2_2x2(has_m: int, n_m: int, has_f: int, n_f: int) -> float:
    """Yates-corrected chi-square p of sex x has/has-not, exactly as scipy's default."""
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
    all patients / all males / all females, at full precision.
    """
    cohort = _sexed(cohort)
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
                "rate_pct": _pct(male + female, n_m + n_f),
                "male_n": male, "male_pct": _pct(male, n_m),
                "female_n": female, "female_pct": _pct(female, n_f),
                "p_value": _chi2_2x2(male, n_m, female, n_f), "addition": addition,
            })
    schema = {
        "group": pl.String, "icd10_block": pl.String, "total": pl.Int64, "rate_pct": pl.Float64,
        "male_n": pl.Int64, "male_pct": pl.Float64, "female_n": pl.Int64,
        "female_pct": pl.Float64, "p_value": pl.Float64, "addition": pl.Boolean,
    }
    frame = pl.DataFrame(rows, schema=schema)
    return frame.sort(["addition", "rate_pct", "icd10_block"], descending=[False, True, False])


def _pct(n: int, d: int) -> float:
    return 100.0 * n / d if d else float("nan")


def format_p(p: float) -> str:
    """Four decimals, as the study printed; below that, ``<0.0001``."""
    if p is None or np.isnan(p):
        return ""
    return "<0.0001" if p < 0.0001 else f"{p:.4f}"


def publish_sud_by_sex(table: pl.DataFrame, min_cell: int = 10) -> pl.DataFrame:
    """The suppressed, all-string copy of :func:`sud_by_sex` for ``tables/sud_by_sex.*``.

    ``total = male_n + female_n`` is a published relation, so one hidden sex forces
    the other (or the total) hidden; the p-value is hidden whenever any count of its
    row is, because with the published group sizes it determines the cell.
    """
    return suppress(
        table,
        ["total", "male_n", "female_n"],
        pct_for={"rate_pct": "total", "male_pct": "male_n", "female_pct": "female_n"},
        row_margins=[RowMargin("total", ("male_n", "female_n"))],
        derived={"p_value": ["total", "male_n", "female_n"]},
        min_cell=min_cell,
        formatters={"p_value": format_p, "addition": lambda v: "yes" if v else "no"},
    )


# --------------------------------------------------------------------------- descriptives


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
    cohort = _sexed(cohort)
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
    female, male = _values(cohort, column, "female"), _values(cohort, column, "male")
    if len(female) == 0 or len(male) == 0:
        return ("Mann-Whitney U", column, None, None, None, len(female), len(male))
    result = stats.mannwhitneyu(female, male, alternative="two-sided")
    return ("Mann-Whitney U", column, float(result.statistic), None, float(result.pvalue),
            len(female), len(male))


def _chi2(table: pl.DataFrame, variable: str) -> tuple:
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


# --------------------------------------------------------------------------- writers


def write_table(
    frame: pl.DataFrame,
    stem: str | Path,
    *,
    title: str = "",
    footnote: str | None = None,
    headers: Mapping[str, str] | None = None,
    store: ArtifactStore | None = None,
    min_cell: int = 10,
) -> list[Path]:
    """Write ``stem.csv``, ``stem.xlsx`` and ``stem.docx``, each atomically.

    With ``store``, ``stem`` is relative to its root (``tables/sud_by_sex``) and
    ``restricted/`` permissions apply; without, it is a path and files are renamed
    into place from temporary siblings. CSV and XLSX keep the column names (machine
    readable); the DOCX is the journal table, with ``headers`` as display names, a
    title and the suppression footnote (``footnote=""`` for none).
    """
    if store is None:
        stem = Path(stem)
        store, stem = ArtifactStore(stem.parent), stem.name
    note = suppression_footnote(min_cell) if footnote is None else footnote
    written = []
    for suffix, writer in ((".csv", _write_csv), (".xlsx", _write_xlsx), (".docx", _write_docx)):
        with store.atomic_file(f"{stem}{suffix}") as tmp:
            writer(frame, tmp, title, note, headers or {})
        written.append(store.path(f"{stem}{suffix}"))
    return written


def _write_csv(frame: pl.DataFrame, path: Path, *_: object) -> None:
    frame.write_csv(path)


def _write_xlsx(frame: pl.DataFrame, path: Path, title: str, note: str, _: object) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "table"
    sheet.append(frame.columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in frame.iter_rows():
        sheet.append([_xlsx_value(v) for v in row])
    notes = book.create_sheet("notes")
    for line in (title, note):
        if line:
            notes.append([line])
    book.save(path)


def _xlsx_value(value: object) -> object:
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _write_docx(
    frame: pl.DataFrame, path: Path, title: str, note: str, headers: Mapping[str, str]
) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    if title:
        doc.add_paragraph().add_run(title).bold = True
    table = doc.add_table(rows=1, cols=len(frame.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, frame.columns, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(headers.get(name, name)).bold = True
    for row in frame.iter_rows():
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = _cell_text(value)
    if note:
        run = doc.add_paragraph().add_run(note)
        run.font.size = Pt(8)
    doc.save(str(path))


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_preview(frame: pl.DataFrame, max_rows: int = 30) -> str:
    """A Markdown table of an aggregate frame for Dagster metadata.

    ``|``, ``<`` and ``>`` are backslash-escaped so a cell can neither split the
    table nor be read as an HTML tag by the UI's renderer.
    """
    shown = frame.head(max_rows)

    def cell(value: object) -> str:
        text = _cell_text(value).replace("\n", " ")
        return text.replace("|", "\\|").replace("<", "\\<").replace(">", "\\>")

    lines = [
        "| " + " | ".join(cell(c) for c in shown.columns) + " |",
        "| " + " | ".join("---" for _ in shown.columns) + " |",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()),
    ]
    if frame.height > max_rows:
        lines.append(f"\n_{frame.height - max_rows} more rows not shown_")
    return "\n".join(lines)


def table_columns(frame: pl.DataFrame) -> Sequence[tuple[str, str]]:
    """(name, dtype) pairs, for a ``dagster/column_schema``."""
    return [(name, str(dtype)) for name, dtype in frame.schema.items()]

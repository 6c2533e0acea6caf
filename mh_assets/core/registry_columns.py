"""The RAE-CMBD columns: Spanish headers, English names, and how each value is parsed.

Real extracts arrive with Spanish headers (sometimes with the accents lost by a tool
or an encoding round trip); analysts' "pruned" copies use English names. Both are
matched through one normalised key so that every later stage sees one schema, and
the output always has every canonical column, whatever the extract carried.

Values are parsed with polars expressions over whole columns. The registry's usual
layout takes a fast fixed-format path; the tolerant parsers (a birth date that lost
its leading zero, a date without a time) and the placeholder check run only on the
few values that need them. What cannot be parsed in a column the study uses becomes
a value-free reason in ``row_issues``, never an exception: one bad row must not
block a million good ones.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from mh_assets.core.schema import (
    DIAGNOSIS_COLUMNS,
    N_DIAGNOSES,
    PRINCIPAL,
    RECORD_NUMBER,
    ROW_ISSUES,
)

N_PROCEDURES = 20
N_EXTERNAL_PROCEDURES = 6
N_MORPHOLOGIES = 6

# Canonical (English) name -> Spanish header, in the registry's column order.
_FIXED_HEAD: tuple[tuple[str, str], ...] = (
    ("Year", "Año"),
    ("AutonomousCommunity", "Comunidad Autónoma"),
    ("Province", "Provincia"),
    ("DateOfBirth", "Fecha de nacimiento"),
    ("Sex", "Sexo"),
    ("AutonomousCommunityResidence", "CCAA Residencia"),
    ("ProvinceResidence", "Provincia Residencia"),
    ("AdmissionDate", "Fecha de Ingreso"),
    ("ContactEndDate", "Fecha de Fin Contacto"),
    ("InterventionDate", "Fecha de Intervención"),
    ("DischargeType", "Tipo Alta"),
    ("FinancingRegime", "Régimen Financiación"),
    ("ContactCircumstance", "Circunstancia de Contacto"),
    ("DaysOfStay", "Estancia Días"),
    (PRINCIPAL, "Diagnóstico Principal"),
    ("PrincipalDiagnosisChapter", "Capitulo Diagnóstico Principal"),
    ("PrincipalDiagnosisSection", "Sección Diagnóstico Principal"),
    ("PrincipalDiagnosisCategory", "Categoría Diagnóstico Principal"),
    ("PrincipalDiagnosisSubcategory", "Subcategoría Diagnóstico Principal"),
)
_FIXED_TAIL: tuple[tuple[str, str], ...] = (
    ("APRDRG", "GRD APR"),
    ("APRDRGType", "Tipo GRD APR"),
    ("APRSeverityLevel", "Nivel Severidad APR"),
    ("APRMortalityRisk", "Riesgo Mortalidad APR"),
    ("APRSpanishWeight", "Peso Español APR"),
    ("APRCost", "Coste APR"),
)

PROCEDURE_COLUMNS = tuple(f"Procedure{i}" for i in range(1, N_PROCEDURES + 1))
EXTERNAL_PROCEDURE_COLUMNS = tuple(
    f"ExternalProcedure{i}" for i in range(1, N_EXTERNAL_PROCEDURES + 1)
)
MORPHOLOGY_COLUMNS = tuple(f"Morphology{i}" for i in range(1, N_MORPHOLOGIES + 1))

SPANISH_HEADERS: dict[str, str] = {
    **dict(_FIXED_HEAD),
    **{f"Diagnosis{i}": f"Diagnóstico {i}" for i in range(2, N_DIAGNOSES + 1)},
    **{f"Procedure{i}": f"Procedimiento {i}" for i in range(1, N_PROCEDURES + 1)},
    **{
        f"ExternalProcedure{i}": f"Procedimiento Externo {i}"
        for i in range(1, N_EXTERNAL_PROCEDURES + 1)
    },
    **{f"Morphology{i}": f"Morfología {i}" for i in range(1, N_MORPHOLOGIES + 1)},
    **dict(_FIXED_TAIL),
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(SPANISH_HEADERS)

REQUIRED_COLUMNS: tuple[str, ...] = (
    "Year",
    "DateOfBirth",
    "Sex",
    "AdmissionDate",
    "ContactEndDate",
    PRINCIPAL,
)

DATE_COLUMNS = ("DateOfBirth",)
DATETIME_COLUMNS = ("AdmissionDate", "ContactEndDate", "InterventionDate")
# Codes are trimmed and upper-cased; the ICD-10 ones are also shape-checked.
CODE_COLUMNS: tuple[str, ...] = (
    *DIAGNOSIS_COLUMNS,
    *PROCEDURE_COLUMNS,
    *EXTERNAL_PROCEDURE_COLUMNS,
    *MORPHOLOGY_COLUMNS,
)
DECIMAL_COMMA_COLUMNS = ("APRSpanishWeight", "APRCost")
INTEGER_COLUMNS: dict[str, pl.DataType] = {
    "Year": pl.Int16(),
    "Sex": pl.Int8(),
    "DaysOfStay": pl.Int32(),
    "APRSeverityLevel": pl.Int8(),
    "APRMortalityRisk": pl.Int8(),
}
# Columns whose unparsable values are row-level problems: the study uses them.
# Elsewhere (stay length, APR weights) an unparsable value only becomes null.
STUDY_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, *DIAGNOSIS_COLUMNS[1:])

DATETIME_DTYPE = pl.Datetime("us")


def canonical_dtype(name: str) -> pl.DataType:
    """The dtype a canonical column has after parsing (strings unless stated)."""
    if name in INTEGER_COLUMNS:
        return INTEGER_COLUMNS[name]
    if name in DATE_COLUMNS:
        return pl.Date()
    if name in DATETIME_COLUMNS:
        return DATETIME_DTYPE
    if name in DECIMAL_COMMA_COLUMNS:
        return pl.Float64()
    return pl.String()


def _strip_accents(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def header_keys(header: str) -> list[str]:
    """Matching keys for a header, most specific first: case, spacing and accents do not matter.

    Two keys because an accent can be lost two ways: decomposed to its base letter
    (``Año`` -> ``Ano``) or dropped entirely, e.g. replaced by ``?`` or U+FFFD by a
    tool that could not encode it (``A?o`` -> ``Ao``).
    """
    lowered = header.strip().lower()
    keys = [re.sub(r"[^a-z0-9]", "", _strip_accents(lowered)), re.sub(r"[^a-z0-9]", "", lowered)]
    return [key for key in dict.fromkeys(keys) if key]


def _build_lookup() -> dict[str, tuple[str, str]]:
    lookup: dict[str, tuple[str, str]] = {}
    for canonical, spanish in SPANISH_HEADERS.items():
        for key in header_keys(spanish):
            lookup[key] = (canonical, "es")
    for canonical in CANONICAL_COLUMNS:
        for key in header_keys(canonical):
            lookup[key] = (canonical, "en")
    return lookup


_LOOKUP = _build_lookup()


def map_header(header: str) -> tuple[str | None, str | None]:
    """(canonical name, "es"/"en") for a known header, (None, None) otherwise."""
    for key in header_keys(header):
        if key in _LOOKUP:
            return _LOOKUP[key]
    return None, None


def unknown_column_name(header: str, position: int) -> str:
    """An unknown header kept under a name of letters and digits only."""
    name = re.sub(r"[^A-Za-z0-9]", "", _strip_accents(header))
    return name or f"Column{position + 1}"


# --------------------------------------------------------------------------- parsing

# ICD-10 shape: letter, digit, alphanumeric, then optionally (dot optional) 1-4
# alphanumerics. Placeholders of Z's with a trailing letter are a registry convention.
ICD10_SHAPE = r"^[A-Z][0-9][A-Z0-9](?:\.?[A-Z0-9]{1,4})?$"
PLACEHOLDER = r"^Z{2,}\.?Z*[A-Z]$"
_DATETIME = r"^(?P<date>\d{7,8})(?:[ T]+(?P<hour>\d{1,2}):?(?P<minute>\d{2}))?$"


def reason_lists(flags: pl.DataFrame) -> pl.Series:
    """Per row, the names of the boolean columns that are true, in column order.

    Building lists element-wise (``concat_list`` of one literal per reason) costs
    seconds per million rows; instead each row's reasons are packed into a bit mask,
    the list is built once per distinct mask (there are few), and joined back.
    """
    names = flags.columns
    if len(names) > 63:
        raise ValueError("at most 63 reasons can be packed into one mask")
    if not names:
        return pl.Series(values=[[]] * flags.height, dtype=pl.List(pl.String))
    bits = [
        pl.col(n).fill_null(False).cast(pl.UInt64) * pl.lit(1 << i, pl.UInt64)
        for i, n in enumerate(names)
    ]
    masks = flags.select(pl.sum_horizontal(bits).alias("mask"))
    distinct = masks["mask"].unique().to_list()
    lists = [[n for i, n in enumerate(names) if m >> i & 1] for m in distinct]
    table = pl.DataFrame(
        {"mask": distinct, "reasons": lists},
        schema={"mask": pl.UInt64, "reasons": pl.List(pl.String)},
    )
    return masks.join(table, on="mask", how="left", maintain_order="left")["reasons"]


def _needs_rewrite(columns: list[str], odd_whitespace: bool) -> list[pl.Expr]:
    """Per column: does any value need stripping (or, for codes, upper-casing)?

    Stripping and upper-casing every string costs seconds per million rows and real
    extracts rarely need it, so each column is checked first. Literal space tests are
    much cheaper than a regex; the regex is used where it is needed anyway (codes) or
    where the file holds other whitespace (tabs, no-break spaces).
    """
    exprs = []
    for column in columns:
        value = pl.col(column)
        if column in CODE_COLUMNS:
            needs = value.str.contains(r"^\s|\s$|[a-z]")
        elif odd_whitespace:
            needs = value.str.contains(r"^\s|\s$")
        else:
            needs = value.str.starts_with(" ") | value.str.ends_with(" ")
        exprs.append(needs.any().fill_null(False).alias(column))
    return exprs


def _clean(column: str, rewrite: bool) -> pl.Expr:
    value = pl.col(column)
    if rewrite:
        value = value.str.strip_chars()
        if column in CODE_COLUMNS:
            value = value.str.to_uppercase()
    return pl.when(value != "").then(value)


def _fast_parse(column: str) -> pl.Expr:
    """The parse for values in the registry's usual layout (nearly all of them).

    Dates go through a fixed-format parser only when the length is exactly right:
    chrono would otherwise read ``7112001`` as 11/12/0001 instead of failing.
    """
    value = pl.col(column)
    if column in INTEGER_COLUMNS:
        return value.cast(INTEGER_COLUMNS[column], strict=False)
    if column in DATE_COLUMNS:
        parsed = value.str.to_date("%d%m%Y", strict=False)
        return pl.when(value.str.len_bytes() == 8).then(parsed)
    if column in DATETIME_COLUMNS:
        parsed = value.str.to_datetime("%d%m%Y %H%M", strict=False, time_unit="us")
        return pl.when(value.str.len_bytes() == 13).then(parsed).cast(canonical_dtype(column))
    if column in DECIMAL_COMMA_COLUMNS:
        european = value.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        return (
            pl.when(value.str.contains(",", literal=True))
            .then(european)
            .otherwise(value)
            .cast(pl.Float64, strict=False)
        )
    return value


def _slow_parse(column: str) -> pl.Expr:
    """The tolerant parse, run only on the few values the fast one did not take."""
    value = pl.col(column)
    if column in DATE_COLUMNS:
        # Tools that store the date as a number drop its leading zero: left-pad to 8.
        padded = pl.when(value.str.contains(r"^\d{7,8}$")).then(value.str.zfill(8))
        return padded.str.to_date("%d%m%Y", strict=False)
    parts = value.str.extract_groups(_DATETIME)
    return (
        pl.concat_str(
            parts.struct.field("date").str.zfill(8),
            parts.struct.field("hour").fill_null("0").str.zfill(2),
            parts.struct.field("minute").fill_null("00"),
        )
        .str.to_datetime("%d%m%Y%H%M", strict=False, time_unit="us")
        .cast(canonical_dtype(column))
    )


def _patch(parsed: pl.DataFrame, cleaned: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Finish dates the fast parse left null, and null placeholder codes.

    Both touch few values, so they run on the gathered subset and are scattered back
    rather than evaluated (at regex cost) on every row.
    """
    checks = {
        c: pl.col(c).str.starts_with("ZZ")  # cheap literal pre-test for a placeholder
        if c in CODE_COLUMNS
        else pl.col(c).is_not_null() & pl.col(f"{c}__parsed").is_null()
        for c in columns
        if c in CODE_COLUMNS or c in DATE_COLUMNS or c in DATETIME_COLUMNS
    }
    candidates = parsed.select(
        [check.any().alias(c) for c, check in checks.items()]
    ).row(0, named=True)
    for column, any_candidate in candidates.items():
        if not any_candidate:
            continue
        target = f"{column}__parsed"
        if column in CODE_COLUMNS:
            placeholder = pl.col(column).str.contains(PLACEHOLDER)
            index = parsed.select(pl.arg_where(placeholder)).to_series()
            values = pl.Series(values=[None] * index.len(), dtype=pl.String)
        else:
            index = parsed.select(
                pl.arg_where(pl.col(column).is_not_null() & pl.col(target).is_null())
            ).to_series()
            subset = cleaned.select(pl.col(column).gather(index))
            values = subset.select(_slow_parse(column)).to_series()
        if index.len():
            parsed = parsed.with_columns(parsed[target].clone().scatter(index, values))
    return parsed


def _issue_conditions() -> dict[str, pl.Expr]:
    """Value-free reason -> condition, on the cleaned strings (``<name>``) and the
    parsed values (``<name>__parsed``) of the study's columns."""
    issues: dict[str, pl.Expr] = {}
    for column in STUDY_COLUMNS:
        raw, parsed = pl.col(column), pl.col(f"{column}__parsed")
        if column == "Sex":
            issues["Sex unknown"] = ~parsed.is_in([1, 2]).fill_null(False)
        elif column in DIAGNOSIS_COLUMNS:
            shaped = parsed.str.contains(ICD10_SHAPE)
            issues[f"{column} not ICD-10-shaped"] = parsed.is_not_null() & ~shaped
            if column == PRINCIPAL:  # a placeholder principal diagnosis is no diagnosis
                issues[f"{column} missing"] = parsed.is_null()
        else:
            issues[f"{column} missing"] = raw.is_null()
            issues[f"{column} unparsable"] = raw.is_not_null() & parsed.is_null()
    return issues


def parse_columns(
    raw: pl.DataFrame, unknown: list[str], odd_whitespace: bool
) -> tuple[pl.DataFrame, int, dict[str, int]]:
    """All-string columns (canonical names) -> the canonical schema plus row issues.

    Returns the frame (``record_number``, every canonical column, the ``unknown``
    columns, ``row_issues``), the number of placeholder codes set null, and per
    non-study column the number of values that could not be parsed (set null).
    ``odd_whitespace`` says the file holds tabs or no-break spaces.
    """
    present = [c for c in CANONICAL_COLUMNS if c in raw.columns]
    rewrite = raw.select(_needs_rewrite(raw.columns, odd_whitespace)).row(0, named=True)
    cleaned = raw.with_columns([_clean(c, rewrite[c]) for c in raw.columns])
    parsed = cleaned.with_columns(
        [_fast_parse(c).alias(f"{c}__parsed") for c in present]
        + [  # absent diagnosis columns, so every issue condition can be evaluated
            pl.lit(None, pl.String).alias(f"{c}__parsed")
            for c in DIAGNOSIS_COLUMNS
            if c not in present
        ]
    )
    parsed = _patch(parsed, cleaned, present)

    codes = [c for c in CODE_COLUMNS if c in present]
    aux = [c for c in present if c not in STUDY_COLUMNS and canonical_dtype(c) != pl.String()]
    lost = {
        c: (pl.col(c).is_not_null() & pl.col(f"{c}__parsed").is_null()).sum()
        for c in (*codes, *aux)
    }
    counts = parsed.select(**lost).row(0, named=True) if lost else {}
    placeholders = sum(int(counts[c]) for c in codes)
    unparsable = {c: int(counts[c]) for c in aux if counts[c]}

    issues = reason_lists(parsed.select(**_issue_conditions()))
    out = parsed.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(RECORD_NUMBER),
        *[
            (pl.col(f"{c}__parsed") if c in present else pl.lit(None, canonical_dtype(c)))
            .alias(c)
            for c in CANONICAL_COLUMNS
        ],
        *[pl.col(c) for c in unknown],
    ).with_columns(issues.alias(ROW_ISSUES))
    return out, placeholders, unparsable

"""Registry values parsed over whole columns: dates, codes, numbers, placeholders.

The registry's usual layout takes a fast fixed-format path; the tolerant parsers (a
birth date that lost its leading zero, a date without a time) and the placeholder
check run only on the few values that need them. What cannot be parsed in a column
the study uses becomes a value-free reason in ``row_issues``, never an exception: one
bad row must not block a million good ones. A malformed *secondary* diagnosis is not a
bad row: the code is dropped (set null) and noted in ``dropped_codes`` with its field
and shape, and the record keeps its principal and other diagnoses; only a malformed or
missing principal diagnosis makes the row an issue.
"""

from __future__ import annotations

import polars as pl

from mh_assets.core.registry.columns import (
    CANONICAL_COLUMNS,
    CODE_COLUMNS,
    DATE_COLUMNS,
    DATETIME_COLUMNS,
    DECIMAL_COMMA_COLUMNS,
    INTEGER_COLUMNS,
    STUDY_COLUMNS,
    canonical_dtype,
)
from mh_assets.core.schema import (
    DIAGNOSIS_COLUMNS,
    DROPPED_CODES,
    PRINCIPAL,
    RECORD_NUMBER,
    ROW_ISSUES,
)

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


#: The row issue of a sex code that is not 1 (male) or 2 (female).
SEX_UNKNOWN = "Sex unknown"


def missing(column: str) -> str:
    """The row issue of an empty study column."""
    return f"{column} missing"


def unparsable(column: str) -> str:
    """The row issue of a study column's value that does not parse."""
    return f"{column} unparsable"


def _issue_conditions() -> dict[str, pl.Expr]:
    """Value-free reason -> condition, on the cleaned strings (``<name>``) and the
    parsed values (``<name>__parsed``) of the study's columns."""
    issues: dict[str, pl.Expr] = {}
    for column in STUDY_COLUMNS:
        raw, parsed = pl.col(column), pl.col(f"{column}__parsed")
        if column == "Sex":
            issues[SEX_UNKNOWN] = ~parsed.is_in([1, 2]).fill_null(False)
        elif column == PRINCIPAL:
            issues[f"{column} not ICD-10-shaped"] = _malformed(column)
            issues[missing(column)] = parsed.is_null()  # a placeholder is no diagnosis
        elif column in DIAGNOSIS_COLUMNS:
            continue  # a malformed secondary code is dropped, see _dropped_codes
        else:
            issues[missing(column)] = raw.is_null()
            issues[unparsable(column)] = raw.is_not_null() & parsed.is_null()
    return issues


def _malformed(column: str) -> pl.Expr:
    """A parsed diagnosis value that is not ICD-10-shaped."""
    parsed = pl.col(f"{column}__parsed")
    return parsed.is_not_null() & ~parsed.str.contains(ICD10_SHAPE)


def code_shape(value: pl.Expr) -> pl.Expr:
    """A code's shape with its value gone: letters as A, digits as 9 ("F12..1" -> "A99..9")."""
    return value.str.replace_all(r"[A-Za-z]", "A").str.replace_all(r"[0-9]", "9")


def _dropped_codes() -> pl.Expr:
    """Per row, "<field>: <shape>" for every malformed secondary diagnosis."""
    labels = [
        pl.when(_malformed(c)).then(pl.format("{}: {}", pl.lit(c),
                                              code_shape(pl.col(f"{c}__parsed"))))
        for c in DIAGNOSIS_COLUMNS if c != PRINCIPAL
    ]
    return pl.concat_list(labels).list.drop_nulls()


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
    secondary = {c for c in DIAGNOSIS_COLUMNS if c != PRINCIPAL}

    def value(c: str) -> pl.Expr:
        if c not in present:
            return pl.lit(None, canonical_dtype(c))
        if c in secondary:  # a malformed secondary code is dropped, not the record
            return pl.when(_malformed(c)).then(None).otherwise(pl.col(f"{c}__parsed"))
        return pl.col(f"{c}__parsed")

    out = parsed.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(RECORD_NUMBER),
        *[value(c).alias(c) for c in CANONICAL_COLUMNS],
        *[pl.col(c) for c in unknown],
        _dropped_codes().alias(DROPPED_CODES),
    ).with_columns(issues.alias(ROW_ISSUES))
    return out, placeholders, unparsable

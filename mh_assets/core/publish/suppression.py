"""Small-cell suppression of published aggregate tables.

Why: counts of 1-9 patients in a registry table can identify a person, and a
published total lets a reader recover a hidden cell by subtraction. So a
publishable table hides

* **primary** cells: counts from 1 to ``min_cell - 1``, shown as ``"<10"``;
* **secondary** cells: for every additive relation the table publishes (a row
  where ``total = male + female``, or a column whose sum over a group of rows is
  published -- as a total row, or elsewhere such as the cohort size), a relation
  may hold either no hidden cell or at least two. When exactly one cell of a
  relation is hidden, the smallest non-zero visible cell of that relation is
  hidden too (a part before its total on ties), and this repeats until every
  relation is safe. Secondary cells are shown as ``"*"`` (not ``"<10"``: they may
  be large, and the marker must not lie about the value);
* **derived** cells: a percentage of a hidden count, and any statistic computed
  from hidden counts (a chi-square p-value with known margins pins the cell
  down), shown as ``"*"``.

Zero stays ``0``. A zero reveals that nobody has an attribute, not who has it,
and hiding every zero would also hide most structural zeros (no males in a
female cluster) that readers need; primary suppression therefore starts at 1.

The "at least two per relation" rule is the standard heuristic for tables with
one or two dimensions; it does not solve the general linear-programming
disclosure problem for linked multi-way tables (nor is that needed here).

All published columns come back as strings, so a writer cannot re-format a
hidden value back into view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mh_assets.core.cohort import FLOW_EXCLUDED, FLOW_KEPT, FLOW_READ

SECONDARY_MARK = "*"
VISIBLE, PRIMARY, SECONDARY = 0, 1, 2


def primary_mark(min_cell: int) -> str:
    return f"<{min_cell}"


def is_small(count: int | float, min_cell: int) -> bool:
    """The primary rule: a count from 1 to ``min_cell - 1`` is hidden (zero is shown)."""
    return 0 < count < min_cell


def mask_count(count: int | float, min_cell: int) -> str:
    """One count as it may be shown: the number, or ``<min_cell`` when it is small."""
    return primary_mark(min_cell) if is_small(count, min_cell) else str(int(count))


def mask_count_expr(count: pl.Expr, min_cell: int) -> pl.Expr:
    """:func:`mask_count` over a column of counts (as text: the number or ``<min_cell``)."""
    return (pl.when((count > 0) & (count < min_cell)).then(pl.lit(primary_mark(min_cell)))
            .otherwise(count.cast(pl.Utf8)))


def suppression_footnote(min_cell: int = 10) -> str:
    """The caption note that every published table carries."""
    return (
        f"Counts from 1 to {min_cell - 1} are shown as \"<{min_cell}\"; "
        f"\"{SECONDARY_MARK}\" marks a value withheld so that such a count cannot be "
        "derived from totals, percentages or test statistics. Zero counts are shown."
    )


@dataclass(frozen=True)
class RowMargin:
    """Within every row, ``total`` equals the sum of ``parts`` (e.g. total = male + female)."""

    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class ColumnMargin:
    """The sum of ``column`` over the rows of each ``by`` group is published.

    ``total_flag`` names a boolean column marking the total row of each group when
    the table carries one (that row is then the margin cell and can itself be
    hidden); without it the total is taken as published elsewhere (the cohort size
    per sex, say) and can never be hidden.
    """

    column: str
    by: tuple[str, ...] = ()
    total_flag: str | None = None


# One additive relation: the part cells and the margin cell (None = published elsewhere).
_Cell = tuple[int, int]
_Line = tuple[list[_Cell], _Cell | None]


def suppression_status(
    table: pl.DataFrame,
    count_cols: Sequence[str],
    *,
    row_margins: Sequence[RowMargin] = (),
    column_margins: Sequence[ColumnMargin] = (),
    min_cell: int = 10,
) -> pl.DataFrame:
    """Per count cell: 0 visible, 1 primary, 2 secondary (one Int8 column per count column)."""
    count_cols = list(count_cols)
    counts = np.column_stack(
        [table.get_column(c).fill_null(0).cast(pl.Int64).to_numpy() for c in count_cols]
    ) if count_cols else np.zeros((table.height, 0), dtype=np.int64)
    counts = counts.reshape(table.height, len(count_cols))
    status = np.where((counts >= 1) & (counts < min_cell), PRIMARY, VISIBLE).astype(np.int8)
    lines = _lines(table, count_cols, row_margins, column_margins)
    changed = True
    while changed:  # each pass only adds hidden cells, so this terminates
        changed = False
        for parts, total in lines:
            cells = parts + ([total] if total is not None else [])
            if sum(status[c] != VISIBLE for c in cells) != 1:
                continue
            pick = _complement(cells, parts, counts, status)
            if pick is not None:
                status[pick] = SECONDARY
                changed = True
    return pl.DataFrame(
        {c: pl.Series(c, status[:, j], dtype=pl.Int8) for j, c in enumerate(count_cols)}
    )


def _lines(
    table: pl.DataFrame,
    count_cols: list[str],
    row_margins: Sequence[RowMargin],
    column_margins: Sequence[ColumnMargin],
) -> list[_Line]:
    index = {c: j for j, c in enumerate(count_cols)}
    for name in [m.total for m in row_margins] + [p for m in row_margins for p in m.parts] + [
        m.column for m in column_margins
    ]:
        if name not in index:
            raise ValueError(f"margin column {name!r} is not one of the count columns {count_cols}")
    lines: list[_Line] = []
    for margin in row_margins:
        for r in range(table.height):
            lines.append(([(r, index[p]) for p in margin.parts], (r, index[margin.total])))
    for margin in column_margins:
        j = index[margin.column]
        for rows, flags in _groups(table, margin):
            totals = [r for r, f in zip(rows, flags, strict=True) if f]
            if len(totals) > 1:
                raise ValueError(
                    f"column margin {margin.column!r}: more than one total row in a group"
                )
            parts = [(r, j) for r, f in zip(rows, flags, strict=True) if not f]
            lines.append((parts, (totals[0], j) if totals else None))
    return lines


def _groups(table: pl.DataFrame, margin: ColumnMargin) -> list[tuple[list[int], list[bool]]]:
    flag = pl.col(margin.total_flag).fill_null(False) if margin.total_flag else pl.lit(False)
    frame = table.with_row_index("__row").with_columns(__flag=flag)
    if not margin.by:
        return [(frame["__row"].to_list(), frame["__flag"].to_list())]
    grouped = frame.group_by(list(margin.by), maintain_order=True).agg("__row", "__flag")
    return list(zip(grouped["__row"].to_list(), grouped["__flag"].to_list(), strict=True))


def _complement(
    cells: list[_Cell], parts: list[_Cell], counts: np.ndarray, status: np.ndarray
) -> _Cell | None:
    """The smallest non-zero visible cell of a relation (parts before the total on ties)."""
    visible = [c for c in cells if status[c] == VISIBLE]
    if not visible:
        return None
    nonzero = [c for c in visible if counts[c] > 0] or visible  # zeros only if nothing else
    return min(nonzero, key=lambda c: (counts[c], c not in parts, cells.index(c)))


def suppress(
    table: pl.DataFrame,
    count_cols: Sequence[str],
    *,
    pct_for: Mapping[str, str] | None = None,
    row_margins: Sequence[RowMargin] = (),
    column_margins: Sequence[ColumnMargin] = (),
    derived: Mapping[str, Sequence[str]] | None = None,
    min_cell: int = 10,
    pct_decimals: int = 2,
    formatters: Mapping[str, Callable[[Any], str]] | None = None,
) -> pl.DataFrame:
    """The publishable copy of an aggregate table: every column a string, small cells hidden.

    ``pct_for`` maps a percentage column to the count it was computed from;
    ``derived`` maps any other column (a p-value, a test statistic) to the counts
    it depends on -- it is hidden when any of them is. ``formatters`` render the
    remaining visible values (default ``str``; ``None`` becomes ``""``).
    """
    pct_for = dict(pct_for or {})
    derived = {k: list(v) for k, v in (derived or {}).items()}
    formatters = dict(formatters or {})
    for name in [*count_cols, *pct_for, *pct_for.values(), *derived, *sum(derived.values(), [])]:
        if name not in table.columns:
            raise ValueError(f"column {name!r} is not in the table (columns: {table.columns})")
    status = suppression_status(
        table, count_cols, row_margins=row_margins, column_margins=column_margins,
        min_cell=min_cell,
    )
    hidden = {c: (status[c].to_numpy() != VISIBLE) for c in count_cols}
    small = primary_mark(min_cell)
    out: dict[str, list[str]] = {}
    for name in table.columns:
        values = table.get_column(name).to_list()
        if name in hidden:
            codes = status[name].to_list()
            out[name] = [
                small if s == PRIMARY else SECONDARY_MARK if s == SECONDARY else _text(v, None)
                for v, s in zip(values, codes, strict=True)
            ]
            continue
        if name in pct_for:
            mask = hidden[pct_for[name]] if pct_for[name] in hidden else np.zeros(len(values), bool)
            fmt = formatters.get(name) or (lambda v: f"{v:.{pct_decimals}f}")
        elif name in derived:
            mask = np.zeros(len(values), bool)
            for source in derived[name]:
                mask |= hidden.get(source, np.zeros(len(values), bool))
            fmt = formatters.get(name)
        else:
            mask = np.zeros(len(values), bool)
            fmt = formatters.get(name)
        out[name] = [
            SECONDARY_MARK if m else _text(v, fmt) for v, m in zip(values, mask, strict=True)
        ]
    return pl.DataFrame({c: pl.Series(c, out[c], dtype=pl.String) for c in table.columns})


def _text(value: Any, fmt: Callable[[Any], str] | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return fmt(value) if fmt is not None else str(value)


def suppress_flow(flow: pl.DataFrame, min_cell: int = 10) -> pl.DataFrame:
    """The cohort flow (step, female, male, unknown, total) as it may be shown anywhere --
    the report, the UI, a log: small counts hidden, and a second cell wherever a total
    would give one back. Three relations hold in it:

    * along a row, total = female + male + unknown;
    * down a column, read = excluded (any reason) + kept, and kept is the cohort size
      every table publishes: so where the excluded count is hidden, *read* is withheld
      (read 290, excluded <10, kept 285 would give the 5 back);
    * down a column, the reasons against excluded (any reason): a record may have several
      reasons, so they do not add up exactly, but a lone hidden reason beside the others
      and the total is near enough to be read back; treated as a sum (conservative).
    """
    step = pl.col("step")
    reason = ~step.is_in([FLOW_READ, FLOW_EXCLUDED]) & ~step.str.starts_with(FLOW_KEPT)
    own = pl.int_range(pl.len())  # a row in no relation is a group of its own
    helpers = {
        "_balance": pl.when(step.is_in([FLOW_READ, FLOW_EXCLUDED])).then(-1).otherwise(own),
        "_is_read": step == FLOW_READ,
        "_reasons": pl.when(reason | (step == FLOW_EXCLUDED)).then(-1).otherwise(own),
        "_is_excluded": step == FLOW_EXCLUDED,
    }
    counts = ["female", "male", "unknown", "total"]
    margins = [ColumnMargin(c, by=(group,), total_flag=flag) for c in counts
               for group, flag in (("_balance", "_is_read"), ("_reasons", "_is_excluded"))]
    return suppress(flow.with_columns(**helpers), counts,
                    row_margins=[RowMargin("total", ("female", "male", "unknown"))],
                    column_margins=margins, min_cell=min_cell).drop(list(helpers))

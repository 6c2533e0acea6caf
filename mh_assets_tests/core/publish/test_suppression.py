"""Small-cell suppression: primary, secondary (by subtraction) and derived cells."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import linprog

from mh_assets.core.publish.suppression import (
    PRIMARY,
    SECONDARY,
    SECONDARY_MARK,
    VISIBLE,
    ColumnMargin,
    RowMargin,
    suppress,
    suppress_flow,
    suppression_status,
)

TRIPLE = [RowMargin("total", ("male_n", "female_n"))]


def triple(male: list[int], female: list[int]) -> pl.DataFrame:
    return pl.DataFrame({
        "group": [f"g{i}" for i in range(len(male))],
        "male_n": male, "female_n": female,
        "total": [m + f for m, f in zip(male, female, strict=True)],
    })


def test_counts_of_one_to_nine_become_less_than_ten_and_zero_and_ten_stay():
    table = pl.DataFrame({"n": [0, 1, 9, 10, 250]})
    out = suppress(table, ["n"])
    assert out["n"].to_list() == ["0", "<10", "<10", "10", "250"]


def test_threshold_is_a_parameter():
    out = suppress(pl.DataFrame({"n": [4, 5, 6]}), ["n"], min_cell=6)
    assert out["n"].to_list() == ["<6", "<6", "6"]


def test_one_small_sex_forces_the_other_sex_hidden_not_the_total():
    out = suppress(triple([5], [100]), ["male_n", "female_n", "total"], row_margins=TRIPLE)
    assert out.row(0) == ("g0", "<10", SECONDARY_MARK, "105")


def test_two_small_sexes_need_no_secondary_cell():
    out = suppress(triple([3], [4]), ["male_n", "female_n", "total"], row_margins=TRIPLE)
    assert out.row(0) == ("g0", "<10", "<10", "<10")


def test_a_small_total_with_a_zero_part_hides_the_total_and_shows_the_zero():
    out = suppress(triple([5], [0]), ["male_n", "female_n", "total"], row_margins=TRIPLE)
    assert out.row(0) == ("g0", "<10", "0", "<10")


def test_rows_without_small_cells_are_untouched():
    out = suppress(triple([50, 20], [60, 30]), ["male_n", "female_n", "total"],
                   row_margins=TRIPLE)
    assert out["male_n"].to_list() == ["50", "20"]
    assert out["female_n"].to_list() == ["60", "30"]


def test_column_with_an_externally_published_sum_hides_the_next_smallest_cell():
    table = pl.DataFrame({"year": [2016, 2017, 2018], "n": [50, 5, 40]})
    status = suppression_status(table, ["n"], column_margins=[ColumnMargin("n")])
    assert status["n"].to_list() == [VISIBLE, PRIMARY, SECONDARY]


def test_column_total_row_inside_the_table_is_part_of_the_relation():
    table = pl.DataFrame({
        "cluster": ["F1", "F2", "F3", "all"], "n": [5, 30, 40, 75],
        "is_total": [False, False, False, True],
    })
    out = suppress(table, ["n"], column_margins=[ColumnMargin("n", total_flag="is_total")])
    assert out["n"].to_list() == ["<10", SECONDARY_MARK, "40", "75"]


def test_column_relations_are_per_group():
    table = pl.DataFrame({
        "sex": ["female", "female", "female", "male", "male"],
        "n": [5, 30, 40, 20, 25],
    })
    status = suppression_status(table, ["n"], column_margins=[ColumnMargin("n", by=("sex",))])
    # the male group has no small cell, so nothing is hidden there
    assert status["n"].to_list() == [PRIMARY, SECONDARY, VISIBLE, VISIBLE, VISIBLE]


def test_secondary_suppression_cascades_through_rows_and_columns():
    table = triple([100, 60, 200], [5, 50, 40])
    counts = ["male_n", "female_n", "total"]
    status = suppression_status(
        table, counts, row_margins=TRIPLE,
        column_margins=[ColumnMargin(c) for c in counts],
    )
    assert status["female_n"].to_list() == [PRIMARY, SECONDARY, SECONDARY]
    assert status["male_n"].to_list() == [SECONDARY, SECONDARY, SECONDARY]
    assert status["total"].to_list() == [VISIBLE, VISIBLE, VISIBLE]


def _range_of_hidden_cells(table: pl.DataFrame, counts: list[str], status: pl.DataFrame,
                           min_cell: int = 10) -> list[tuple[float, float]]:
    """What a reader can infer: min and max of every hidden cell given all published numbers.

    Unknowns: the hidden cells (primary in [1, min_cell-1], secondary >= 0). Equations:
    each row total = male + female, and each column sum = its (published) total.
    """
    values = table.select(counts).to_numpy().astype(float)
    codes = status.select(counts).to_numpy()
    hidden = [tuple(ix) for ix in np.argwhere(codes != VISIBLE)]
    pos = {cell: k for k, cell in enumerate(hidden)}
    equations = []  # (coefficients over all cells, constant)
    n_rows = values.shape[0]
    for r in range(n_rows):  # total - male - female = 0
        equations.append(({(r, 2): 1.0, (r, 0): -1.0, (r, 1): -1.0}, 0.0))
    for c in range(3):  # column sums are published
        equations.append(({(r, c): 1.0 for r in range(n_rows)}, values[:, c].sum()))
    a_eq, b_eq = [], []
    for coefs, const in equations:
        row = np.zeros(len(hidden))
        rhs = const
        for cell, coef in coefs.items():
            if cell in pos:
                row[pos[cell]] += coef
            else:
                rhs -= coef * values[cell]
        a_eq.append(row)
        b_eq.append(rhs)
    bounds = [(1, min_cell - 1) if codes[c] == PRIMARY else (0, None) for c in hidden]
    ranges = []
    for k in range(len(hidden)):
        objective = np.zeros(len(hidden))
        objective[k] = 1
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds).fun
        high = -linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds).fun
        ranges.append((low, high))
    return ranges


@pytest.mark.parametrize("male,female", [
    ([100, 60, 200], [5, 50, 40]),
    ([3, 60, 200, 45], [5, 50, 40, 12]),
    ([15, 60, 8, 45], [30, 50, 40, 2]),
])
def test_no_hidden_cell_can_be_recovered_exactly_from_the_published_numbers(male, female):
    table = triple(male, female)
    counts = ["male_n", "female_n", "total"]
    status = suppression_status(table, counts, row_margins=TRIPLE,
                                column_margins=[ColumnMargin(c) for c in counts])
    ranges = _range_of_hidden_cells(table, counts, status)
    assert ranges, "the case must hide something"
    assert all(high - low >= 1 for low, high in ranges), ranges


def test_without_secondary_suppression_the_same_cell_would_be_recoverable():
    """Guards the check above: it does detect a recoverable cell."""
    table = triple([100], [5])
    counts = ["male_n", "female_n", "total"]
    primary_only = suppression_status(table, counts)  # no margins declared
    low, high = _range_of_hidden_cells(table, counts, primary_only)[0]
    assert low == high == 5


def test_percentages_and_derived_statistics_of_hidden_counts_are_hidden():
    table = triple([5, 50], [100, 60]).with_columns(
        male_pct=pl.Series([1.23456, 12.5]), female_pct=pl.Series([20.0, 30.125]),
        p_value=pl.Series([0.01234, 0.5]),
    )
    out = suppress(
        table, ["male_n", "female_n", "total"], row_margins=TRIPLE,
        pct_for={"male_pct": "male_n", "female_pct": "female_n"},
        derived={"p_value": ["male_n", "female_n", "total"]},
        formatters={"p_value": lambda p: f"{p:.4f}"},
    )
    assert out.row(0) == ("g0", "<10", SECONDARY_MARK, "105", SECONDARY_MARK, SECONDARY_MARK,
                          SECONDARY_MARK)
    assert out.row(1) == ("g1", "50", "60", "110", "12.50", "30.12", "0.5000")


def test_every_published_column_is_a_string_and_nulls_are_blank():
    table = pl.DataFrame({"label": ["a", None], "n": [12, 40], "score": [1.5, None]})
    out = suppress(table, ["n"])
    assert all(dtype == pl.String for dtype in out.dtypes)
    assert out.row(1) == ("", "40", "")


def test_a_margin_on_an_undeclared_count_column_is_refused():
    with pytest.raises(ValueError, match="margin column 'total'"):
        suppression_status(triple([5], [5]), ["male_n", "female_n"], row_margins=TRIPLE)


def _flow(rows: list[tuple[str, int]]) -> pl.DataFrame:
    """A one-sex cohort flow: (step, female count) rows."""
    return pl.DataFrame({"step": [s for s, _ in rows], "female": [n for _, n in rows],
                         "male": [0] * len(rows), "unknown": [0] * len(rows),
                         "total": [n for _, n in rows]})


def test_a_hidden_exclusion_count_is_not_left_to_read_minus_kept():
    from mh_assets.core.cohort import FLOW_EXCLUDED, FLOW_KEPT, FLOW_READ

    shown = suppress_flow(_flow([(FLOW_READ, 290), ("age outside 11-19", 5),
                                 (FLOW_EXCLUDED, 5), (FLOW_KEPT, 285)]))
    by_step = dict(zip(shown["step"], shown["total"], strict=True))
    assert by_step[FLOW_EXCLUDED] == "<10"
    assert by_step[FLOW_READ] == "*"  # 290 - 285 would give the 5 back
    assert by_step[FLOW_KEPT] == "285"  # the cohort size: published with every table


def test_a_lone_hidden_exclusion_reason_takes_a_second_reason_with_it():
    from mh_assets.core.cohort import FLOW_EXCLUDED, FLOW_KEPT, FLOW_READ

    shown = suppress_flow(_flow([(FLOW_READ, 500), ("admission after the study", 40),
                                 ("age outside 11-19", 4), (FLOW_EXCLUDED, 44),
                                 (FLOW_KEPT, 456)]))
    female = dict(zip(shown["step"], shown["female"], strict=True))
    assert female["age outside 11-19"] == "<10"
    assert female["admission after the study"] == "*"  # 44 - 40 would give the 4 back
    assert female[FLOW_EXCLUDED] == "44" and female[FLOW_READ] == "500"

"""Figures: offline HTML, PNG, aggregates only, small counts not drawn."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from mh_assets.core.publish import descriptives, figures
from mh_assets.core.publish.suppression import SECONDARY_MARK
from mh_assets_tests.support.cohorts import planted_values_in, synthetic_cohort

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def desc() -> descriptives.Descriptives:
    return descriptives.descriptives(synthetic_cohort(), {"F29": "Unspecified psychosis"})


@pytest.fixture(scope="module")
def rendered(desc) -> dict[str, figures.RenderedFigure]:
    return figures.descriptive_figures(desc)


def _traces(figure: figures.RenderedFigure) -> list[dict]:
    return json.loads(figure.spec)["data"]


def test_six_descriptive_figures_each_with_standalone_html_and_png(rendered):
    assert list(rendered) == [
        "fig1_admissions_by_year", "fig2_top_principal_diagnoses", "fig3_stay_boxplot",
        "fig4_stay_histogram", "fig5_apr_severity", "fig6_apr_cost",
    ]
    bundle = get_plotlyjs()
    for figure in rendered.values():
        assert figure.png.startswith(PNG_SIGNATURE)
        assert figure.html.count(bundle) == 1  # plotly.js inlined, so it opens offline
        page = figure.html.replace(bundle, "")
        assert not EXTERNAL.search(page), figure.name
        assert "<script src" not in page


def test_no_planted_patient_value_appears_in_any_figure(rendered):
    bundle = get_plotlyjs()
    for figure in rendered.values():
        page = figure.html.replace(bundle, "")
        assert '"bdata"' not in figure.spec  # no base64 arrays hiding values from this check
        assert planted_values_in(page) == [], figure.name
        assert planted_values_in(figure.spec) == [], figure.name
        assert planted_values_in(figure.png) == [], figure.name


def test_box_plots_are_drawn_from_quartiles_without_any_data_point(rendered, desc):
    boxes = [t for t in _traces(rendered["fig3_stay_boxplot"]) if t["type"] == "box"]
    assert [b["name"] for b in boxes] == ["female", "male"]
    stats = desc.continuous.filter(pl.col("variable") == "DaysOfStay").sort("sex")
    for box, row in zip(boxes, stats.iter_rows(named=True), strict=True):
        assert "y" not in box and box["boxpoints"] is False
        assert box["median"] == [row["median"]] and box["upperfence"] == [row["upperfence"]]


def test_rendering_is_reproducible(desc, rendered):
    again = figures.sex_bars(desc.by_year, "Year", "fig1_admissions_by_year",
                             "Admissions per year by sex", "Admissions")
    assert again.html == rendered["fig1_admissions_by_year"].html
    assert again.png == rendered["fig1_admissions_by_year"].png


def test_histogram_bins_under_ten_and_their_complement_are_not_drawn():
    hist = pl.DataFrame({
        "variable": ["DaysOfStay"] * 6, "sex": ["female"] * 3 + ["male"] * 3,
        "bin": [0, 1, 2] * 2, "left": [0.0, 2.0, 4.0] * 2, "right": [2.0, 4.0, 6.0] * 2,
        "n": [20, 3, 15, 12, 11, 30],
    })
    figure = figures.histogram_by_sex(hist, "DaysOfStay", "h", "Stay")
    female, male = [t for t in _traces(figure) if t["type"] == "bar"]
    assert female["y"] == [20, None, None]
    assert female["customdata"][1].endswith("<10")
    assert female["customdata"][2].endswith(SECONDARY_MARK)
    assert male["y"] == [12, 11, 30]


def test_grouped_bars_leave_small_counts_undrawn_and_say_so_in_the_hover():
    table = pl.DataFrame({"Year": [2016, 2017, 2018], "female_n": [4, 40, 30],
                          "female_pct": [5.4, 54.1, 40.5], "male_n": [50, 60, 70],
                          "male_pct": [27.8, 33.3, 38.9], "total": [54, 100, 100]})
    figure = figures.sex_bars(table, "Year", "b", "Admissions", "Admissions")
    female, male = _traces(figure)
    assert female["y"][0] is None and female["customdata"][0] == "<10"
    assert male["y"][0] is None and male["customdata"][0] == SECONDARY_MARK
    # the per-sex column sums are published too, so hiding cascades through the columns
    assert female["y"] == [None, None, None] and male["y"] == [None, None, None]
    untouched = figures.sex_bars(table.with_columns(female_n=pl.Series([14, 40, 30]),
                                                    total=pl.Series([64, 100, 100])),
                                 "Year", "b", "Admissions", "Admissions")
    assert _traces(untouched)[0]["y"] == [14, 40, 30]


def test_scatter_map_hovers_show_only_the_given_text_and_colour_by_group():
    points = pl.DataFrame({
        "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0], "label": ["F1", "F2", "M1"],
        "group": ["female", "female", "male"], "hover_text": ["F1: 120 patients", "F2", "M1"],
        "size": [120, 40, 80],
    })
    figure = figures.scatter_map(points, "Clusters", name="map")
    female, male = _traces(figure)
    assert female["hoverinfo"] == "text" and female["hovertext"] == ["F1: 120 patients", "F2"]
    assert female["marker"]["color"] == figures.SEX_COLOURS["female"]
    assert male["text"] == ["M1"]
    assert figure.png.startswith(PNG_SIGNATURE)
    silent = figures.scatter_map(points.drop("hover_text", "size"), "Clusters")
    assert all(t["hoverinfo"] == "skip" for t in _traces(silent))

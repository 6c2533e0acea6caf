"""Figures: print resolution, a vector copy, units on the axes, small counts drawn without
their value, pages sharing one plotly.js, and aggregates only."""

from __future__ import annotations

import io
import json
import re

import polars as pl
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs

from mh_assets.core.publish import catalog, descriptives, figures
from mh_assets.core.publish.suppression import SECONDARY_MARK
from mh_assets_tests.support.cohorts import planted_values_in, synthetic_cohort

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
SVG_TEXT = re.compile(r"<text[^>]*>([^<]*)</text>")
LONG = "Adjustment disorder with mixed disturbance of emotions and conduct"


@pytest.fixture(scope="module")
def desc() -> descriptives.Descriptives:
    return descriptives.descriptives(synthetic_cohort(), {"F29": "Unspecified psychosis"})


@pytest.fixture(scope="module")
def rendered(desc) -> dict[str, figures.RenderedFigure]:
    return figures.descriptive_figures(desc)


def _traces(figure: figures.RenderedFigure) -> list[dict]:
    return json.loads(figure.spec)["data"]


def _svg_text(figure: figures.RenderedFigure) -> str:
    """Every text of the SVG (kept as text, not glyph outlines), one per line."""
    return "\n".join(t.replace("&lt;", "<").replace("&amp;", "&")
                     for t in SVG_TEXT.findall(figure.svg.decode()))


def _dpi(png: bytes) -> tuple[float, float]:
    return Image.open(io.BytesIO(png)).info["dpi"]


def test_six_descriptive_figures_each_as_300_dpi_png_svg_and_a_page_loading_the_shared_plotly_js(
        rendered):
    assert list(rendered) == [
        "fig1_admissions_by_year", "fig2_top_principal_diagnoses", "fig3_stay_boxplot",
        "fig4_stay_histogram", "fig5_apr_severity", "fig6_apr_cost",
    ]
    bundle = get_plotlyjs()
    for figure in rendered.values():
        assert figure.png.startswith(PNG_SIGNATURE)
        assert [round(d) for d in _dpi(figure.png)] == [300, 300], figure.name
        width, _ = Image.open(io.BytesIO(figure.png)).size
        assert width >= 900, figure.name  # >= 3 inches at 300 dpi
        assert figure.svg.lstrip().startswith(b"<?xml") and b"<svg" in figure.svg
        assert set(figure.files()) == {".html", ".png", ".svg"}
        assert bundle not in figure.html  # not 4.8 MB of plotly.js per page...
        assert figure.html.count(f'src="{figures.PLOTLY_JS}"') == 1  # ...but the shared file
        assert not EXTERNAL.search(figure.html), figure.name
        assert [round(d) for d in _dpi(figure.preview)] == [figures.PREVIEW_DPI] * 2


def test_no_planted_patient_value_appears_in_any_figure(rendered):
    for figure in rendered.values():
        assert '"bdata"' not in figure.spec  # no base64 arrays hiding values from this check
        for output in (figure.html, figure.spec, figure.png, figure.svg, figure.preview):
            assert planted_values_in(output) == [], figure.name


def test_axis_titles_are_human_names_with_units_not_column_names(rendered):
    expected = {
        "fig1_admissions_by_year": ["Year of discharge", "Admissions (n)"],
        "fig2_top_principal_diagnoses": ["Share of the sex's admissions (%)"],
        "fig3_stay_boxplot": ["Length of stay (days)"],
        "fig4_stay_histogram": ["Length of stay (days)", "Admissions (n)"],
        "fig5_apr_severity": ["APR severity of illness", "Share of the sex's admissions (%)"],
        "fig6_apr_cost": ["APR cost (EUR)", "Admissions (n)"],
    }
    for name, titles in expected.items():
        figure = rendered[name]
        printed = _svg_text(figure)
        layout = json.loads(figure.spec)["layout"]
        web = {axis["title"]["text"] for key, axis in layout.items()
               if key.startswith(("xaxis", "yaxis")) and "title" in axis}
        for title in titles:
            assert title in printed.splitlines(), (name, title)
            assert title in web, (name, title)
        for column in ("DaysOfStay", "APRCost", "APRSeverityLevel"):
            assert column not in printed and column not in " ".join(web), (name, column)
        assert "Year" not in printed.splitlines() and "Year" not in web


def test_figures_take_their_titles_from_the_catalog_and_every_stem_is_catalogued(rendered):
    for name, figure in rendered.items():
        assert figure.title == catalog.FIGURES[name].title
    stems = [*rendered, "k_selection_female", "k_selection_male",
             "cluster_prevalence_map_female", "cluster_prevalence_map_male",
             *(f"embedding_map_{m}_{s}" for m in ("pca", "umap") for s in ("female", "male"))]
    numbers = set()
    for stem in stems:
        entry = figures.figure_entry(stem)
        assert entry.number and entry.title and len(entry.caption) > 60, stem
        assert "{sex}" not in entry.title + entry.caption
        numbers.add(entry.number)
    assert len(numbers) == len(stems)  # no two figures share a number
    assert figures.figure_entry("k_selection_male").number == "S1 (male)"
    assert figures.figure_entry("fig1_admissions_by_year").title == "Admissions by year and sex"
    with pytest.raises(KeyError):
        figures.figure_entry("fig9_unknown")


def _top20(rows: list[tuple[str, str, int, int]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["code", "descriptor", "female_n", "male_n"], orient="row")
    return frame.with_columns(total=pl.col("female_n") + pl.col("male_n"))


def test_figure_2_ranks_one_list_of_diagnoses_for_both_sexes_on_one_axis_with_full_names():
    # female-only and male-only leaders: separate top lists per sex would differ
    top20 = _top20([
        ("F60.3", "Borderline personality disorder", 500, 40),
        ("F29", "Unspecified psychosis", 200, 320),
        ("F43.25", LONG, 150, 100),
        ("F90.9", "Attention-deficit hyperactivity disorder, unspecified type", 0, 120),
        ("F50.9", "Eating disorder, unspecified", 110, 0),
        ("other", "", 400, 500),
    ])
    figure = figures.top_principal_bars(top20, top_n=5)
    female, male = [t for t in _traces(figure) if t["type"] == "bar"]
    assert female["y"] == male["y"]  # one category list for both sexes
    order = [label.split(" ")[0] for label in female["y"]]
    assert order == ["F60.3", "F29", "F43.25", "F90.9", "F50.9"]  # pooled ranking
    assert female.get("xaxis", "x") == male.get("xaxis", "x") == "x"  # one shared x axis
    assert female["x"][0] == pytest.approx(100 * 500 / 1360)  # % of the sex's admissions
    assert male["x"][2] == pytest.approx(100 * 100 / 1080)
    assert LONG in female["y"][2].replace("<br>", " ")  # wrapped, not truncated
    assert "…" not in figure.spec and "…" not in _svg_text(figure)
    assert LONG in " ".join(_svg_text(figure).split())


def test_a_small_histogram_bin_is_drawn_hatched_and_labelled_without_revealing_its_count():
    def hist(small: int) -> pl.DataFrame:
        return pl.DataFrame({
            "variable": ["DaysOfStay"] * 6, "sex": ["female"] * 3 + ["male"] * 3,
            "bin": [0, 1, 2] * 2, "left": [0.0, 2.0, 4.0] * 2, "right": [2.0, 4.0, 6.0] * 2,
            "n": [20, small, 15, 12, 11, 30],
        })

    figure = figures.histogram_by_sex(hist(3), "DaysOfStay", "h")
    female, male = [t for t in _traces(figure) if t["type"] == "bar"]
    # drawn at the bound (10), hatched and labelled "<10"; its complement marked "*" at 0
    assert female["y"] == [20, 10, 0]
    assert female["text"] == ["", "<10", SECONDARY_MARK]
    assert female["marker"]["pattern"]["shape"] == ["", "/", ""]
    assert female["customdata"][1] == "2 to 4: <10"
    assert male["y"] == [12, 11, 30] and male["text"] == ["", "", ""]
    assert "<10" in _svg_text(figure).splitlines()
    # the drawing is the same whatever the hidden count is: it cannot be read off
    other = figures.histogram_by_sex(hist(8), "DaysOfStay", "h")
    assert other.png == figure.png and other.svg == figure.svg and other.spec == figure.spec
    shown = figures.histogram_by_sex(hist(13), "DaysOfStay", "h")
    assert shown.png != figure.png  # (and the comparison can tell drawings apart)


def test_grouped_bars_draw_small_counts_at_the_bound_and_say_so_in_the_hover():
    table = pl.DataFrame({"Year": [2016, 2017, 2018], "female_n": [4, 40, 30],
                          "female_pct": [5.4, 54.1, 40.5], "male_n": [50, 60, 70],
                          "male_pct": [27.8, 33.3, 38.9], "total": [54, 100, 100]})
    figure = figures.sex_bars(table, "Year", "b", "Admissions (n)")
    female, male = _traces(figure)
    assert female["y"][0] == 10 and female["text"][0] == female["customdata"][0] == "<10"
    assert male["y"][0] == 0 and male["customdata"][0] == SECONDARY_MARK
    # the per-sex column sums are published too, so hiding cascades through the columns
    assert female["text"] == ["<10", SECONDARY_MARK, SECONDARY_MARK]
    assert female["y"] == [10, 0, 0] and male["y"] == [0, 0, 0]
    untouched = figures.sex_bars(table.with_columns(female_n=pl.Series([14, 40, 30]),
                                                    total=pl.Series([64, 100, 100])),
                                 "Year", "b", "Admissions (n)")
    assert _traces(untouched)[0]["y"] == [14, 40, 30]
    assert _traces(untouched)[0]["text"] == ["", "", ""]


def test_box_plots_are_drawn_from_quartiles_without_any_data_point(rendered, desc):
    boxes = [t for t in _traces(rendered["fig3_stay_boxplot"]) if t["type"] == "box"]
    assert [b["name"] for b in boxes] == ["female", "male"]
    stats = desc.continuous.filter(pl.col("variable") == "DaysOfStay").sort("sex")
    for box, row in zip(boxes, stats.iter_rows(named=True), strict=True):
        assert "y" not in box and box["boxpoints"] is False
        assert box["median"] == [row["median"]] and box["upperfence"] == [row["upperfence"]]


def test_rendering_is_reproducible(desc, rendered):
    again = figures.sex_bars(desc.by_year, "Year", "fig1_admissions_by_year", "Admissions (n)")
    first = rendered["fig1_admissions_by_year"]
    assert (again.html, again.png, again.svg) == (first.html, first.png, first.svg)


def test_scatter_map_hovers_show_only_the_given_text_and_no_point_carries_a_label():
    points = pl.DataFrame({
        "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0], "label": ["F1", "F2", "M1"],
        "group": ["female", "female", "male"], "hover_text": ["F1: 120 patients", "F2", "M1"],
        "size": [120, 40, 80],
    })
    figure = figures.scatter_map(points, "Clusters", name="map")
    female, male = _traces(figure)
    assert female["hoverinfo"] == "text" and female["hovertext"] == ["F1: 120 patients", "F2"]
    assert female["marker"]["color"] == figures.SEX_COLOURS["female"]
    assert female["mode"] == "markers" and "text" not in female  # nothing drawn beside a point
    assert "F1: 120" not in _svg_text(figure)
    assert figure.png.startswith(PNG_SIGNATURE)
    silent = figures.scatter_map(points.drop("hover_text", "size"), "Clusters")
    assert all(t["hoverinfo"] == "skip" for t in _traces(silent))

"""The supplement's Word and Excel tables, read back: numbers, widths, titles, pages, notes."""

from __future__ import annotations

import re

import polars as pl
import pytest

from mh_assets.core.clustering.pairs import PAIR_SCHEMA
from mh_assets.core.publish import catalog, cluster_table, descriptives, display, sud_table, writers
from mh_assets.core.publish.suppression import suppression_footnote

SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
NOTE = suppression_footnote(10)


def _write(tmp_path, frame, headers=None, **kwargs):
    headers = headers or {c: c.replace("_", " ").capitalize() for c in frame.columns}
    paths = writers.write_table(frame, tmp_path / "t", title=kwargs.pop("title", "Table T1. A"),
                                headers=headers, **kwargs)
    return paths


def _sheet(path):
    from openpyxl import load_workbook

    return load_workbook(path).active


def _doc(path):
    from docx import Document

    return Document(str(path))


def _texts(doc) -> list[str]:
    return [p.text for p in doc.paragraphs]


@pytest.fixture
def sud_like() -> pl.DataFrame:
    """Suppression's output: every column a string, a "<10" and a "*" among the numbers."""
    return pl.DataFrame({
        "group": ["Cannabis", "Hallucinogens"], "total": ["3009", "16"],
        "rate_pct": ["61.36", "2.10"], "rate_ci": ["59.99–62.71", "1.30–3.38"],
        "female_n": ["1359", "<10"], "female_pct": ["57.03", "*"],
        "p_value": ["<0.0001", "0.0039"],
    })


def test_numeric_strings_become_numbers_with_formats_and_markers_stay_text(tmp_path, sud_like):
    _, xlsx, docx = _write(tmp_path, sud_like)
    sheet = _sheet(xlsx)
    header = [c.value for c in sheet[2]]
    first = dict(zip(header, sheet[3], strict=True))
    second = dict(zip(header, sheet[4], strict=True))
    assert (first["Total"].value, first["Total"].data_type, first["Total"].number_format) == (
        3009, "n", "0")
    assert (first["Rate pct"].value, first["Rate pct"].data_type) == (61.36, "n")
    assert first["Rate pct"].number_format == second["Rate pct"].number_format == "0.00"
    assert first["P value"].data_type == "s" and first["P value"].value == "<0.0001"
    assert (second["P value"].value, second["P value"].number_format) == (0.0039, "0.0000")
    assert (second["Female n"].value, second["Female n"].data_type) == ("<10", "s")
    assert second["Female pct"].value == "*" and first["Rate ci"].data_type == "s"
    # Word shows what Excel shows: the number in its column's format
    rows = [[c.text for c in r.cells] for r in _doc(docx).tables[0].rows]
    assert rows[2] == ["Hallucinogens", "16", "2.10", "1.30–3.38", "<10", "*", "0.0039"]


def test_native_numbers_take_the_decimals_of_their_column_or_the_fixed_ones(tmp_path):
    frame = pl.DataFrame({"pair": [1, None], "similarity": [0.85, 0.955],
                          "statistic": [2850254.5, 25.2523], "matched": [True, False]})
    _, xlsx, docx = _write(tmp_path, frame, decimals={"statistic": 2})
    sheet = _sheet(xlsx)
    assert [sheet.cell(row=3, column=j).data_type for j in (1, 2, 3)] == ["n", "n", "n"]
    assert sheet.cell(row=4, column=1).value is None
    assert sheet.cell(row=3, column=2).number_format == "0.000"
    assert sheet.cell(row=3, column=3).number_format == "0.00"
    rows = [[c.text for c in r.cells] for r in _doc(docx).tables[0].rows]
    assert rows[1] == ["1", "0.850", "2850254.50", "yes"]
    assert rows[2] == ["", "0.955", "25.25", "no"]


def test_column_widths_are_set_in_both_files_and_follow_the_content(tmp_path):
    frame = pl.DataFrame({"n": ["12", "340"],
                          "descriptor": ["Borderline personality disorder",
                                         "Unspecified psychosis not due to a substance"]})
    _, xlsx, docx = _write(tmp_path, frame, headers={"n": "n", "descriptor": "Descriptor"})
    sheet = _sheet(xlsx)
    narrow, wide = (sheet.column_dimensions[c].width for c in "AB")
    assert narrow and wide and wide > 3 * narrow
    table = _doc(docx).tables[0]
    grid = [col.width for col in table.columns]
    assert all(w is not None for w in grid) and grid[1] > 3 * grid[0]
    assert all(row.cells[1].width == grid[1] for row in table.rows)


def test_no_word_is_narrower_than_its_column_in_word(tmp_path):
    """The old table broke words mid-word; every column now holds its longest word."""
    frame = pl.DataFrame({c: ["Other or multiple psychoactive substances", "12"]
                          for c in ("a_col", "b_col", "c_col", "d_col", "e_col", "f_col")})
    prepared = writers.prepare_table(frame, title="T", headers={c: c.upper().replace("_", " ")
                                                                for c in frame.columns})
    _, size, widths = writers.docx_layout(prepared)
    longest = writers.text_width_em("psychoactive")
    assert all(w >= longest * size * 2.54 / 72 for w in widths)


def test_the_title_is_the_merged_bold_first_row_and_a_caption_above_the_table(tmp_path,
                                                                            sud_like):
    title = "Supplementary Table S1. Substance use disorders by sex"
    _, xlsx, docx = _write(tmp_path, sud_like, title=title)
    sheet = _sheet(xlsx)
    assert sheet["A1"].value == title and sheet["A1"].font.bold
    assert "A1:G1" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet["A2"].value == "Group" and sheet["A2"].font.bold  # the header comes second
    doc = _doc(docx)
    first = doc.paragraphs[0]
    assert first.text == title and first.style.name == "Caption"
    body = [child.tag.rsplit("}", 1)[1] for child in doc.element.body.iterchildren()]
    assert body[:2] == ["p", "tbl"]  # the caption sits right above the table


def test_a_wide_table_gets_a_landscape_page_and_a_narrow_one_stays_portrait(tmp_path):
    from docx.enum.section import WD_ORIENT

    narrow = pl.DataFrame({"group": ["Cannabis"], "n": ["12"]})
    wide = pl.DataFrame({f"c{i}": ["Cannabis abuse with psychotic disorder"] for i in range(6)})
    for frame, orientation, sheet_orientation in ((narrow, WD_ORIENT.PORTRAIT, "portrait"),
                                                  (wide, WD_ORIENT.LANDSCAPE, "landscape")):
        _, xlsx, docx = _write(tmp_path, frame)
        section = _doc(docx).sections[0]
        assert section.orientation == orientation
        assert (section.page_width > section.page_height) == (orientation == WD_ORIENT.LANDSCAPE)
        assert _sheet(xlsx).page_setup.orientation == sheet_orientation


def test_the_suppression_note_appears_only_when_a_cell_is_suppressed(tmp_path, sud_like):
    shown = sud_like.filter(pl.col("group") == "Cannabis")
    caller = "(F>M) / (M>F): the code weighs more in the female / male cluster's profile."
    for frame, expected in ((sud_like, True), (shown, False)):
        _, xlsx, docx = _write(tmp_path, frame, notes=[caller])
        texts = _texts(_doc(docx))
        cells = [c.value for row in _sheet(xlsx).iter_rows() for c in row if c.value]
        assert caller in texts and caller in cells
        assert (NOTE in texts) == expected and (NOTE in cells) == expected
    # a withheld score inside a cell's text counts too
    assert writers.has_suppressed_cell(["F60.3 Borderline (*); F14.10 Cocaine (1.328)"])
    assert not writers.has_suppressed_cell(["F60.3 Borderline (1.130)", "<0.0001"])


def test_every_published_table_has_a_catalog_entry_and_a_display_name_for_each_column():
    assert set(display.DISPLAYS) == set(catalog.TABLES)
    published = {
        "sud_by_sex": sud_table.SUD_PUBLISHED,
        "clusters": cluster_table.CLUSTER_COLUMNS,
        "cluster_codes": cluster_table.CODE_PUBLISHED,
        "cluster_pairs": tuple(PAIR_SCHEMA),
        "descriptives": tuple(descriptives.STATISTICS_HEADERS),
    }
    for key, columns in published.items():
        headers = display.display(key).headers
        assert set(columns) <= set(headers), key
        assert not [h for h in headers.values() if SNAKE.match(h)], key
    assert display.heading("tables/sud_by_sex") == (
        "Supplementary Table S1. Substance use disorders by sex")
    numbers = [e.number for e in catalog.TABLES.values()]
    assert len(set(numbers)) == len(numbers)


def test_publish_table_writes_catalog_titles_and_display_headers_never_snake_case(tmp_path):
    from mh_assets.core.storage import open_store
    from mh_assets.defs.metadata import publish_table

    frame = sud_table.publish_sud_by_sex(pl.DataFrame(
        {"group": ["Cannabis"], "icd10_block": ["F12"], "total": [405], "rate_pct": [67.5],
         "male_n": [234], "male_pct": [65.9], "female_n": [171], "female_pct": [69.8],
         "p_value": [0.36], "addition": [False], "rate_ci_low": [63.6], "rate_ci_high": [71.1],
         "male_ci_low": [60.8], "male_ci_high": [70.7], "female_ci_low": [63.8],
         "female_ci_high": [75.2]}))
    store = open_store(tmp_path)
    meta = publish_table(frame, "tables/sud_by_sex", store, min_cell=10)
    heading = display.heading("sud_by_sex")
    assert meta["title"].value == heading
    csv = pl.read_csv(store.path("tables/sud_by_sex.csv"), infer_schema=False)
    assert csv.columns == list(sud_table.SUD_PUBLISHED)  # machine-readable names stay
    sheet = _sheet(store.path("tables/sud_by_sex.xlsx"))
    doc = _doc(store.path("tables/sud_by_sex.docx"))
    xlsx_headers = [c.value for c in sheet[2]]
    docx_headers = [c.text for c in doc.tables[0].rows[0].cells]
    assert xlsx_headers == docx_headers == [sud_table.SUD_HEADERS[c] for c in csv.columns]
    assert not [h for h in xlsx_headers if SNAKE.match(h) or h in csv.columns]
    assert sheet["A1"].value == doc.paragraphs[0].text == heading
    assert sheet.title == "Table S1"
    texts = _texts(doc)
    assert catalog.TABLES["sud_by_sex"].caption in texts and NOTE not in texts


def test_readers_see_the_same_display_names_and_values_as_the_office_files():
    frame = pl.DataFrame({"test": ["chi-square"], "variable": ["APRSeverityLevel"],
                          "statistic": ["2.3329"], "dof": ["3"], "p_value": ["0.5062"],
                          "n_female": ["2383"], "n_male": ["2521"]})
    shown = display.for_readers("descriptives", frame)
    assert shown.columns == [descriptives.STATISTICS_HEADERS[c] for c in frame.columns]
    assert shown.row(0)[:2] == ("chi-square", "APR severity of illness")
    with pytest.raises(ValueError, match="extra"):
        display.for_readers("descriptives", frame.with_columns(extra=pl.lit("x")))

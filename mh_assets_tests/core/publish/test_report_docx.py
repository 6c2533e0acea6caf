"""The report's Word rendering: the same sections, numbered tables and figures."""

import io

import polars as pl
from docx import Document
from docx.enum.section import WD_ORIENT

from mh_assets.core.publish.report import ReportFigure, ReportInput, ReportTable, Section
from mh_assets.core.publish.report_docx import build_report_docx


def tiny_png() -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1), dpi=50)
    figure.add_subplot().plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_the_word_report_holds_every_section_table_and_figure():
    # too wide for a portrait page: laid out as the table files are, in landscape
    wide = pl.DataFrame({f"column {i}": ["a rather long descriptor of a diagnosis", "x"]
                         for i in range(8)})
    report = ReportInput(
        subtitle="Preset demo",
        leading=[Section("Summary of findings", ["Female: the data support 5 subtypes."])],
        cohort_flow=pl.DataFrame({"step": ["read", "kept"], "total": [100, 90]}),
        sections=[Section("Validity", [ReportTable("A wide table", wide, "Its caption."),
                                       ReportFigure("Admissions by year", tiny_png())])],
        trailing=[Section("Limitations", ["Synthetic data."])],
        provenance={"extract": {"sha256": "abc"}},
    )
    doc = Document(io.BytesIO(build_report_docx(report)))
    text = "\n".join(p.text for p in doc.paragraphs)
    for heading in ("Summary of findings", "Cohort flow", "Validity", "Limitations",
                    "Provenance"):
        assert heading in text
    assert "Table 1. Records read" in text and "Table 2. A wide table" in text
    assert "Figure 1. Admissions by year" in text
    assert len(doc.tables) == 3  # flow, the wide table, provenance
    assert len(doc.inline_shapes) == 1
    orientations = [s.orientation for s in doc.sections]
    assert WD_ORIENT.LANDSCAPE in orientations and orientations[-1] == WD_ORIENT.PORTRAIT
    assert {round(s.page_width.cm, 1) for s in doc.sections} <= {21.0, 29.7}  # A4
    header = doc.tables[1].rows[0]._tr
    assert header.xpath("./w:trPr/w:tblHeader")  # repeated on every page
    assert "Its caption." in text
    assert doc.tables[-1].rows[0].cells[1].text == "abc"

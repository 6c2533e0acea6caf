"""The study report as a Word document, from the same content as the HTML.

Why Word rather than PDF: the people the report goes to (co-authors, a journal's
supplement, an ethics committee) edit and comment in Word, and python-docx -- already
the platform's table writer -- builds it without a browser or system libraries. A PDF
needs either a browser (Chromium's print) or a layout engine with native dependencies
(WeasyPrint: Pango/cairo), which a clean ``pip install`` cannot provide; LibreOffice
turns this file into a PDF where one is wanted (``soffice --convert-to pdf``).

Same inputs as :func:`mh_assets.core.publish.report.build_report` (published,
suppressed content only), same order and numbering.
"""

from __future__ import annotations

import io

import polars as pl

from mh_assets.core.publish.report import (
    ReportFigure,
    ReportInput,
    ReportTable,
    Section,
    _label,
    column_texts,
    flatten,
)
from mh_assets.core.publish.writers import (
    PreparedTable,
    add_docx_table,
    docx_layout,
    prepare_table,
    set_docx_page,
    style_docx,
)

BODY_PT = 10


def build_report_docx(report: ReportInput) -> bytes:
    """The report as .docx bytes: headings, paragraphs, numbered tables and figures."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Inches

    doc = Document()
    set_docx_page(doc.sections[0], landscape=False)  # A4, as the table files
    style_docx(doc, BODY_PT)
    doc.add_heading(report.title, level=0)
    if report.subtitle:
        doc.add_paragraph(report.subtitle).runs[0].italic = True
    counters = {"table": 0, "figure": 0}
    for section in _sections(report):
        _orientation(doc, WD_ORIENT.PORTRAIT)
        doc.add_heading(section.title, level=1)
        for item in section.items:
            # consecutive tables too wide for a portrait page share one landscape section;
            # anything else is portrait
            if isinstance(item, ReportTable):
                counters["table"] += item.number is None
                table = _prepared(item, _label("Table", item.number, counters["table"]))
                landscape, size, widths = docx_layout(table)
                _orientation(doc, WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT)
                add_docx_table(doc, table, size, widths)
                continue
            _orientation(doc, WD_ORIENT.PORTRAIT)
            if isinstance(item, ReportFigure):
                counters["figure"] += item.number is None
                doc.add_picture(io.BytesIO(item.png), width=Inches(6.3))
                caption = doc.add_paragraph(style="Caption")
                caption.add_run(
                    f"{_label('Figure', item.number, counters['figure'])}. ").bold = True
                caption.add_run(f"{item.title}. {item.caption}" if item.caption
                                else item.title).bold = False
            else:
                doc.add_paragraph(str(item))
    _orientation(doc, WD_ORIENT.PORTRAIT)
    doc.add_heading("Provenance", level=1)
    pairs = flatten(report.provenance)
    if pairs:
        table = doc.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for key, value in pairs:
            cells = table.add_row().cells
            cells[0].text, cells[1].text = key, value
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _sections(report: ReportInput) -> list[Section]:
    sections = list(report.leading)
    if report.cohort_flow is not None:
        sections.append(Section("Cohort flow", [ReportTable(
            "Records read, excluded (per reason) and kept", report.cohort_flow)]))
    sections += [*report.sections, *([report.validity] if report.validity else []),
                 *report.trailing]
    return sections


def _prepared(item: ReportTable, label: str) -> PreparedTable:
    """The report table as the table files lay it out: its cells as the HTML shows them,
    fitted column widths, the caption (and the small-count note, where a cell is
    hidden) under it."""
    frame = pl.DataFrame({name: column_texts(item.frame.get_column(name))
                          for name in item.frame.columns}, schema=dict.fromkeys(
                              item.frame.columns, pl.String))
    return prepare_table(frame, title=f"{label}. {item.title}",
                         headers={name: str(name) for name in frame.columns},
                         notes=[item.caption])


def _orientation(doc, orientation) -> None:
    """Start a new section in ``orientation`` (swapping the page's width and height)."""
    from docx.enum.section import WD_SECTION

    current = doc.sections[-1]
    if current.orientation == orientation:
        return
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = orientation
    section.page_width, section.page_height = current.page_height, current.page_width

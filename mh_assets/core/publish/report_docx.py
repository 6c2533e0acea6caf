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

from mh_assets.core.publish.report import (
    ReportFigure,
    ReportInput,
    ReportTable,
    Section,
    _cell,
    _label,
    flatten,
)

WIDE = 7  # columns from which a table gets a landscape section


def build_report_docx(report: ReportInput) -> bytes:
    """The report as .docx bytes: headings, paragraphs, numbered tables and figures."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Inches, Pt

    doc = Document()
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading(report.title, level=0)
    if report.subtitle:
        doc.add_paragraph(report.subtitle).runs[0].italic = True
    counters = {"table": 0, "figure": 0}
    for section in _sections(report):
        _orientation(doc, WD_ORIENT.PORTRAIT)
        doc.add_heading(section.title, level=1)
        for item in section.items:
            # consecutive wide tables share one landscape section; anything else is portrait
            wide = isinstance(item, ReportTable) and item.frame.width >= WIDE
            _orientation(doc, WD_ORIENT.LANDSCAPE if wide else WD_ORIENT.PORTRAIT)
            if isinstance(item, ReportTable):
                counters["table"] += item.number is None
                _table(doc, item, _label("Table", item.number, counters["table"]), WD_ORIENT,
                       Pt)
            elif isinstance(item, ReportFigure):
                counters["figure"] += item.number is None
                doc.add_picture(io.BytesIO(item.png), width=Inches(6.3))
                caption = doc.add_paragraph(style="Caption")
                caption.add_run(
                    f"{_label('Figure', item.number, counters['figure'])}. ").bold = True
                caption.add_run(f"{item.title} {item.caption}".strip())
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


def _table(doc, item: ReportTable, label: str, orient, Pt) -> None:
    frame = item.frame
    wide = frame.width >= WIDE
    doc.add_paragraph(style="Caption").add_run(f"{label}. {item.title}").bold = True
    table = doc.add_table(rows=1, cols=frame.width)
    table.style = "Table Grid"
    size = Pt(8 if wide else 9)
    # each run is sized as it is written: walking table.rows/.cells again afterwards cost
    # more than writing the table (python-docx rebuilds the cell grid on every access)
    for cell, name in zip(table.rows[0].cells, frame.columns, strict=True):
        run = cell.paragraphs[0].add_run(str(name))
        run.bold, run.font.size = True, size
    for row in frame.iter_rows():
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.paragraphs[0].add_run(_cell(value)).font.size = size
    if item.caption:
        doc.add_paragraph(item.caption).runs[0].font.size = Pt(8)


def _orientation(doc, orientation) -> None:
    """Start a new section in ``orientation`` (swapping the page's width and height)."""
    from docx.enum.section import WD_SECTION

    current = doc.sections[-1]
    if current.orientation == orientation:
        return
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = orientation
    section.page_width, section.page_height = current.page_height, current.page_width

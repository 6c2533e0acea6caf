"""Table files: one frame written as CSV, XLSX and DOCX, each atomically.

The CSV is the machine-readable copy: the frame as it is, column names included.
The XLSX and the DOCX are the supplement's table, and one writer lays out both
from the same prepared cells:

* display headers for every column (``headers``; a column without one is an
  error, so a snake_case name never reaches a reader);
* numbers as numbers: ints and floats, and the numeric-looking strings that
  suppression leaves ("3009", "61.36"), become numeric cells with a number format
  (integers ``0``, decimals by column: the most a column's values carry, or
  ``decimals``); markers and text ("<10", "*", "<0.0001", "59.99–62.72") stay text;
* a numbered title ("Supplementary Table S1. ...") -- a Caption-styled paragraph in
  Word, a bold merged first row above the header in Excel;
* column widths fitted to content (no word broken in Word), a landscape section
  for a table too wide for a portrait page;
* notes under the table: the caller's ``notes``, then the suppression note only
  when a cell is actually suppressed ("<10" or "*").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mh_assets.core.publish.suppression import (
    SECONDARY_MARK,
    primary_mark,
    suppression_footnote,
)
from mh_assets.core.storage import ArtifactStore, open_store

# A plain decimal number as suppression and formatting write it; "007" stays text.
_NUMBER = re.compile(r"^[+-]?(?:0|[1-9]\d*)(?:\.(\d+))?$")
_MAX_DECIMALS = 6

# Page geometry (A4, 2 cm margins) and table type, in cm and points.
_A4 = (21.0, 29.7)
_MARGIN = 2.0
_PORTRAIT_WIDTH = _A4[0] - 2 * _MARGIN
_LANDSCAPE_WIDTH = _A4[1] - 2 * _MARGIN
_FONT = "Calibri"
_FONT_PT = 9.0
_SMALL_FONT_PT = 8.0
_NOTE_PT = 8.0
_CELL_PADDING_CM = 0.38 + 0.12  # Word's default 0.19 cm a side, and some slack
_EM_CM = 2.54 / 72  # 1 pt in cm
_XLSX_MAX_WIDTH = 60.0  # characters; longer text wraps
_PORTRAIT_SLACK = 1.25  # portrait while the cells need at most this much of its width


@dataclass(frozen=True)
class Cell:
    """One body cell: what Word shows, what Excel stores and how it formats it."""

    text: str
    value: object  # int | float | str | None
    number_format: str | None = None


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    cells: tuple[Cell, ...]
    right: bool  # numbers and markers only: right-aligned


@dataclass(frozen=True)
class PreparedTable:
    """Everything the XLSX and the DOCX show, decided once."""

    title: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...]
    sheet: str

    @property
    def n_rows(self) -> int:
        return len(self.columns[0].cells) if self.columns else 0


def write_table(
    frame: pl.DataFrame,
    stem: str | Path,
    *,
    title: str,
    headers: Mapping[str, str],
    notes: Sequence[str] = (),
    decimals: Mapping[str, int] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    sheet: str = "table",
    store: ArtifactStore | None = None,
    min_cell: int = 10,
) -> list[Path]:
    """Write ``stem.csv``, ``stem.xlsx`` and ``stem.docx``, each atomically.

    With ``store``, ``stem`` is relative to its root (``tables/sud_by_sex``) and
    ``restricted/`` permissions apply; without, it is a path and files are renamed
    into place from temporary siblings. ``headers`` names every column for readers
    (the display map of the table); ``notes`` go under the table, followed by the
    suppression note when a cell shows ``<min_cell`` or ``*``; ``decimals`` fixes
    a column's decimals (default: the most its values carry); ``values`` relabels a
    column's values for readers (the CSV keeps them as they are).
    """
    prepared = prepare_table(frame, title=title, headers=headers, notes=notes,
                             decimals=decimals, values=values, sheet=sheet, min_cell=min_cell)
    if store is None:
        stem = Path(stem)
        store, stem = open_store(stem.parent), stem.name
    written = []
    for suffix, writer in ((".csv", _write_csv), (".xlsx", _write_xlsx), (".docx", _write_docx)):
        with store.atomic_file(f"{stem}{suffix}") as tmp:
            writer(frame, prepared, tmp)
        written.append(store.path(f"{stem}{suffix}"))
    return written


def prepare_table(
    frame: pl.DataFrame,
    *,
    title: str,
    headers: Mapping[str, str],
    notes: Sequence[str] = (),
    decimals: Mapping[str, int] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    sheet: str = "table",
    min_cell: int = 10,
) -> PreparedTable:
    """The cells, headers and notes both the XLSX and the DOCX show."""
    missing = [c for c in frame.columns if c not in headers]
    if missing:
        raise ValueError(f"no display header for columns {missing}: add them to the "
                         "table's display map")
    decimals, values = dict(decimals or {}), dict(values or {})
    columns = tuple(
        _column(name, headers[name],
                [values.get(name, {}).get(v, v) if isinstance(v, str) else v
                 for v in frame.get_column(name).to_list()],
                decimals.get(name))
        for name in frame.columns
    )
    texts = [cell.text for column in columns for cell in column.cells]
    all_notes = [n for n in notes if n]
    if has_suppressed_cell(texts, min_cell):
        all_notes.append(suppression_footnote(min_cell))
    return PreparedTable(title=title, columns=columns, notes=tuple(all_notes),
                         sheet=_sheet_name(sheet))


def has_suppressed_cell(texts: Sequence[str], min_cell: int = 10) -> bool:
    """Whether a cell is, or holds in parentheses, a suppression marker."""
    marks = (primary_mark(min_cell), SECONDARY_MARK)
    return any(t in marks or any(f"({m})" in t for m in marks) for t in texts)


def _sheet_name(name: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", name).strip() or "table"
    return cleaned[:31]


def _parse(value: object) -> tuple[int | float, int] | None:
    """(number, decimals shown) of a numeric value or numeric-looking string."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value), 0
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return None
        text = repr(float(value))
        if "e" in text or "E" in text:
            return float(value), 4
        fraction = text.split(".")[1] if "." in text else ""
        return float(value), 0 if fraction == "0" else min(len(fraction), _MAX_DECIMALS)
    if isinstance(value, str):
        match = _NUMBER.match(value.strip())
        if match is None:
            return None
        fraction = match.group(1)
        if fraction is None:
            return int(value), 0
        return float(value), min(len(fraction), _MAX_DECIMALS)
    return None


def _column(name: str, header: str, values: list, fixed: int | None) -> Column:
    parsed = [_parse(v) for v in values]
    places = fixed if fixed is not None else max(
        (p[1] for p in parsed if p is not None), default=0)
    cells = []
    for value, number in zip(values, parsed, strict=True):
        if number is not None:
            num = number[0]
            fmt = "0" if places == 0 else "0." + "0" * places
            cells.append(Cell(f"{num:.{places}f}", num, fmt))
        else:
            text = cell_text(value)
            cells.append(Cell(text, text if text else None))
    shown = [c.text for c in cells if c.text]
    right = bool(shown) and all(not re.search(r"[A-Za-z]", t) for t in shown)
    return Column(name, header, tuple(cells), right)


def _write_csv(frame: pl.DataFrame, _: PreparedTable, path: Path) -> None:
    frame.write_csv(path)


# ------------------------------------------------------------------ widths
def text_width_em(text: str, bold: bool = False) -> float:
    """Rough width of ``text`` in em of a proportional sans (Calibri-like) font."""
    width = 0.0
    for char in text:
        if char in "ijl.,;:'!|()[] ":
            width += 0.26
        elif char in "frt-":
            width += 0.36
        elif char in "mwMW%":
            width += 0.85
        elif char.isupper():
            width += 0.62
        else:
            width += 0.51
    return width * (1.06 if bold else 1.0)


def _longest_word(text: str, bold: bool = False) -> float:
    return max((text_width_em(w, bold) for w in text.split()), default=0.0)


@dataclass(frozen=True)
class _Extent:
    full: float  # em: every cell and the header on one line
    compact: float  # em: cells on one line, the header wrapped at its words
    minimum: float  # em: the longest word (header or cell)


def _extent(column: Column) -> _Extent:
    cells = max((text_width_em(c.text) for c in column.cells), default=0.0)
    header_words = _longest_word(column.header, bold=True)
    words = max([header_words, *(_longest_word(c.text) for c in column.cells)])
    return _Extent(full=max(cells, text_width_em(column.header, bold=True)),
                   compact=max(cells, header_words), minimum=words)


def _cm(em: float, points: float) -> float:
    return em * points * _EM_CM + _CELL_PADDING_CM


def docx_layout(table: PreparedTable) -> tuple[bool, float, list[float]]:
    """(landscape, font size in pt, column widths in cm) for the Word table.

    Portrait when the cells fit on one line of a portrait page (headers wrapped at
    their words), or nearly (``_PORTRAIT_SLACK``: a little wrapping beats turning
    the page); otherwise landscape. Every column gets at least its longest word and
    the rest of the width goes to the columns that want more, in proportion to what
    they lack.
    """
    extents = [_extent(c) for c in table.columns]
    full = [_cm(e.full, _FONT_PT) for e in extents]
    if sum(full) <= _PORTRAIT_WIDTH:
        return False, _FONT_PT, full
    compact = [_cm(e.compact, _FONT_PT) for e in extents]
    if sum(compact) <= _PORTRAIT_WIDTH:
        return False, _FONT_PT, _fill(compact, full, _PORTRAIT_WIDTH)
    minimum = [_cm(e.minimum, _FONT_PT) for e in extents]
    if sum(compact) <= _PORTRAIT_SLACK * _PORTRAIT_WIDTH and sum(minimum) <= _PORTRAIT_WIDTH:
        return False, _FONT_PT, _fill(minimum, compact, _PORTRAIT_WIDTH)
    size = _FONT_PT
    if sum(_cm(e.minimum, size) for e in extents) > _LANDSCAPE_WIDTH:
        size = _SMALL_FONT_PT
    minimum = [_cm(e.minimum, size) for e in extents]
    compact = [_cm(e.compact, size) for e in extents]
    full = [_cm(e.full, size) for e in extents]
    if sum(full) <= _LANDSCAPE_WIDTH:
        return True, size, full
    if sum(compact) <= _LANDSCAPE_WIDTH:
        return True, size, _fill(compact, full, _LANDSCAPE_WIDTH)
    if sum(minimum) >= _LANDSCAPE_WIDTH:  # cannot fit without breaking words: shrink evenly
        scale = _LANDSCAPE_WIDTH / sum(minimum)
        return True, size, [w * scale for w in minimum]
    return True, size, _fill(minimum, compact, _LANDSCAPE_WIDTH)


def _fill(low: list[float], high: list[float], width: float) -> list[float]:
    """``low`` plus the spare width shared in proportion to ``high - low``."""
    spare = width - sum(low)
    want = [h - lo for lo, h in zip(low, high, strict=True)]
    total = sum(want)
    if total <= 0:
        return low
    return [lo + min(w, spare * w / total) for lo, w in zip(low, want, strict=True)]


_DIGIT_EM = 0.51  # Excel's width unit is the width of a digit of the default font
_XLSX_HEADER_LINE = 14.0  # characters of a header kept on one line where it fits


def xlsx_widths(table: PreparedTable) -> list[float]:
    """Excel column widths (characters of the default font): the longest cell, or the
    header (on one line up to ``_XLSX_HEADER_LINE`` characters, else wrapped at its
    words), capped at ``_XLSX_MAX_WIDTH`` (longer text wraps)."""
    widths = []
    for column in table.columns:
        extent = _extent(column)
        header = min(text_width_em(column.header, bold=True), _XLSX_HEADER_LINE * _DIGIT_EM)
        wanted = max(extent.compact, header) / _DIGIT_EM + 2
        widths.append(min(_XLSX_MAX_WIDTH, round(wanted, 1)))
    return widths


def wrapped_lines(text: str, width_em: float, bold: bool = False) -> int:
    """Lines ``text`` takes when wrapped at its words into ``width_em``."""
    lines, used = 1, 0.0
    space = text_width_em(" ", bold)
    for word in text.split():
        size = text_width_em(word, bold)
        if used and used + space + size > width_em:
            lines, used = lines + 1, size
        else:
            used += (space if used else 0.0) + size
        while used > width_em:  # a word longer than the line is broken
            lines, used = lines + 1, used - width_em
    return lines


# ------------------------------------------------------------------ xlsx
def _write_xlsx(_: pl.DataFrame, table: PreparedTable, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    book = Workbook()
    sheet = book.active
    sheet.title = table.sheet
    n_cols = max(len(table.columns), 1)
    widths = xlsx_widths(table)
    room = [max(w - 1.5, 1.0) * _DIGIT_EM for w in widths]  # em inside a cell's padding
    total_width = sum(widths) or 10.0
    last = get_column_letter(n_cols)
    line = Side(style="thin")

    def merged_row(row: int, text: str, font: Font) -> None:
        sheet.cell(row=row, column=1, value=text).font = font
        sheet.cell(row=row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        if n_cols > 1:
            sheet.merge_cells(f"A{row}:{last}{row}")
        scale = (font.size or 11) / 11  # em of this font per em of the default
        lines = wrapped_lines(text, max(total_width - 2, 1.0) * _DIGIT_EM / scale,
                              bold=bool(font.bold))
        sheet.row_dimensions[row].height = 15.0 * scale * lines + 2

    merged_row(1, table.title, Font(name=_FONT, bold=True, size=12))
    header_lines = 1
    for j, column in enumerate(table.columns, start=1):
        cell = sheet.cell(row=2, column=j, value=column.header)
        cell.font = Font(name=_FONT, bold=True)
        cell.border = Border(top=line, bottom=line)
        cell.alignment = Alignment(wrap_text=True, vertical="bottom",
                                   horizontal="right" if column.right else "left")
        header_lines = max(header_lines, wrapped_lines(column.header, room[j - 1], bold=True))
    sheet.row_dimensions[2].height = 15.0 * header_lines
    for i in range(table.n_rows):
        lines = 1
        for j, column in enumerate(table.columns, start=1):
            body = column.cells[i]
            cell = sheet.cell(row=3 + i, column=j, value=body.value)
            if body.number_format:
                cell.number_format = body.number_format
            needed = wrapped_lines(body.text, room[j - 1])
            cell.alignment = Alignment(wrap_text=needed > 1, vertical="top",
                                       horizontal="right" if column.right else "left")
            lines = max(lines, needed)
        if lines > 1:
            sheet.row_dimensions[3 + i].height = 15.0 * lines
    last_row = 2 + table.n_rows
    for j in range(1, n_cols + 1):
        cell = sheet.cell(row=last_row, column=j)
        cell.border = Border(top=cell.border.top, bottom=line)
    for k, note in enumerate(table.notes):
        merged_row(last_row + 2 + k, note, Font(name=_FONT, size=9))
    for j, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(j)].width = width
    sheet.freeze_panes = "A3"
    landscape, _, _ = docx_layout(table)
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = "2:2"
    book.save(path)


# ------------------------------------------------------------------ docx
def _write_docx(_: pl.DataFrame, table: PreparedTable, path: Path) -> None:
    from docx import Document

    landscape, size, widths = docx_layout(table)
    doc = Document()
    set_docx_page(doc.sections[0], landscape)
    style_docx(doc, size)
    add_docx_table(doc, table, size, widths)
    doc.save(str(path))


def set_docx_page(section, landscape: bool) -> None:
    """An A4 page with 2 cm margins, in the orientation asked for."""
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    short, long = Cm(_A4[0]), Cm(_A4[1])
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(_MARGIN))


def style_docx(doc, size: float = _FONT_PT) -> None:
    """Body text in the tables' font; captions bold black (Word's default is blue)."""
    from docx.shared import Pt, RGBColor

    normal = doc.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(size)
    caption = doc.styles["Caption"]
    caption.font.size = Pt(11)
    caption.font.bold = True
    caption.font.color.rgb = RGBColor(0, 0, 0)


def add_docx_table(doc, table: PreparedTable, size: float, widths: Sequence[float]) -> None:
    """The table's title, grid (fixed column ``widths`` in cm, the header row repeated on
    every page, no row split across pages) and notes, appended to ``doc``."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    title = doc.add_paragraph(table.title, style="Caption")
    title.paragraph_format.keep_with_next = True
    title.paragraph_format.space_after = Pt(4)

    grid = doc.add_table(rows=1 + table.n_rows, cols=len(table.columns))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    grid._tbl.tblPr.append(layout)
    for j, width in enumerate(widths):
        grid.columns[j].width = Cm(width)

    def fill(cell, text: str, *, bold: bool, right: bool, width: float) -> None:
        cell.width = Cm(width)
        paragraph = cell.paragraphs[0]
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.paragraph_format.space_before = Pt(0)
        paragraph.paragraph_format.line_spacing = 1.0
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if right else WD_ALIGN_PARAGRAPH.LEFT
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.size = Pt(size)

    rows = grid.rows
    header = rows[0]
    properties = header._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # repeated on every page
    repeat.set(qn("w:val"), "true")
    properties.append(repeat)
    for j, column in enumerate(table.columns):
        fill(header.cells[j], column.header, bold=True, right=column.right, width=widths[j])
    for i in range(table.n_rows):
        row = rows[i + 1]
        no_split = OxmlElement("w:cantSplit")
        row._tr.get_or_add_trPr().append(no_split)
        cells = row.cells
        for j, column in enumerate(table.columns):
            fill(cells[j], column.cells[i].text, bold=False, right=column.right,
                 width=widths[j])
    for note in table.notes:
        paragraph = doc.add_paragraph()
        paragraph.paragraph_format.space_before = Pt(2)
        paragraph.paragraph_format.space_after = Pt(0)
        run = paragraph.add_run(note)
        run.font.size = Pt(_NOTE_PT)


def cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

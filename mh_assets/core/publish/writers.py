"""Table files: one frame written as CSV, XLSX and DOCX, each atomically.

CSV and XLSX keep the column names (machine readable); the DOCX is the journal
table, with display headers, a title and the suppression footnote.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from mh_assets.core.publish.suppression import suppression_footnote
from mh_assets.core.storage import ArtifactStore, open_store


def write_table(
    frame: pl.DataFrame,
    stem: str | Path,
    *,
    title: str = "",
    footnote: str | None = None,
    headers: Mapping[str, str] | None = None,
    store: ArtifactStore | None = None,
    min_cell: int = 10,
) -> list[Path]:
    """Write ``stem.csv``, ``stem.xlsx`` and ``stem.docx``, each atomically.

    With ``store``, ``stem`` is relative to its root (``tables/sud_by_sex``) and
    ``restricted/`` permissions apply; without, it is a path and files are renamed
    into place from temporary siblings. CSV and XLSX keep the column names (machine
    readable); the DOCX is the journal table, with ``headers`` as display names, a
    title and the suppression footnote (``footnote=""`` for none).
    """
    if store is None:
        stem = Path(stem)
        store, stem = open_store(stem.parent), stem.name
    note = suppression_footnote(min_cell) if footnote is None else footnote
    written = []
    for suffix, writer in ((".csv", _write_csv), (".xlsx", _write_xlsx), (".docx", _write_docx)):
        with store.atomic_file(f"{stem}{suffix}") as tmp:
            writer(frame, tmp, title, note, headers or {})
        written.append(store.path(f"{stem}{suffix}"))
    return written


def _write_csv(frame: pl.DataFrame, path: Path, *_: object) -> None:
    frame.write_csv(path)


def _write_xlsx(frame: pl.DataFrame, path: Path, title: str, note: str, _: object) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "table"
    sheet.append(frame.columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in frame.iter_rows():
        sheet.append([_xlsx_value(v) for v in row])
    notes = book.create_sheet("notes")
    for line in (title, note):
        if line:
            notes.append([line])
    book.save(path)


def _xlsx_value(value: object) -> object:
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _write_docx(
    frame: pl.DataFrame, path: Path, title: str, note: str, headers: Mapping[str, str]
) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    if title:
        doc.add_paragraph().add_run(title).bold = True
    table = doc.add_table(rows=1, cols=len(frame.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, frame.columns, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(headers.get(name, name)).bold = True
    for row in frame.iter_rows():
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = cell_text(value)
    if note:
        run = doc.add_paragraph().add_run(note)
        run.font.size = Pt(8)
    doc.save(str(path))


def cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

"""Aggregate frames as text for the UI: a Markdown preview and a column schema."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from mh_assets.core.publish.writers import cell_text as _cell_text


def markdown_preview(frame: pl.DataFrame, max_rows: int = 30) -> str:
    """A Markdown table of an aggregate frame for Dagster metadata.

    ``|``, ``<`` and ``>`` are backslash-escaped so a cell can neither split the
    table nor be read as an HTML tag by the UI's renderer.
    """
    shown = frame.head(max_rows)

    def cell(value: object) -> str:
        text = _cell_text(value).replace("\n", " ")
        return text.replace("|", "\\|").replace("<", "\\<").replace(">", "\\>")

    lines = [
        "| " + " | ".join(cell(c) for c in shown.columns) + " |",
        "| " + " | ".join("---" for _ in shown.columns) + " |",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()),
    ]
    if frame.height > max_rows:
        lines.append(f"\n_{frame.height - max_rows} more rows not shown_")
    return "\n".join(lines)


def table_columns(frame: pl.DataFrame) -> Sequence[tuple[str, str]]:
    """(name, dtype) pairs, for a ``dagster/column_schema``."""
    return [(name, str(dtype)) for name, dtype in frame.schema.items()]

"""Writing published tables and figures, and the metadata the UI shows for them.

Each table asset shows a Markdown preview, ``dagster/column_schema`` and
``dagster/row_count``; each figure asset shows its PNG inline. Only suppressed,
aggregate frames ever reach these helpers.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import dagster as dg
import polars as pl

from mh_assets.core.artifacts import ArtifactStore
from mh_assets.core.tables import markdown_preview, write_table
from mh_assets.defs.provenance import artifacts_metadata


def combine(*metadata: Mapping[str, object]) -> dict[str, object]:
    """Merge metadata dicts; their ``artifacts`` lists are united, not overwritten."""
    merged: dict[str, object] = {}
    paths: set[str] = set()
    for meta in metadata:
        for key, value in meta.items():
            if key == "artifacts":
                paths.update(value.value if isinstance(value, dg.JsonMetadataValue) else value)
            else:
                merged[key] = value
    if paths:
        merged.update(artifacts_metadata(*paths))
    return merged


def table_metadata(
    frame: pl.DataFrame, stem: str, store: ArtifactStore, suffixes: tuple[str, ...] = (".csv",)
) -> dict[str, object]:
    return {
        **artifacts_metadata(*(f"{stem}{suffix}" for suffix in suffixes)),
        "preview": dg.MetadataValue.md(markdown_preview(frame)),
        "dagster/row_count": frame.height,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()]
        ),
        "path": dg.MetadataValue.path(str(store.path(f"{stem}.csv"))),
    }


def publish_table(
    frame: pl.DataFrame, stem: str, store: ArtifactStore, *, title: str, min_cell: int,
    headers: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """Write ``stem`` as CSV/XLSX/DOCX and return the metadata describing it."""
    write_table(frame, stem, title=title, headers=headers, store=store, min_cell=min_cell)
    return table_metadata(frame, stem, store, suffixes=(".csv", ".xlsx", ".docx"))


def png_markdown(png: bytes, alt: str) -> dg.MetadataValue:
    """An inline image for the asset page (a data URI: the UI makes no request)."""
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def publish_figures(figures: Mapping[str, object], store: ArtifactStore) -> dict[str, object]:
    """Write each ``RenderedFigure`` as figures/<stem>.html and .png; PNGs inline in metadata."""
    meta: dict[str, object] = {}
    for stem, figure in figures.items():
        store.write_text(f"figures/{stem}.html", figure.html)
        store.write_bytes(f"figures/{stem}.png", figure.png)
        meta[f"figure/{stem}"] = png_markdown(figure.png, figure.title)
    meta.update(artifacts_metadata(
        *(f"figures/{stem}{suffix}" for stem in figures for suffix in (".html", ".png"))
    ))
    return meta

"""What every materialization says: where it came from and what it wrote.

Auditors ask "which extract, code, model and settings made this table?"; each asset
attaches the answer to its materialization (the data versions of its inputs, the
preset and settings, library versions and the git commit) and lists the files it
wrote in ``artifacts`` (``mh-assets lineage`` maps a file back to its asset through
that entry). Table assets also show a Markdown preview, ``dagster/column_schema`` and
``dagster/row_count``; figure assets show their PNG inline. Only suppressed, aggregate
frames ever reach these helpers.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import dagster as dg
import polars as pl

from mh_assets.core import layout
from mh_assets.core.environment import git_commit, library_versions
from mh_assets.core.publish.preview import markdown_preview
from mh_assets.core.publish.writers import write_table
from mh_assets.core.storage import ArtifactStore
from mh_assets.ops import provenance as keys
from mh_assets.ops.graph import latest_materialization
from mh_assets.settings import Settings


# ------------------------------------------------------------------ provenance
def input_data_versions(
    context: dg.AssetExecutionContext, keys: list[dg.AssetKey] | None = None
) -> dict[str, str]:
    """Latest data version of each upstream asset: of the same sex partition for a
    partitioned upstream (male's corpus never stands in for female's), else the latest."""
    keys = keys if keys is not None else sorted(
        {key for assets_key in context.selected_asset_keys
         for key in context.assets_def.asset_deps.get(assets_key, set())}
    )
    partition = context.partition_key if context.has_partition_key else None
    out: dict[str, str] = {}
    for key in keys:
        record = latest_materialization(context.instance, key, partition) if partition else None
        record = record or latest_materialization(context.instance, key)
        if record is None or record.asset_materialization is None:
            out[key.to_user_string()] = "never materialized"
            continue
        tags = record.asset_materialization.tags or {}
        out[key.to_user_string()] = tags.get("dagster/data_version", "unknown")
    return out


def provenance_metadata(
    context: dg.AssetExecutionContext, settings: Settings, *, with_inputs: bool = True
) -> dict[str, object]:
    """The one ``provenance`` entry every asset carries: preset, commit, run, input data
    versions, settings and library versions -- one compact block in the UI, not six."""
    record: dict[str, object] = {
        keys.PRESET: settings.preset,
        keys.GIT_COMMIT: git_commit(),
        keys.RUN_ID: context.run.run_id,
    }
    if with_inputs:
        record[keys.INPUT_DATA_VERSIONS] = input_data_versions(context)
    record[keys.SETTINGS] = settings.as_metadata()
    record[keys.LIBRARIES] = library_versions()
    return {keys.PROVENANCE: dg.MetadataValue.json(record)}


def artifacts_metadata(*paths: str) -> dict[str, object]:
    """The files an asset wrote, relative to the artifacts root."""
    return {"artifacts": dg.MetadataValue.json(sorted(paths))}


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


# ------------------------------------------------------------------ tables and figures
def md_table(frame: pl.DataFrame, max_rows: int = 60) -> dg.MetadataValue:
    """An aggregate frame as a Markdown table in the UI."""
    return dg.MetadataValue.md(markdown_preview(frame, max_rows=max_rows))


def column_schema(frame: pl.DataFrame) -> dg.TableSchema:
    """Names, types and the data dictionary's description of every column (the UI's
    column schema of a table asset)."""
    from mh_assets.core.publish.dictionary import describe

    return dg.TableSchema(columns=[
        dg.TableColumn(name, str(dtype), description=describe(name) or None)
        for name, dtype in frame.schema.items()])


def table_value(frame: pl.DataFrame, digits: int = 4) -> dg.TableMetadataValue:
    """An aggregate frame as a Dagster table: the UI always shows it inline (a Markdown
    value over 1,000 characters collapses behind "[Show Markdown]")."""
    def cell(value: object) -> object:
        if isinstance(value, float):
            return round(value, digits)
        return value if value is None or isinstance(value, (bool, int, str)) else str(value)

    kinds = {pl.Boolean: "bool", pl.Int32: "int", pl.Int64: "int", pl.Float64: "float"}
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name, kinds.get(dtype, "string")) for name, dtype in frame.schema.items()])
    records = [dg.TableRecord({k: cell(v) for k, v in row.items()})
               for row in frame.iter_rows(named=True)]
    return dg.MetadataValue.table(records=records, schema=schema)


def table_metadata(
    frame: pl.DataFrame, stem: str, store: ArtifactStore, suffixes: tuple[str, ...] = (".csv",)
) -> dict[str, object]:
    """Preview, schema and row count of the table written at ``stem`` + each suffix."""
    return {
        **artifacts_metadata(*(f"{stem}{suffix}" for suffix in suffixes)),
        "preview": dg.MetadataValue.md(markdown_preview(frame)),
        "dagster/row_count": frame.height,
        "dagster/column_schema": column_schema(frame),
        "path": dg.MetadataValue.path(str(store.path(f"{stem}.csv"))),
    }


def publish_table(
    frame: pl.DataFrame, stem: str, store: ArtifactStore, *, min_cell: int,
    notes: tuple[str, ...] = (),
) -> dict[str, object]:
    """Write ``stem`` as CSV/XLSX/DOCX and return the metadata describing it.

    The numbered title and caption come from the catalog, the display headers,
    notes and decimals from the table's display map (both keyed by the stem's
    name); ``notes`` are added after them.
    """
    from mh_assets.core.publish import display

    shown = display.display(stem)
    heading = display.heading(stem)
    write_table(frame, stem, title=heading, headers=shown.headers,
                notes=(*display.notes(stem), *notes), decimals=shown.decimals,
                values=shown.values, sheet=display.sheet_name(stem), store=store,
                min_cell=min_cell)
    meta = table_metadata(frame, stem, store, suffixes=(".csv", ".xlsx", ".docx"))
    meta["title"] = dg.MetadataValue.text(heading)
    return meta


def png_markdown(png: bytes, alt: str) -> dg.MetadataValue:
    """An inline image for the asset page (a data URI: the UI makes no request)."""
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def publish_figures(figures: Mapping[str, object], store: ArtifactStore) -> dict[str, object]:
    """Write each ``RenderedFigure`` as figures/<stem>.html, .png (300 dpi) and .svg,
    each atomically, and the one plotly.js the HTML pages load beside them (rewritten only
    when missing or from another plotly). A small PNG of each is inline in metadata."""
    from mh_assets.core.publish.figures import PLOTLY_JS_STEM, plotly_js

    meta: dict[str, object] = {}
    written: list[str] = []
    for stem, figure in figures.items():
        for suffix, content in figure.files().items():
            if not content:
                continue
            relative = layout.figure(stem, suffix)
            if isinstance(content, str):
                store.write_text(relative, content)
            else:
                store.write_bytes(relative, content)
            written.append(relative)
        meta[f"figure/{stem}"] = png_markdown(figure.preview or figure.png, figure.title)
    if any(path.endswith(".html") for path in written):
        bundle, relative = plotly_js(), layout.figure(PLOTLY_JS_STEM, ".js")
        current = store.path(relative)
        if not (current.is_file() and current.stat().st_size == len(bundle.encode("utf-8"))
                and current.read_text(encoding="utf-8") == bundle):
            store.write_text(relative, bundle)  # atomic: concurrent writers are harmless
        written.append(relative)
    meta.update(artifacts_metadata(*written))
    return meta

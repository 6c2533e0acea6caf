"""Registry ingestion: the newest extract in the landing zone, parsed into one schema.

The extract's sha256 is its data version, so everything downstream is marked stale
in the UI the moment a different file is read.
"""

import json
from pathlib import Path

import dagster as dg
import polars as pl

from mh_assets.core import layout, registry
from mh_assets.core.schema import DROPPED_CODES
from mh_assets.core.synthetic.extract import truth_path_for
from mh_assets.defs.metadata import artifacts_metadata, md_table, provenance_metadata
from mh_assets.defs.resources import PlatformParam


class ExtractConfig(dg.Config):
    """Pick one extract file instead of the newest in the landing zone."""

    extract: str | None = None


def _fail(err: registry.ExtractFormatError) -> dg.Failure:
    """A file-level problem: fail the asset naming the file, line, column, expectation."""
    return dg.Failure(
        description=str(err),
        metadata={
            "file": err.file,
            "line": err.line if err.line is not None else "-",
            "byte_offset": err.offset if err.offset is not None else "-",
            "column": err.column or "-",
            "expected": err.expected,
        },
    )


def _dropped_codes(frame: pl.DataFrame, min_cell: int) -> pl.DataFrame:
    """Malformed secondary codes dropped, per field and shape (counts under min_cell
    masked): the records stay, so they are reported here and in the cohort flow."""
    counts = (frame.select(pl.col(DROPPED_CODES).explode().drop_nulls().alias("field: shape"))
              .group_by("field: shape").len("codes").sort("codes", "field: shape",
                                                           descending=[True, False]))
    return counts.with_columns(
        pl.when(pl.col("codes").is_between(1, min_cell - 1)).then(pl.lit(f"<{min_cell}"))
        .otherwise(pl.col("codes").cast(pl.Utf8)).alias("codes"))


@dg.asset(
    group_name="ingest",
    code_version="2",
    kinds={"polars", "csv"},
    description="The newest RAE-CMBD extract in the landing zone, parsed to one English-named "
    "schema (restricted/extract.parquet). Data version = the file's sha256.",
)
def registry_extract(
    context: dg.AssetExecutionContext, config: ExtractConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    settings = platform.settings
    try:
        path = Path(config.extract) if config.extract else registry.newest_extract(
            settings.extracts_dir
        )
        context.log.info(f"Reading extract {path.name}")
        frame, info = registry.read_extract(path)
    except registry.ExtractFormatError as err:
        raise _fail(err) from None
    store = platform.store
    store.write_parquet(layout.EXTRACT, frame)
    store.write_text(layout.EXTRACT_INFO, info.to_json())
    synthetic = truth_path_for(path).exists()  # the generator's answer key sits beside it
    dropped = _dropped_codes(frame, settings.min_cell)
    store.write_text(layout.EXTRACT_ORIGIN, json.dumps({"synthetic": synthetic}))
    context.log.info(f"Parsed {info.rows} rows ({info.header_language} headers, {info.encoding})")
    return dg.MaterializeResult(
        metadata={
            **info.as_metadata(),
            "synthetic": synthetic,
            "dropped_codes": md_table(dropped),
            "dagster/row_count": info.rows,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(name, dtype) for name, dtype in info.columns.items()]
            ),
            **provenance_metadata(context, settings, with_inputs=False),
            **artifacts_metadata(layout.EXTRACT, layout.EXTRACT_INFO, layout.EXTRACT_ORIGIN),
        },
        data_version=dg.DataVersion(info.sha256),
    )


@dg.asset_check(asset=registry_extract, description="The parsed extract has the canonical "
                "schema: every required column present with its expected type.")
def extract_schema(platform: PlatformParam) -> dg.AssetCheckResult:
    import polars as pl

    schema = pl.read_parquet_schema(platform.store.path(layout.EXTRACT))
    expected = registry.canonical_schema()
    missing = [name for name in expected if name not in schema]
    wrong = {name: f"{schema[name]} (expected {dtype})" for name, dtype in expected.items()
             if name in schema and schema[name] != dtype}
    return dg.AssetCheckResult(
        passed=not missing and not wrong,
        metadata={"missing_columns": missing, "wrong_types": wrong, "columns": len(schema)},
    )

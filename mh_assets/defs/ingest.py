"""Registry ingestion: the extracts in the landing zone, parsed into one schema.

With ``MH_EXTRACT_MODE=all`` (the default) every extract is read and combined
(:func:`mh_assets.core.registry.combine_extracts`: deliveries of different years add
up, episodes an earlier file holds are dropped, each row names its file); with
``newest`` only the newest file is read. Run config can pin one file (``extract``) or
a set (``extracts``, what the new-extract sensor sends). The data version is the
sha256 of the set (of the one file, for a single pinned file or in ``newest`` mode),
so everything downstream is marked stale in the UI the moment other data is read.
"""

import json
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl

from mh_assets.core import layout, registry
from mh_assets.core.publish.suppression import mask_count, mask_count_expr
from mh_assets.core.schema import DROPPED_CODES
from mh_assets.core.synthetic.extract import truth_path_for
from mh_assets.defs.metadata import artifacts_metadata, md_table, provenance_metadata
from mh_assets.defs.resources import PlatformParam


class ExtractConfig(dg.Config):
    """Pick one extract file (``extract``), or a set of files to combine (``extracts``),
    instead of what ``MH_EXTRACT_MODE`` takes from the landing zone."""

    extract: str | None = None
    extracts: list[str] | None = None


def _read(config: ExtractConfig, settings) -> tuple[list[Path], pl.DataFrame,
                                                    registry.ExtractInfo,
                                                    registry.CombinedInfo | None]:
    """The files read, the frame, its info, and the per-file list when combined."""
    if config.extract or (not config.extracts and settings.extract_mode == "newest"):
        path = (Path(config.extract) if config.extract
                else registry.newest_extract(settings.extracts_dir))
        frame, info = registry.read_extract(path)
        frame = frame.with_columns(pl.lit(path.name, pl.String).alias(registry.EXTRACT_FILE))
        info = replace(info, columns={c: str(t) for c, t in frame.schema.items()})
        return [path], frame, info, None
    if config.extracts:
        paths = [Path(p) for p in config.extracts]
    else:
        registry.newest_extract(settings.extracts_dir)  # the same error for an empty zone
        paths = registry.find_extracts(settings.extracts_dir)
    frame, combined = registry.combine_extracts(paths)
    return sorted(paths, key=lambda p: p.name), frame, combined.info, combined


def _single(path: Path, info: registry.ExtractInfo) -> registry.CombinedInfo:
    """The per-file list of a frame read from one file."""
    return registry.CombinedInfo(
        info, (registry.ExtractFile(path.name, info.sha256, info.rows, info.rows, 0),), 0)


def _fail(err: registry.ExtractFormatError, landing_zone: Path | None) -> dg.Failure:
    """A file-level problem: fail the asset naming the file, line, column, expectation;
    for a file in the landing zone (``landing_zone``) that does not read as an extract at
    all, also how to set it aside -- every file there is read."""
    advice = (f" If {err.file} is not a registry extract, move it out of the landing zone "
              f"({landing_zone}): every .csv and .txt file there is read; or name the "
              "extract to read with `mh-assets run --extract FILE`."
              if err.not_an_extract and landing_zone else "")
    return dg.Failure(
        description=str(err) + advice,
        metadata={
            "file": err.file,
            "line": err.line if err.line is not None else "-",
            "byte_offset": err.offset if err.offset is not None else "-",
            "column": err.column or "-",
            "expected": err.expected,
        },
    )


def _unparsable_sentence(counts: dict[str, int], min_cell: int) -> str:
    """What was set empty because it did not parse, per column (small counts masked):
    these columns select no one, so the rows stay and nothing else would say so."""
    shown = ", ".join(f"{column} {mask_count(count, min_cell)}"
                      for column, count in sorted(counts.items()))
    return (f"Values that did not parse were set empty (the rows are kept: the study does "
            f"not select on these columns): {shown}. Fix them in the delivery if a table "
            "uses them.")


def _dropped_codes(frame: pl.DataFrame, min_cell: int) -> pl.DataFrame:
    """Malformed secondary codes dropped, per field and shape (counts under min_cell
    masked): the records stay, so they are reported here and in the cohort flow."""
    counts = (frame.select(pl.col(DROPPED_CODES).explode().drop_nulls().alias("field: shape"))
              .group_by("field: shape").len("codes").sort("codes", "field: shape",
                                                           descending=[True, False]))
    return counts.with_columns(mask_count_expr(pl.col("codes"), min_cell).alias("codes"))


@dg.asset(
    group_name="ingest",
    code_version="3",
    kinds={"polars", "csv"},
    description="The RAE-CMBD extracts in the landing zone (MH_EXTRACT_MODE=all: every file, "
    "combined, exact duplicate episodes dropped, `extract_file` naming each row's file; "
    "newest: the newest file), parsed to one English-named schema "
    "(restricted/extract.parquet; the files in restricted/extract_files.json). Data "
    "version = the sha256 of the set of files (name, sha256), or of the one file read.",
)
def registry_extract(
    context: dg.AssetExecutionContext, config: ExtractConfig, platform: PlatformParam
) -> dg.MaterializeResult:
    settings = platform.settings
    try:
        paths, frame, info, combined = _read(config, settings)
    except registry.ExtractFormatError as err:
        chosen = config.extract or config.extracts
        raise _fail(err, None if chosen else settings.extracts_dir) from None
    context.log.info(f"Read {info.file_name}")
    files = combined or _single(paths[0], info)
    store = platform.store
    store.write_parquet(layout.EXTRACT, frame)
    store.write_text(layout.EXTRACT_INFO, info.to_json())
    store.write_text(layout.EXTRACT_FILES, files.files_json())
    # the generator's answer key sits beside a synthetic file; any one makes the data so
    synthetic = any(truth_path_for(path).exists() for path in paths)
    dropped = _dropped_codes(frame, settings.min_cell)
    store.write_text(layout.EXTRACT_ORIGIN, json.dumps({"synthetic": synthetic}))
    context.log.info(f"Parsed {info.rows} rows ({info.header_language} headers, {info.encoding})"
                     + (f"; {files.duplicates} duplicate episodes across files dropped"
                        if combined else ""))
    if info.unparsable_values:
        context.log.warning(_unparsable_sentence(info.unparsable_values, settings.min_cell))
    return dg.MaterializeResult(
        metadata={
            **info.as_metadata(),
            "extract_files": dg.MetadataValue.json(files.files_metadata()),
            "duplicates_dropped": files.duplicates,
            "synthetic": synthetic,
            "dropped_codes": md_table(dropped),
            "dagster/row_count": info.rows,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(name, dtype) for name, dtype in info.columns.items()]
            ),
            **provenance_metadata(context, settings, with_inputs=False),
            **artifacts_metadata(layout.EXTRACT, layout.EXTRACT_INFO, layout.EXTRACT_FILES,
                                 layout.EXTRACT_ORIGIN),
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

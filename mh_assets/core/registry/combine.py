"""Extracts that add up: several deliveries (2016-2020, later 2021-2023) as one frame.

The registry delivers years in separate extracts. Reading only the newest would drop
the earlier years silently, so every extract in the landing zone is read and the
frames are stacked:

* files are taken in name order and rows in file order, so the result is the same
  for the same set of files whatever order they arrived in;
* an *exact duplicate* episode -- the same value in every canonical column as a
  row of an earlier file (two deliveries that overlap) -- is dropped and counted;
  rows repeated inside one file are left as that file has them;
* ``record_number`` is renumbered 1..N over the combined frame and ``extract_file``
  names the file each row came from;
* the set's digest is the sha256 of the sorted (file name, file sha256) pairs (for a
  single file, its own sha256): the same set gives the same digest (and the same
  pseudonymous ids downstream); adding, removing or changing a file gives another, as
  does renaming one of several.

A file-level problem in any file raises that file's :class:`ExtractFormatError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import polars as pl

from mh_assets.core.registry.columns import CANONICAL_COLUMNS
from mh_assets.core.registry.reader import ExtractInfo, read_extract
from mh_assets.core.schema import RECORD_NUMBER, ROW_ISSUES

EXTRACT_FILE = "extract_file"


@dataclass(frozen=True)
class ExtractFile:
    """One file of a combined extract: its name, content hash and rows (read / kept)."""

    file_name: str
    sha256: str
    rows: int  # data rows read from the file
    rows_kept: int  # after dropping episodes an earlier file already holds
    duplicates: int


@dataclass(frozen=True)
class CombinedInfo:
    """What was combined: the per-file list, the duplicates dropped and the set digest.

    ``info`` is an :class:`ExtractInfo` valid for the combined frame (file name
    ``"2 extracts: A.csv, B.csv"``, sha256 = the set digest, rows = combined rows; the
    header, encoding and delimiter of the first file; counts summed over the files),
    so every reader of ``extract_info.json`` keeps working.
    """

    info: ExtractInfo
    files: tuple[ExtractFile, ...]
    duplicates: int

    @property
    def sha256(self) -> str:
        return self.info.sha256

    def files_json(self) -> str:
        return json.dumps({
            "sha256": self.sha256,
            "rows": self.info.rows,
            "duplicates_dropped": self.duplicates,
            "files": [asdict(f) for f in self.files],
        }, indent=2, sort_keys=True)

    def files_metadata(self) -> list[dict]:
        return [{"file_name": f.file_name, "sha256": f.sha256, "rows": f.rows,
                 "duplicates": f.duplicates} for f in self.files]


def combined_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """sha256 over the sorted (file name, file sha256) pairs: the identity of a set.

    A set of one file is that file's own sha256, so a landing zone holding one
    extract has the data version (and pseudonymous ids) it had before extracts
    added up, in either mode.
    """
    pairs = sorted(pairs)
    if len(pairs) == 1:
        return pairs[0][1]
    text = "\n".join(f"{name}\t{sha}" for name, sha in pairs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def combined_label(names: Sequence[str]) -> str:
    """``"2 extracts: A.csv, B.csv"`` (a single file keeps its own name)."""
    names = sorted(names)
    if len(names) == 1:
        return names[0]
    return f"{len(names)} extracts: " + ", ".join(names)


def combine_extracts(paths: Sequence[Path]) -> tuple[pl.DataFrame, CombinedInfo]:
    """Read every extract and stack them (see the module docstring).

    Raises ``ValueError`` for no paths, and the first file's
    :class:`ExtractFormatError` for a file-level problem in any of them.
    """
    paths = sorted((Path(p) for p in paths), key=lambda p: (p.name, str(p)))
    if not paths:
        raise ValueError("combine_extracts needs at least one extract")
    frames: list[pl.DataFrame] = []
    infos: list[ExtractInfo] = []
    files: list[ExtractFile] = []
    seen: pl.DataFrame | None = None  # the distinct episodes of the files before this one
    for number, path in enumerate(paths, start=1):
        frame, info = read_extract(path)
        kept = frame if seen is None else frame.join(
            seen, on=list(CANONICAL_COLUMNS), how="anti", nulls_equal=True,
            maintain_order="left")
        if number < len(paths):  # only a later file is compared with these episodes
            episodes = kept.select(CANONICAL_COLUMNS).unique()
            seen = episodes if seen is None else pl.concat([seen, episodes]).unique()
        frames.append(kept.with_columns(pl.lit(path.name, pl.String).alias(EXTRACT_FILE)))
        infos.append(info)
        files.append(ExtractFile(path.name, info.sha256, info.rows, kept.height,
                                 info.rows - kept.height))
    combined = pl.concat(frames, how="diagonal_relaxed")
    combined = combined.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(RECORD_NUMBER))

    first = infos[0]
    unknown = sorted({c for i in infos for c in i.unknown_columns})
    unparsable: dict[str, int] = {}
    for i in infos:
        for column, n in i.unparsable_values.items():
            unparsable[column] = unparsable.get(column, 0) + n
    info = replace(
        first,
        file_name=combined_label([p.name for p in paths]),
        sha256=combined_digest((f.file_name, f.sha256) for f in files),
        size_bytes=sum(i.size_bytes for i in infos),
        rows=combined.height,
        columns={c: str(t) for c, t in combined.schema.items()},
        unknown_columns=unknown,
        placeholder_codes=sum(i.placeholder_codes for i in infos),
        rows_with_issues=int(combined.select(pl.col(ROW_ISSUES).list.len().gt(0).sum()).item()),
        unparsable_values=unparsable,
    )
    duplicates = sum(f.duplicates for f in files)
    return combined, CombinedInfo(info, tuple(files), duplicates)

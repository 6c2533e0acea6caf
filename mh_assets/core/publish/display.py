"""How each published table is shown to readers: one display map per table.

The CSV keeps the machine-readable column names; the Word and Excel files and the
report show the same display names, notes and numbered title, all from here (titles
and captions from :mod:`.catalog`), so "Supplementary Table S1" and its columns read
the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import polars as pl

from mh_assets.core.publish.catalog import TABLES, Entry
from mh_assets.core.publish.cluster_table import (
    CLUSTER_HEADERS,
    CODE_HEADERS,
    PAIR_HEADERS,
    PAIR_NOTE,
)
from mh_assets.core.publish.descriptives import STATISTICS_HEADERS, STATISTICS_VALUES
from mh_assets.core.publish.sud_table import SUD_HEADERS


@dataclass(frozen=True)
class TableDisplay:
    """``headers``: column -> display name (every column); ``notes`` under the table
    after the catalog caption; ``decimals`` fixed per column (else as the values);
    ``values``: column -> {value in the CSV: what readers see} (others unchanged)."""

    headers: Mapping[str, str]
    notes: tuple[str, ...] = ()
    decimals: Mapping[str, int] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


#: Published table (its catalog key) -> how it is shown.
DISPLAYS: dict[str, TableDisplay] = {
    "sud_by_sex": TableDisplay(SUD_HEADERS),
    "clusters": TableDisplay(CLUSTER_HEADERS),
    "cluster_codes": TableDisplay(CODE_HEADERS),
    # the CSV's true/false as Word and Excel show a boolean
    "cluster_pairs": TableDisplay(PAIR_HEADERS, notes=(PAIR_NOTE,),
                                  values={"matched": {"true": "yes", "false": "no"}}),
    # Mann-Whitney U is a half-integer, a chi-square four decimals: two for both
    "descriptives": TableDisplay(STATISTICS_HEADERS, decimals={"statistic": 2},
                                 values=STATISTICS_VALUES),
}


def table_key(stem: str) -> str:
    """``tables/sud_by_sex`` (or ``sud_by_sex.csv``) -> ``sud_by_sex``."""
    name = PurePosixPath(str(stem)).name
    return name.rsplit(".", 1)[0] if name.endswith((".csv", ".xlsx", ".docx")) else name


def entry(stem: str) -> Entry:
    key = table_key(stem)
    if key not in TABLES:
        raise KeyError(f"table {key!r} is not in the catalog (mh_assets.core.publish.catalog)")
    return TABLES[key]


def display(stem: str) -> TableDisplay:
    key = table_key(stem)
    if key not in DISPLAYS:
        raise KeyError(f"table {key!r} has no display map (mh_assets.core.publish.display)")
    return DISPLAYS[key]


def label(number: str) -> str:
    """``"S1"`` -> ``"Supplementary Table S1"``; ``"2"`` -> ``"Table 2"``."""
    return f"Supplementary Table {number}" if number.startswith("S") else f"Table {number}"


def heading(stem: str) -> str:
    """The numbered title: ``"Supplementary Table S1. Substance use disorders by sex"``."""
    found = entry(stem)
    return f"{label(found.number)}. {found.title}"


def sheet_name(stem: str) -> str:
    """The Excel sheet's name: ``"Table S1"``."""
    return f"Table {entry(stem).number}"


def notes(stem: str) -> tuple[str, ...]:
    """What goes under the table: the catalog caption, then the table's own notes."""
    return tuple(n for n in (entry(stem).caption, *display(stem).notes) if n)


def for_readers(stem: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as readers see it (for the report): display headers and values."""
    shown = display(stem)
    missing = [c for c in frame.columns if c not in shown.headers]
    if missing:
        raise ValueError(f"no display header for columns {missing} of {table_key(stem)!r}")
    frame = frame.with_columns(
        pl.col(c).cast(pl.String).replace(dict(labels)) for c, labels in shown.values.items()
        if c in frame.columns
    )
    return frame.rename({c: shown.headers[c] for c in frame.columns})

"""Every published table and figure, numbered and captioned in one place.

The report, the Word and Excel files and the UI all take a table's or a figure's
number, title and caption from here, so "Supplementary Table S1" is the same table
everywhere and a caption is never a file name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """``number`` ("S1", "2"), ``title`` (one line), ``caption`` (what a reader needs)."""

    number: str
    title: str
    caption: str = ""


#: Published table stem (under tables/, without suffix; ``{sex}`` where per sex) -> entry.
TABLES: dict[str, Entry] = {
}

#: Published figure stem (under figures/, without suffix; ``{sex}`` where per sex) -> entry.
FIGURES: dict[str, Entry] = {
}

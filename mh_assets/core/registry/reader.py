"""Reading one RAE-CMBD extract into the platform's one canonical schema.

The registry delivers delimited text whose encoding, delimiter and header language
vary between deliveries and tools. This module absorbs that variation and splits
problems in two kinds, because they need different handling downstream:

* a *file-level* problem (wrong encoding or delimiter, missing or duplicated columns,
  ragged rows) means the file cannot be trusted at all: it raises
  :class:`ExtractFormatError`, naming file, line, column and what was expected, but
  never a cell value, since the values are restricted health data -- an encoding
  error gives the line and byte offset of the first bad byte, never the line itself;
* a *row-level* problem (an unparsable date, an unknown sex code, a value that is not
  an ICD-10 code) leaves the file usable: the row is kept, with value-free reasons in
  ``row_issues``, so the cohort selection can set it aside without dropping it.

Everything is read as strings and then parsed with polars expressions: a million rows
must parse in seconds, so there is no Python loop over rows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from mh_assets.core.registry.columns import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    SPANISH_HEADERS,
    canonical_dtype,
    map_header,
    unknown_column_name,
)
from mh_assets.core.registry.values import parse_columns
from mh_assets.core.schema import DROPPED_CODES, RECORD_NUMBER, ROW_ISSUES

EXTRACT_SUFFIXES = (".csv", ".txt")
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload")
EXTRACT_NAME = re.compile(r"^RAECMBD_(?P<request>[^_]+)_(?P<stamp>\d{8}-\d{6})\.", re.I)
EXPECTED_NAMES = "RAECMBD_<request>_<yyyymmdd>-<hhmmss>.csv (or another .csv / .txt extract)"

_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_LINE_SEPARATOR = "\x1f"  # never in a text file (rejected as binary), so lines stay whole


class ExtractFormatError(ValueError):
    """A file-level problem: names file, line, column and what was expected, never a value."""

    def __init__(
        self,
        file: str,
        expected: str,
        *,
        line: int | None = None,
        column: str | None = None,
        problem: str | None = None,
        found: str | None = None,
        offset: int | None = None,
        not_an_extract: bool = False,
    ):
        self.file = file
        # True where the file does not read as an extract at all (empty, binary, no
        # delimiter, none of the required columns...): a stray file in the landing zone
        # rather than a broken delivery, which the caller may say how to set aside.
        self.not_an_extract = not_an_extract
        self.line = line
        self.column = column
        self.expected = expected
        self.problem = problem
        self.found = found
        self.offset = offset  # bytes from the start of the file (0-based, BOM included)
        where = file
        if line is not None:
            where += f", line {line}"
        if offset is not None:
            where += f" (byte offset {offset})"
        if column is not None:
            where += f", column '{column}'"
        message = f"{where}: " + (f"{problem}; " if problem else "") + f"expected {expected}"
        if found is not None:
            message += f", found {found}"
        super().__init__(message)


@dataclass(frozen=True)
class ExtractInfo:
    """What was read, for metadata and provenance: names, counts and hashes only."""

    file_name: str
    sha256: str
    size_bytes: int
    rows: int
    header_language: str  # "es" | "en"
    encoding: str  # "utf-8" | "utf-8-sig" | "latin-1"
    delimiter: str
    columns: dict[str, str]  # output column -> polars dtype
    unknown_columns: list[str] = field(default_factory=list)
    placeholder_codes: int = 0
    rows_with_issues: int = 0
    # Values in non-study columns (stay, APR weights, ...) that were unparsable and set null.
    unparsable_values: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict:
        """A JSON-serialisable copy (no patient-level values exist in it)."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_metadata(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExtractInfo:
        return cls(**json.loads(text))


def canonical_schema() -> dict[str, pl.DataType]:
    """The columns every parsed extract has (unknown extra columns come on top)."""
    return {
        RECORD_NUMBER: pl.Int64(),
        **{name: canonical_dtype(name) for name in CANONICAL_COLUMNS},
        DROPPED_CODES: pl.List(pl.String),
        ROW_ISSUES: pl.List(pl.String),
    }


# --------------------------------------------------------------------------- finding


def _name_timestamp(path: Path) -> float | None:
    match = EXTRACT_NAME.match(path.name)
    if not match:
        return None
    try:
        return datetime.strptime(match["stamp"], "%Y%m%d-%H%M%S").timestamp()
    except ValueError:
        return None


def find_extracts(directory: Path) -> list[Path]:
    """Candidate extracts, newest first.

    A registry file name carries the delivery timestamp, which survives copying while
    the modification time does not, so it ranks named files; other files rank by
    modification time on the same clock. Hidden files and unfinished downloads are
    skipped, so a half-copied extract is never picked up.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    candidates = [
        p
        for p in directory.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and p.suffix.lower() in EXTRACT_SUFFIXES
        and not p.name.lower().endswith(PARTIAL_SUFFIXES)
    ]

    def key(path: Path) -> tuple[float, str]:
        stamp = _name_timestamp(path)
        return (stamp if stamp is not None else path.stat().st_mtime, path.name)

    return sorted(candidates, key=key, reverse=True)


def newest_extract(directory: Path) -> Path:
    """The extract to read, or an error that says where to put one."""
    directory = Path(directory)
    hint = (
        f"set MH_EXTRACTS_DIR to the folder holding the registry files, or create a "
        f"synthetic one with `mh-assets synth --patients 5000 --out {directory}` (or run "
        "`mh-assets demo`, which does so when the folder is empty)"
    )
    if not directory.is_dir():
        raise ExtractFormatError(
            str(directory),
            f"a directory holding {EXPECTED_NAMES}; {hint}",
            problem="extract directory does not exist",
        )
    found = find_extracts(directory)
    if not found:
        raise ExtractFormatError(
            str(directory),
            f"a file named {EXPECTED_NAMES}; {hint}",
            problem="no extract found in the directory",
        )
    return found[0]


# --------------------------------------------------------------------------- bytes


def _where(raw: bytes, offset: int) -> dict[str, int]:
    """The 1-based line and 0-based byte offset of ``raw[offset]`` (never its content)."""
    return {"line": raw.count(b"\n", 0, offset) + 1, "offset": offset}


def _first_binary_byte(raw: bytes) -> int | None:
    hits = [raw.find(b"\x00"), raw.find(b"\x1f")]
    control = _BINARY.search(raw[: 1 << 16])
    hits.append(control.start() if control else -1)
    hits = [hit for hit in hits if hit >= 0]
    return min(hits) if hits else None


def _decode(raw: bytes, name: str) -> tuple[bytes, str]:
    """UTF-8 bytes for polars plus the encoding found; Latin-1 is re-encoded.

    UTF-8 is tried first. A file that is not valid UTF-8 is read as Windows-1252 /
    Latin-1 -- unless a byte-order mark or a valid multi-byte UTF-8 character before
    the first bad byte says it is UTF-8, when that byte is a corruption (or a second
    encoding pasted in), and the error names its line and byte offset.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        raise ExtractFormatError(
            name,
            "text in UTF-8 or Latin-1 / Windows-1252 (re-export the file as UTF-8 CSV)",
            problem="unknown encoding (UTF-16, by its byte-order mark)",
            not_an_extract=True,
            **_where(raw, 0),
        )
    binary = _first_binary_byte(raw)
    if binary is not None:
        raise ExtractFormatError(
            name,
            "text in UTF-8 or Latin-1 / Windows-1252",
            problem="unknown encoding (the file looks binary: a control byte)",
            not_an_extract=True,
            **_where(raw, binary),
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        body, encoding, start = raw[3:], "utf-8-sig", 3
    else:
        body, encoding, start = raw, "utf-8", 0
    try:
        body.decode("utf-8")
        return body, encoding
    except UnicodeDecodeError as err:
        bad = start + err.start
    if encoding == "utf-8-sig":  # a BOM promises UTF-8; broken UTF-8 after it is not Latin-1
        raise ExtractFormatError(
            name,
            "valid UTF-8 after the byte-order mark (re-export the file as UTF-8)",
            problem="unknown encoding: a byte that is not UTF-8",
            **_where(raw, bad),
        )
    if not body[: bad - start].isascii():  # valid multi-byte UTF-8 characters before it
        raise ExtractFormatError(
            name,
            "one encoding throughout: UTF-8 (as the lines before it are), or Latin-1 / "
            "Windows-1252",
            problem="unknown encoding: a byte that is not UTF-8 in a UTF-8 file",
            **_where(raw, bad),
        )
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:  # five bytes are undefined in cp1252; Latin-1 maps all
        text = raw.decode("latin-1")
    return text.encode("utf-8"), "latin-1"


def _sniff_delimiter(header: str, name: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", header)
    commas, semicolons = unquoted.count(","), unquoted.count(";")
    if commas == 0 and semicolons == 0:
        raise ExtractFormatError(
            name,
            "',' or ';' between the header names",
            line=1,
            problem="unknown delimiter (the header reads as a single column)",
            not_an_extract=True,
        )
    return "," if commas >= semicolons else ";"


def _map_headers(headers: list[str], name: str) -> tuple[list[str], list[str], str]:
    """Canonical names for the header, the unknown ones, and the header language."""
    names: list[str] = []
    unknown: list[str] = []
    languages = {"es": 0, "en": 0}
    origin: dict[str, str] = {}
    for position, header in enumerate(headers):
        canonical, language = map_header(header)
        if canonical is None:
            canonical = unknown_column_name(header, position)
            unknown.append(canonical)
        else:
            languages[language] += 1
        if canonical in origin:
            raise ExtractFormatError(
                name,
                "each column once",
                line=1,
                column=header.strip(),
                problem=f"duplicated column: '{origin[canonical]}' and '{header.strip()}' "
                f"both map to {canonical}",
            )
        origin[canonical] = header.strip()
        names.append(canonical)
    missing = [c for c in REQUIRED_COLUMNS if c not in origin]
    if missing:
        raise ExtractFormatError(
            name,
            "the required columns "
            + ", ".join(f"{c} ('{SPANISH_HEADERS[c]}')" for c in REQUIRED_COLUMNS),
            line=1,
            column=", ".join(missing),
            problem="missing required column" + ("s" if len(missing) > 1 else ""),
            not_an_extract=True,
        )
    language = "es" if languages["es"] >= languages["en"] and languages["es"] else "en"
    return names, unknown, language


def _line_frame(data: bytes) -> pl.DataFrame:
    """Every physical line as one string (row i = line i + 1); blank lines are null."""
    return pl.read_csv(
        data,
        has_header=False,
        separator=_LINE_SEPARATOR,
        quote_char=None,
        infer_schema=False,
        new_columns=["line"],
        truncate_ragged_lines=True,
    )


def _check_field_counts(
    lines: pl.DataFrame, delimiter: str, expected: int, name: str
) -> pl.Series:
    """Fail on the first ragged row; return the mask of non-blank data lines.

    Polars raises on a row with too many fields (without saying where) and pads a row
    with too few, so the fields are counted per physical line here: delimiters outside
    quoted segments, plus one. A quoted value holding the delimiter (a decimal comma)
    is one field. Like polars, this treats every newline as a row end: registry
    extracts have no multi-line values, and one would surface here as a ragged line.
    """
    counted = lines.select(
        blank=pl.col("line").str.strip_chars().fill_null("") == "",
        fields=pl.col("line").str.replace_all(r'"[^"]*"', "").str.count_matches(
            delimiter, literal=True
        )
        + 1,
    ).with_row_index("index", offset=1)
    bad = counted.slice(1).filter(~pl.col("blank") & (pl.col("fields") != expected)).head(1)
    if bad.height:
        raise ExtractFormatError(
            name,
            f"{expected} fields",
            line=int(bad["index"][0]),
            problem="wrong number of fields",
            found=str(int(bad["fields"][0])),
        )
    return ~counted["blank"].slice(1)


def _read_strings(data: bytes, delimiter: str, names: list[str], name: str) -> pl.DataFrame:
    try:
        return pl.read_csv(
            data,
            separator=delimiter,
            has_header=True,
            new_columns=names,
            infer_schema=False,
            quote_char='"',
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        # Polars' message may quote cell contents: keep only its type.
        raise ExtractFormatError(
            name,
            f"delimited text with {len(names)} fields per row",
            problem=f"the rows could not be parsed ({type(exc).__name__})",
        ) from None


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, or an error that names the path and what to do."""
    hint = "the path of an extract file (or no path, for the newest in the landing zone)"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        problem, expected = "no such file", hint
    except IsADirectoryError:
        problem, expected = "this is a folder, not a file", hint
    except PermissionError:
        problem, expected = "the file cannot be read (permission denied)", (
            "a file this user may read (check its permissions)")
    except OSError as err:
        problem, expected = f"the file cannot be read ({err.strerror or type(err).__name__})", (
            "a readable extract file")
    raise ExtractFormatError(str(path), expected, problem=problem)


def read_extract(path: Path) -> tuple[pl.DataFrame, ExtractInfo]:
    """Read one extract into the canonical schema (see module docstring).

    The frame has ``record_number`` (1-based data row), every canonical column with
    its parsed dtype (absent optional columns as nulls), unknown columns as strings,
    and ``row_issues`` (list of value-free reasons; empty when the row is clean).
    """
    path = Path(path)
    name = path.name
    raw_bytes = _read_bytes(path)
    data, encoding = _decode(raw_bytes, name)
    if not data or data.isspace():
        raise ExtractFormatError(
            name, "a header line followed by data rows", line=1, problem="file is empty",
            not_an_extract=True,
        )
    header_end = data.find(b"\n")
    header_line = data[: header_end if header_end >= 0 else None].decode("utf-8").rstrip("\r")
    if not header_line.strip():
        raise ExtractFormatError(
            name, "the column names on the first line", line=1, problem="header line is blank"
        )
    delimiter = _sniff_delimiter(header_line, name)
    headers = next(csv.reader([header_line], delimiter=delimiter, quotechar='"'))
    names, unknown, language = _map_headers(headers, name)

    lines = _line_frame(data)
    keep = _check_field_counts(lines, delimiter, len(names), name)
    if not keep.any():
        raise ExtractFormatError(
            name, "at least one data row after the header", line=2, problem="no data rows"
        )
    strings = _read_strings(data, delimiter, names, name)
    if strings.height == keep.len():
        strings = strings.filter(keep)
    else:  # cannot align lines with rows: drop only the rows that are entirely empty
        strings = strings.filter(~pl.all_horizontal(pl.all().is_null()))

    frame, placeholders, unparsable = parse_columns(
        strings, unknown, odd_whitespace=b"\t" in data or b"\xa0" in data
    )
    info = ExtractInfo(
        file_name=name,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),  # the bytes read, not a second read
        size_bytes=len(raw_bytes),
        rows=frame.height,
        header_language=language,
        encoding=encoding,
        delimiter=delimiter,
        columns={c: str(t) for c, t in frame.schema.items()},
        unknown_columns=unknown,
        placeholder_codes=placeholders,
        rows_with_issues=int(frame.select(pl.col(ROW_ISSUES).list.len().gt(0).sum()).item()),
        unparsable_values=unparsable,
    )
    return frame, info

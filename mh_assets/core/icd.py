"""ICD-10 descriptors: code normalisation, descriptor tables and code resolution.

The study replaced every diagnosis code by its descriptor. Registry codes carry a dot
after the third character (``F12.10``) while descriptor files list codes without one
(``F1210``); the published pipeline looked codes up as written, so almost every code
became "NOCODE". Here every code is normalised once (no dots, no whitespace,
upper-case), and a code missing from the descriptor edition -- typically one retired
between editions, such as the cannabis poisoning codes ``T40.7X..`` split in 2023 --
falls back to its nearest valid ancestor, with the substitution recorded so coverage
can be measured and reported instead of silently lost.

Descriptor sources:

* ``"simple-icd-10-cm"`` (default): the ICD-10-CM tables shipped inside the
  ``simple_icd_10_cm`` package, so the platform works offline;
* a path to a CMS ``icd10cm-codes-YYYY.txt`` file (code, spaces, description);
* a path to a Spanish CIE-10-ES file (``code;description`` or ``code<TAB>description``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl

PACKAGED_SOURCE = "simple-icd-10-cm"
RESOLUTIONS = ("exact", "ancestor", "unresolved")
# The ancestor search stops at the 3-character category: shorter prefixes are blocks
# or chapters, too coarse to stand in for a diagnosis.
MIN_CODE_LENGTH = 3

_CODE_PATTERN = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")
_CMS_LINE = r"^\s*(?P<code>\S+)\s+(?P<descriptor>\S.*?)\s*$"
_CMS_NAME = re.compile(r"icd10cm.*?((?:19|20)\d{2})", re.IGNORECASE)
_FORMATS = (
    f"expected {PACKAGED_SOURCE!r}, a CMS icd10cm-codes-YYYY.txt file "
    "(code, spaces, description on each line) or a CIE-10-ES file "
    "(code;description or code<TAB>description per line, optional header)"
)


def normalise_code(code: str | None) -> str | None:
    """One canonical key per code: no dots, no whitespace, upper-case; blank -> None."""
    if code is None:
        return None
    key = re.sub(r"[.\s]", "", code).upper()
    return key or None


def normalise_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised :func:`normalise_code` for a string column."""
    key = expr.cast(pl.Utf8).str.replace_all(r"[.\s]", "").str.to_uppercase()
    return pl.when(key.str.len_bytes() > 0).then(key).otherwise(None)


def display_code(code: str) -> str:
    """The registry's dotted form of a normalised code (``F1210`` -> ``F12.10``)."""
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


def display_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised :func:`display_code`."""
    return (
        pl.when(expr.str.len_chars() > 3)
        .then(pl.concat_str([expr.str.slice(0, 3), pl.lit("."), expr.str.slice(3)]))
        .otherwise(expr)
    )


@dataclass(frozen=True)
class DescriptorTable:
    """Normalised code -> descriptor, with where it came from.

    ``frame`` has columns ``code`` (normalised, unique) and ``descriptor``. The table is
    public reference data, so its content hash may appear in metadata.
    """

    frame: pl.DataFrame
    source: str
    edition: str
    n_codes: int

    @functools.cached_property
    def sha256(self) -> str:
        """Content hash, so lineage can tell two editions (or two files) apart."""
        digest = hashlib.sha256()
        for code, descriptor in self.frame.iter_rows():
            digest.update(f"{code}\t{descriptor}\n".encode())
        return digest.hexdigest()

    def as_metadata(self) -> dict[str, str | int]:
        return {
            "descriptor_source": self.source,
            "descriptor_edition": self.edition,
            "descriptor_codes": self.n_codes,
            "descriptor_sha256": self.sha256,
        }


def _table(codes: pl.Series, descriptors: pl.Series, source: str, edition: str) -> DescriptorTable:
    """Normalise codes, keep the first descriptor of a repeated code."""
    frame = (
        pl.DataFrame({"code": codes.cast(pl.Utf8), "descriptor": descriptors.cast(pl.Utf8)})
        .with_columns(
            normalise_expr(pl.col("code")).alias("code"),
            pl.col("descriptor").str.strip_chars(),
        )
        .filter(pl.col("code").is_not_null())
        .unique("code", keep="first", maintain_order=True)
    )
    return DescriptorTable(frame=frame, source=source, edition=edition, n_codes=frame.height)


def load_descriptors(source: str = PACKAGED_SOURCE) -> DescriptorTable:
    """Load a descriptor table, once per process and file version.

    The packaged table takes about 2 s to build (the package parses its XML on
    import), so it is cached; a file is cached by its absolute path, size and
    modification time, so an edited file is read again.
    """
    if source == PACKAGED_SOURCE:
        return _load_packaged()
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"descriptor source {source!r} is not a readable file: {_FORMATS}"
        )
    stat = path.stat()
    return _load_file(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_file(path: Path, size: int, mtime_ns: int) -> DescriptorTable:
    lines = _read_lines(path)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise ValueError(f"{path}: the file is empty; {_FORMATS}")
    if _CMS_NAME.search(path.name) or ("\t" not in first and ";" not in first):
        return _load_cms(path, lines)
    return _load_cie(path, lines)


@functools.lru_cache(maxsize=1)
def _load_packaged() -> DescriptorTable:
    """Every category and subcategory of the ICD-10-CM edition shipped in the package.

    Importing ``simple_icd_10_cm`` parses its XML (~2 s); the loop over its ~98k codes
    afterwards takes ~0.3 s.
    """
    from importlib import resources
    from importlib.metadata import version

    with warnings.catch_warnings():  # the package reads its data with deprecated APIs
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm
        from simple_icd_10_cm import data

    codes = [c for c in cm.get_all_codes(with_dots=False) if cm.is_category_or_subcategory(c)]
    descriptors = [cm.get_description(c) for c in codes]
    names = sorted(p.name for p in resources.files(data).iterdir() if p.name.endswith(".xml"))
    # The tabular file is named for its release, e.g. icd10c-tabular-April-1-2026.xml.
    release = re.search(r"([A-Za-z]+)-(\d{1,2})-(\d{4})", names[0]) if names else None
    edition = "ICD-10-CM"
    if release:
        month, day, year = release.groups()
        edition = f"ICD-10-CM {year} ({month} {day}, {year} release)"
    source = f"{PACKAGED_SOURCE} {version('simple_icd_10_cm')}"
    return _table(
        pl.Series(codes, dtype=pl.Utf8), pl.Series(descriptors, dtype=pl.Utf8), source, edition
    )


def _read_lines(path: Path) -> list[str]:
    """Text lines; CIE-10-ES files from Spanish tooling are often Windows-1252."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return text.splitlines()


def _line_numbers(mask: pl.Series, limit: int = 5) -> str:
    rows = (mask.arg_true() + 1).to_list()
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(map(str, rows[:limit])) + more


def _load_cms(path: Path, lines: list[str]) -> DescriptorTable:
    """CMS fixed layout: the code, one or more spaces, the description."""
    raw = pl.Series("line", lines, dtype=pl.Utf8)
    parts = raw.str.extract_groups(_CMS_LINE).struct.unnest()
    blank = raw.str.strip_chars().str.len_chars() == 0
    valid_code = parts.select(normalise_expr(pl.col("code")).str.contains(_CODE_PATTERN.pattern))
    bad = ~valid_code.to_series().fill_null(False) & ~blank
    if bad.any():
        raise ValueError(
            f"{path}: line(s) {_line_numbers(bad)} do not have the CMS layout "
            "'ICD-10 code, spaces, description'; " + _FORMATS
        )
    year = _CMS_NAME.search(path.name)
    edition = f"ICD-10-CM {year[1]}" if year else "ICD-10-CM"
    keep = ~blank
    return _table(parts["code"].filter(keep), parts["descriptor"].filter(keep), str(path), edition)


def _load_cie(path: Path, lines: list[str]) -> DescriptorTable:
    """CIE-10-ES: ``code;description`` or ``code<TAB>description``, header optional."""
    separator = "\t" if "\t" in next(line for line in lines if line.strip()) else ";"
    raw = pl.Series("line", lines, dtype=pl.Utf8)
    blank = raw.str.strip_chars().str.len_chars() == 0
    parts = raw.str.splitn(separator, 2).struct.rename_fields(["code", "descriptor"])
    parts = parts.struct.unnest()
    parts = parts.with_columns(
        normalise_expr(pl.col("code").str.strip_chars('"')).alias("key"),
        pl.col("descriptor").str.strip_chars().str.strip_chars('"'),
    )
    valid_code = parts["key"].str.contains(_CODE_PATTERN.pattern).fill_null(False)
    # Only the first non-blank line may be a header (one whose first column is no code).
    first = (~blank).arg_true()[0]
    header = (pl.int_range(len(lines), eager=True) == first) & ~valid_code
    no_descriptor = (parts["descriptor"].str.len_chars() == 0).fill_null(True)
    bad = ~blank & ~header & (~valid_code | no_descriptor)
    if bad.any():
        raise ValueError(
            f"{path}: line(s) {_line_numbers(bad)} are not "
            f"'code{'<TAB>' if separator == chr(9) else separator}description' "
            "with an ICD-10 code in the first column; " + _FORMATS
        )
    keep = ~blank & ~header
    codes, descriptors = parts["key"].filter(keep), parts["descriptor"].filter(keep)
    return _table(codes, descriptors, str(path), "CIE-10-ES")


def resolve_codes(codes: pl.Series, table: DescriptorTable) -> pl.DataFrame:
    """Map each distinct code to the descriptor used for it.

    Returns one row per distinct normalised code, sorted by code, with columns
    ``code``, ``resolved_code``, ``descriptor`` and ``resolution``: ``exact`` (the code
    is in the table), ``ancestor`` (its longest prefix of at least 3 characters that is
    in the table stands in: ``T407X5A`` -> ``T407``) or ``unresolved`` (no such prefix;
    ``resolved_code`` and ``descriptor`` are null).
    """
    unique = (
        pl.DataFrame({"code": codes.cast(pl.Utf8)})
        .select(normalise_expr(pl.col("code")).alias("code"))
        .drop_nulls()
        .unique()
        .sort("code")
    )
    matches = (
        # Every prefix from the whole code down to the category, longest first.
        unique.with_columns(
            pl.int_ranges(pl.col("code").str.len_chars(), MIN_CODE_LENGTH - 1, -1, dtype=pl.Int32)
            .alias("length")
        )
        .explode("length")
        .drop_nulls("length")
        .with_columns(pl.col("code").str.slice(0, pl.col("length")).alias("resolved_code"))
        .join(table.frame.rename({"code": "resolved_code"}), on="resolved_code", how="inner")
        .sort(["code", "length"], descending=[False, True])
        .unique("code", keep="first", maintain_order=True)
        .drop("length")
    )
    return (
        unique.join(matches, on="code", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("resolved_code").is_null())
            .then(pl.lit("unresolved"))
            .when(pl.col("resolved_code") == pl.col("code"))
            .then(pl.lit("exact"))
            .otherwise(pl.lit("ancestor"))
            .alias("resolution")
        )
        .select("code", "resolved_code", "descriptor", "resolution")
    )

"""Reading RAE-CMBD extracts into one schema.

    path = newest_extract(settings.extracts_dir)     # or find_extracts(...) for all
    frame, info = read_extract(path)                 # ExtractFormatError names file/line/column
    frame, combined = combine_extracts(find_extracts(settings.extracts_dir))  # extracts add up

:mod:`.columns` is the one table of the registry's columns (Spanish header, English
name, dtype) -- the parser, the synthetic generator and the schema check all read
it; :mod:`.values` parses their values over whole columns; :mod:`.reader` decodes,
sniffs and splits the file; :mod:`.combine` stacks several extracts (years that add
up) into one frame, dropping episodes an earlier file already holds.
"""

from mh_assets.core.registry.columns import CANONICAL_COLUMNS, REQUIRED_COLUMNS, SPANISH_HEADERS
from mh_assets.core.registry.combine import (
    EXTRACT_FILE,
    CombinedInfo,
    ExtractFile,
    combine_extracts,
    combined_digest,
    combined_label,
)
from mh_assets.core.registry.reader import (
    EXPECTED_NAMES,
    ExtractFormatError,
    ExtractInfo,
    canonical_schema,
    find_extracts,
    newest_extract,
    read_extract,
)

__all__ = [
    "CANONICAL_COLUMNS", "EXPECTED_NAMES", "EXTRACT_FILE", "REQUIRED_COLUMNS",
    "SPANISH_HEADERS", "CombinedInfo", "ExtractFile", "ExtractFormatError", "ExtractInfo",
    "canonical_schema", "combine_extracts", "combined_digest", "combined_label",
    "find_extracts", "newest_extract", "read_extract",
]

"""Synthetic RAE-CMBD extracts with a planted answer.

Real extracts are restricted, so tests and the demo run on files written here.
They follow the registry's raw layout (every column, Spanish or English headers,
dotted ICD-10 codes, ``ddmmyyyy HHMM`` dates, quoted decimal commas) and, with
``quirks=True``, the mess real deliveries carry: birth dates that lost their
leading zero, rows the cohort selection must exclude, implausible dates and
ages, retired codes and placeholders. That lets the parser and cohort stages be
tested on what they will actually meet.

Each row's codes come from one of a few comorbidity subtypes per sex
(``codes.SUBTYPES``) shaped on the published cohort's aggregate
profile. The subtype is written to a separate ground-truth file, never the
extract, so clustering can be scored against it without leaking it into the
pipeline.

``SyntheticSpec.scenario`` picks what is planted (``codes.SCENARIOS``):
``"subtypes"`` (the default, byte-identical to earlier versions), ``"confounded"``
(the same subtypes, but a latent complexity independent of them drives the
number of codes and the outcomes) or ``"null"`` (no subtypes; codes co-occur
only through how many each row has). The truth file says which, and carries
each row's complexity where there is one, so a pipeline can be shown to fail
on the last two in the ways it should.

Everything is vectorised numpy/polars (loops run over subtypes and code slots
only) and seeded: the same spec gives byte-identical files. The work is split:
:mod:`.codes` (planted subtypes, code tables), :mod:`.draws` (each
row's sex, subtype and codes), :mod:`.fields` (layout, planted problems,
the other columns); this module ties them together and writes the files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from mh_assets.core.environment import PROJECT_ROOT
from mh_assets.core.synthetic import codes as sc
from mh_assets.core.synthetic.draws import SEX_ORDER, DrawnCodes, draw_codes
from mh_assets.core.synthetic.fields import (
    ENGLISH_HEADERS,
    EXCLUSIONS,
    FLAGS,
    REGISTRY_COLUMNS,
    SPANISH_HEADERS,
    plant_problems,
    registry_frame,
)

__all__ = [
    "ENGLISH_HEADERS",
    "REGISTRY_COLUMNS",
    "SCENARIOS",
    "SPANISH_HEADERS",
    "SyntheticResult",
    "SyntheticSpec",
    "default_profile",
    "extract_name",
    "truth_path_for",
    "write_synthetic_extract",
]
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1")
SCENARIOS = sc.SCENARIOS


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. ``quirks=False`` writes a clean file in the same format.

    ``scenario`` is one of ``SCENARIOS`` (see the module docstring).
    """

    patients: int
    seed: int
    encoding: str = "utf-8"
    delimiter: str = ","
    header_language: str = "es"
    quirks: bool = True
    request: int = 454
    timestamp: datetime = datetime(2024, 12, 26, 16, 30, 36)
    scenario: str = "subtypes"

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise ValueError(f"patients must be >= 1, got {self.patients}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding {self.encoding!r} is not one of {', '.join(ENCODINGS)}")
        if self.header_language not in ("es", "en"):
            raise ValueError(f"header_language {self.header_language!r} must be 'es' or 'en'")
        if len(self.delimiter) != 1 or self.delimiter in '"\n\r ':
            raise ValueError(f"delimiter {self.delimiter!r} must be one character, not a quote")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario {self.scenario!r} is not one of {', '.join(SCENARIOS)}")


@dataclass(frozen=True)
class SyntheticResult:
    """Where the files went and aggregate counts (no row-level values)."""

    extract_path: Path
    truth_path: Path
    rows: int
    excluded_rows: int
    flagged_rows: int
    code_occurrences: int
    retired_code_occurrences: int
    placeholder_occurrences: int
    subtype_rows: dict[str, int] = field(default_factory=dict)


def default_profile() -> dict:
    """The published cohort's aggregate profile that shapes the synthetic codes."""
    path = PROJECT_ROOT / "data" / "reference" / "cohort_profile.json"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def extract_name(request: int, timestamp: datetime) -> str:
    """The registry's delivery name, ``RAECMBD_<request>_<yyyymmdd>-<hhmmss>.csv``."""
    return f"RAECMBD_{request}_{timestamp:%Y%m%d-%H%M%S}.csv"


def truth_path_for(extract_path: Path) -> Path:
    """The ground-truth file that sits next to an extract.

    Parquet rather than CSV so that a landing-zone scan for ``.csv`` / ``.txt``
    extracts can never mistake the answer key for a delivery.
    """
    return extract_path.with_name(f"{extract_path.stem}.truth.parquet")


def write_synthetic_extract(
    spec: SyntheticSpec, out: Path, profile: dict | None = None
) -> SyntheticResult:
    """Write an extract and its ground truth; ``out`` is a directory or a file path.

    A directory receives the registry's delivery name, so the landing-zone
    sensor sees exactly what a real delivery would look like.
    """
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        extract_path = out / extract_name(spec.request, spec.timestamp)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        extract_path = out
    profile = default_profile() if profile is None else profile
    # The fourth stream (latent complexity) leaves the first three as they always were.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(4)]

    drawn = draw_codes(
        streams[0], profile, spec.patients, quirks=spec.quirks, scenario=spec.scenario,
        latent=streams[3],
    )
    exclusion, flag = plant_problems(streams[1], drawn, spec.quirks)
    frame = registry_frame(streams[2], profile, drawn, exclusion, flag)
    headers = SPANISH_HEADERS if spec.header_language == "es" else ENGLISH_HEADERS
    _write_csv(frame, headers, spec, extract_path)

    truth = _truth_frame(drawn, exclusion, flag)
    truth_path = truth_path_for(extract_path)
    tmp = truth_path.with_name(f".{truth_path.name}.tmp")
    truth.write_parquet(tmp)
    os.replace(tmp, truth_path)

    subtype_rows = truth["subtype"].drop_nulls().value_counts().sort("subtype")
    return SyntheticResult(
        extract_path=extract_path,
        truth_path=truth_path,
        rows=spec.patients,
        excluded_rows=int((exclusion >= 0).sum()),
        flagged_rows=int((flag >= 0).sum()),
        code_occurrences=int((drawn.codes >= 0).sum()),
        retired_code_occurrences=drawn.retired_occurrences,
        placeholder_occurrences=drawn.placeholder_occurrences,
        subtype_rows=dict(subtype_rows.iter_rows()),
    )


def _write_csv(
    frame: pl.DataFrame, headers: tuple[str, ...], spec: SyntheticSpec, path: Path
) -> None:
    """Header in the requested encoding, then the (ASCII) rows, written atomically.

    Only the header carries non-ASCII characters, so encoding it alone is the
    whole re-encoding; the decimal fields already carry their quotes, so no
    other field is ever quoted -- exactly the registry's output.
    """
    header = spec.delimiter.join(headers) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(header.encode(spec.encoding))
        frame.write_csv(
            handle,
            include_header=False,
            separator=spec.delimiter,
            quote_style="never",
            null_value="",
        )
    os.replace(tmp, path)


def _truth_frame(drawn: DrawnCodes, exclusion: np.ndarray, flag: np.ndarray) -> pl.DataFrame:
    """record_number (1-based data row), planted sex and subtype, and planted problems.

    Then ``scenario`` (the same on every row) and ``complexity`` (null in
    ``"subtypes"``); ``subtype`` and ``subtype_name`` are null in ``"null"``.
    """
    n = drawn.codes.shape[0]
    sexes = pl.Series(list(SEX_ORDER), dtype=pl.String)
    sex = sexes.gather(drawn.sex)
    none = pl.Series([None], dtype=pl.String)
    labels = pl.Series(
        [f"{s}:{k}" for s in SEX_ORDER for k in range(len(sc.SUBTYPES[s]))], dtype=pl.String
    ).extend(none)
    names = pl.Series([t.name for s in SEX_ORDER for t in sc.SUBTYPES[s]], dtype=pl.String)
    names = names.extend(none)
    offset = np.cumsum([0, *(len(sc.SUBTYPES[s]) for s in SEX_ORDER)])[drawn.sex]
    index = np.where(drawn.subtype < 0, len(labels) - 1, offset + drawn.subtype)
    complexity = (
        pl.repeat(None, n, dtype=pl.Float64, eager=True)
        if drawn.complexity is None
        else pl.Series(drawn.complexity, dtype=pl.Float64)
    )
    return pl.DataFrame(
        {
            "record_number": np.arange(1, n + 1, dtype=np.int64),
            "sex": sex,
            "subtype": labels.gather(index),
            "subtype_name": names.gather(index),
            "n_codes": (drawn.codes >= 0).sum(axis=1).astype(np.int64),
            "planted_exclusion": pl.Series(EXCLUSIONS, dtype=pl.String)
            .extend(none)
            .gather(np.where(exclusion < 0, len(EXCLUSIONS), exclusion)),
            "planted_flag": pl.Series(FLAGS, dtype=pl.String)
            .extend(none)
            .gather(np.where(flag < 0, len(FLAGS), flag)),
            "scenario": pl.repeat(drawn.scenario, n, dtype=pl.String, eager=True),
            "complexity": complexity,
        }
    )

"""A synthetic cohort frame with planted patient-level values, and a probe that finds them.

The published tables, figures and report are checked for leaks by planting
values no aggregate could contain (an id, a birth date, a stay, a cost) and
searching every output for them.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from mh_assets.core.schema import DIAGNOSIS_COLUMNS

PLANTED_ID = "PLANTED-ZX81-PATIENT"
PLANTED_BIRTH = "13071987"
PLANTED_STAY = 7777
PLANTED_COST = 987654.321
# As whole numeric tokens, so "0.7777777" in a colour scale is not a false alarm.
PLANTED_PATTERNS = (
    re.escape(PLANTED_ID), PLANTED_BIRTH, r"(?<![\d.])7777(?![\d])",
    r"(?<![\d.])987654(?![\d])", r"(?<![\d.])9\.8765\d*[eE]\+?0*5(?![\d])",
)


def planted_values_in(text: str | bytes) -> list[str]:
    """The planted patient-level values that occur in ``text`` (empty when none)."""
    if isinstance(text, bytes):
        return [p for p in PLANTED_PATTERNS if re.search(p.encode(), text)]
    return [p for p in PLANTED_PATTERNS if re.search(p, text)]


CODE_POOL = [
    "F12.10", "F12.259", "F11.20", "F13.10", "F14.10", "F15.10", "F16.10", "F18.10",
    "F19.10", "F10.10", "F17.210", "F29", "F32.9", "F91.9", "F43.25", "Z72.0",
    " f12.1 ",  # trimmed and upper-cased before the block is read
    "F1",  # too short to belong to a block
    "XF12",  # F12 not in the first three characters
]
CODE_WEIGHTS = [8, 5, 1, 1, 2, 1, 0.3, 0.2, 3, 4, 6, 5, 5, 4, 3, 2, 0.5, 0.3, 0.3]


def synthetic_cohort(n: int = 600, seed: int = 0, plant: bool = True) -> pl.DataFrame:
    """A cohort in the canonical schema; some patients have two admissions."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:05d}" for i in range(n)]
    ids[1::17] = ids[0::17][: len(ids[1::17])]  # repeat patients: a second admission
    sex_of = {pid: s for pid, s in zip(ids, rng.choice(["female", "male"], n, p=[0.45, 0.55]),
                                       strict=True)}
    p = np.array(CODE_WEIGHTS) / sum(CODE_WEIGHTS)
    n_codes = rng.integers(1, 8, n)
    data: dict[str, object] = {"patient_id": ids, "sex": [sex_of[i] for i in ids]}
    for j, col in enumerate(DIAGNOSIS_COLUMNS):
        codes = rng.choice(CODE_POOL, n, p=p).tolist()
        data[col] = pl.Series(col, [c if j < k else None for c, k in zip(codes, n_codes,
                                                                          strict=True)],
                              dtype=pl.String)
    frame = pl.DataFrame(data).with_columns(
        Year=pl.Series(rng.integers(2016, 2021, n)).cast(pl.Int16),
        DaysOfStay=pl.Series(rng.geometric(0.08, n)).cast(pl.Int32),
        APRSeverityLevel=pl.Series(rng.integers(1, 5, n)).cast(pl.Int8),
        APRCost=pl.Series(np.round(rng.gamma(2.0, 2500.0, n), 2)),
        age_at_admission=pl.Series(rng.integers(11, 19, n)).cast(pl.Int16),
        DateOfBirth=pl.lit("01012003"),
    )
    if plant:
        frame = frame.with_columns(
            patient_id=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit(PLANTED_ID))
            .otherwise(pl.col("patient_id")),
            DateOfBirth=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit(PLANTED_BIRTH))
            .otherwise(pl.col("DateOfBirth")),
            DaysOfStay=pl.when(pl.int_range(pl.len()) == 3).then(PLANTED_STAY)
            .otherwise(pl.col("DaysOfStay")).cast(pl.Int32),
            APRCost=pl.when(pl.int_range(pl.len()) == 3).then(PLANTED_COST)
            .otherwise(pl.col("APRCost")),
        )
    return frame

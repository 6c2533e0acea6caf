"""Finding patient-level values in what a run leaves in the Dagster instance.

Used by the tests that prove restricted data never reaches logs or metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import polars as pl

_ISO_DATE = re.compile(r"\b(19|20)\d{2}-\d{2}-\d{2}\b")
_ICD = re.compile(r"\b[A-TV-Z]\d{2}\.?[0-9A-Z]{0,4}\b")


def event_log_text(instance: dg.DagsterInstance) -> str:
    """Every event of every run (logs, metadata, check results) as one string."""
    chunks = []
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            chunks.append(record.user_message or "")
            if record.dagster_event is not None:
                chunks.append(repr(record.dagster_event.event_specific_data))
    return "\n".join(chunks)


def without_plotly_library(text: str) -> str:
    """The text with the inlined plotly.js bundle removed: the library's own source
    holds example dates (calendar epochs) that are nobody's birth date."""
    from plotly.offline import get_plotlyjs

    return text.replace(get_plotlyjs(), "")


def patient_values(artifacts: Path) -> dict[str, set[str]]:
    """Values that identify one patient: ids, birth dates (as written and ISO)."""
    cohort = pl.read_parquet(artifacts / "restricted" / "cohort.parquet")
    births = cohort.get_column("DateOfBirth").drop_nulls()
    return {
        "patient_id": set(cohort.get_column("patient_id").to_list()),
        "birth_date_iso": {d.isoformat() for d in births.to_list()},
        "birth_date_raw": {d.strftime("%d%m%Y") for d in births.to_list()},
    }


def leaks(text: str, values: dict[str, set[str]]) -> dict[str, list[str]]:
    """Which patient-level values occur in ``text`` (empty when none)."""
    found: dict[str, list[str]] = {}
    tokens = set(re.findall(r"[0-9A-Za-z\-]+", text))
    for kind, candidates in values.items():
        hits = sorted(candidates & tokens)
        if hits:
            found[kind] = hits[:5]
    code_near_date = r"[A-TV-Z]\d{2}\.?[0-9A-Z]{0,4}.{0,40}?(19|20)\d{2}-\d{2}-\d{2}"
    near = [m.group(0) for m in re.finditer(code_near_date, text)]
    if near:
        found["code_next_to_date"] = near[:5]
    return found

"""benchmarks/ingest.py end to end on a small extract: both ways, every figure reported.

No timing is asserted. What is checked: the study's loop and the two ``dagster asset
materialize`` invocations ran, each run's event log was read back step by step, and the
ingest run executed its steps in the CLI's own process (no step worker was started:
the executor's choice for ingest, cohort and corpus assets).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_ingest_benchmark_reports_both_ways_and_runs_ingest_in_one_process(tmp_path):
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "ingest.py"), "--patients", "300",
         "--keep", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    study = figures["study"]
    assert study["patients"] > 0 and study["wall"] > 0
    assert {"read_csv", "corpus loop male", "corpus loop female"} <= set(study["timings"])
    first, second = figures["platform"]
    assert (first["partition"], second["partition"]) == ("female", "male")
    assert {"icd_descriptors", "registry_extract", "cohort_selection",
            "descriptor_corpus"} <= set(first["steps"])
    assert set(second["steps"]) == {"descriptor_corpus"}
    for item in (first, second):
        assert item["wall"] > 0 and item["run"] > 0
        assert all(step["worker_start"] == 0.0 for step in item["steps"].values()), item
    assert figures["ratio"] == study["wall"] / figures["platform_wall"]
    assert "study / platform" in run.stdout

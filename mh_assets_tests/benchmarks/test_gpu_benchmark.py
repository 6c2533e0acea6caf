"""benchmarks/gpu.sh end to end on a CPU: the GPU path with the tiny ``demo`` backbone.

No timing is asserted (the benchmarks are not tests); what is checked is that the
figures the GPU run will report are all there: every stage, both ways, both sexes, a
positive throughput and wall time, the platform/study ratio, and peak GPU memory
recorded as null where no CUDA GPU is visible (CUDA is hidden from the run here, so
the check is the same on a machine with a GPU).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GPU_SH = REPO / "benchmarks" / "gpu.sh"
SEXES = ("female", "male")
STAGES = ("mlm", "contrastive", "embedding")
PATIENTS = 12


def _gpu_sh(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "MH_GPU_BENCH_PYTHON": sys.executable}
    env.pop("MH_GPU_BENCH_BACKBONE", None)
    return subprocess.run(
        ["bash", str(GPU_SH), *args], env=env, capture_output=True, text=True, timeout=120
    )


def check_report(report: dict) -> None:
    """The figures of a CPU run of the GPU benchmark, complete and consistent."""
    assert report["cuda_available"] is False and report["gpu"] is None
    assert report["bf16"] is False
    assert report["backbone"] == "demo" and report["torch"]
    assert set(report["corpora"]) == set(SEXES)
    for sex, result in report["corpora"].items():
        assert result["patients"] == PATIENTS, sex
        assert set(result["stages"]) == set(STAGES), sex
        for stage, figures in result["stages"].items():
            assert set(figures) == {"study", "platform", "ratio"}, (sex, stage)
            for way in ("study", "platform"):
                row = figures[way]
                assert row["tokens_per_s"] > 0, (sex, stage, way)
                assert row["wall_s"] > 0, (sex, stage, way)
                assert row["peak_gpu_mib"] is None, (sex, stage, way)  # no GPU: null
            ratio = figures["ratio"]
            assert ratio["tokens_per_s"] > 0, (sex, stage)
            assert ratio["tokens_per_s"] == pytest.approx(
                figures["platform"]["tokens_per_s"] / figures["study"]["tokens_per_s"], rel=0.05
            )
            assert ratio["wall_s"] > 0 and ratio["peak_gpu_mib"] is None, (sex, stage)
        embedding = result["stages"]["embedding"]
        assert embedding["study"]["patients_per_s"] > 0
        assert embedding["ratio"]["patients_per_s"] > 0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("gpu-bench") / "figures.json"
    run = _gpu_sh("--smoke", "--patients", str(PATIENTS), "--warmup", "0", "--json", str(out))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run, json.loads(out.read_text(encoding="utf-8"))


def test_cpu_smoke_run_reports_every_figure(smoke):
    run, report = smoke
    check_report(report)
    assert "NO CUDA GPU VISIBLE" in run.stdout
    assert "peak GPU MiB" in run.stdout and "ratio" in run.stdout


def test_the_check_fails_on_an_incomplete_report(smoke):
    _run, report = smoke
    broken = [copy.deepcopy(report) for _ in range(3)]
    del broken[0]["corpora"]["male"]
    del broken[1]["corpora"]["female"]["stages"]["contrastive"]["ratio"]
    broken[2]["corpora"]["male"]["stages"]["mlm"]["platform"]["peak_gpu_mib"] = 512.0
    for report in broken:
        with pytest.raises((AssertionError, KeyError)):
            check_report(report)


def test_paper_arch_is_refused_without_a_gpu():
    run = _gpu_sh("--reuse-venv", "--backbone", "paper-arch")
    assert run.returncode == 2
    assert "NO CUDA GPU VISIBLE" in run.stdout and "--smoke" in run.stderr

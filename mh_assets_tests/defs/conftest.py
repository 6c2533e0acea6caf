"""Fixtures for wiring tests: a synthetic landing zone, artifacts root and instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract


@dataclass
class Platform:
    extracts: Path
    artifacts: Path
    home: Path
    extract: Path
    truth: Path


def make_platform(root: Path, patients: int, seed: int) -> Platform:
    extracts, artifacts, home, truth_dir = (root / n for n in ("extracts", "artifacts", "home",
                                                              "truth"))
    for directory in (extracts, artifacts, home, truth_dir):
        directory.mkdir(parents=True, exist_ok=True)
    result = write_synthetic_extract(SyntheticSpec(patients=patients, seed=seed), extracts)
    truth = truth_dir / result.truth_path.name
    result.truth_path.rename(truth)  # the landing zone holds extracts only
    return Platform(extracts, artifacts, home, result.extract_path, truth)


def use_platform(monkeypatch: pytest.MonkeyPatch, platform: Platform) -> None:
    monkeypatch.setenv("MH_EXTRACTS_DIR", str(platform.extracts))
    monkeypatch.setenv("MH_ARTIFACTS_DIR", str(platform.artifacts))
    monkeypatch.setenv("DAGSTER_HOME", str(platform.home))
    monkeypatch.setenv("MH_PRESET", "demo")


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """A fresh landing zone with a 600-row synthetic extract, env pointing at it."""
    made = make_platform(tmp_path, patients=600, seed=11)
    use_platform(monkeypatch, made)
    return made


@pytest.fixture
def instance(platform: Platform):
    with dg.instance_for_test(temp_dir=str(platform.home)) as inst:
        yield inst

"""A synthetic platform for wiring tests: landing zone, artifacts root, instance, definitions.

Tests point the environment at a fresh platform (:func:`use_platform`) and build the
code location's definitions from it (:func:`load_defs`), exactly as ``dagster dev``
does when it loads ``mh_assets.definitions.defs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from mh_assets.core.synthetic import SyntheticSpec, write_synthetic_extract
from mh_assets.definitions import build_defs
from mh_assets.settings import Settings


@dataclass
class Platform:
    extracts: Path
    artifacts: Path
    home: Path
    extract: Path
    truth: Path


def make_platform(root: Path, patients: int, seed: int, **spec: object) -> Platform:
    """A landing zone holding one synthetic extract; its ground truth kept beside it."""
    extracts, artifacts, home, truth_dir = (root / n for n in ("extracts", "artifacts", "home",
                                                              "truth"))
    for directory in (extracts, artifacts, home, truth_dir):
        directory.mkdir(parents=True, exist_ok=True)
    result = write_synthetic_extract(SyntheticSpec(patients=patients, seed=seed, **spec),
                                     extracts)
    truth = truth_dir / result.truth_path.name
    result.truth_path.rename(truth)  # the landing zone holds extracts only
    return Platform(extracts, artifacts, home, result.extract_path, truth)


def use_platform(monkeypatch: pytest.MonkeyPatch, platform: Platform) -> None:
    monkeypatch.setenv("MH_EXTRACTS_DIR", str(platform.extracts))
    monkeypatch.setenv("MH_ARTIFACTS_DIR", str(platform.artifacts))
    monkeypatch.setenv("DAGSTER_HOME", str(platform.home))
    monkeypatch.setenv("MH_PRESET", "demo")


def load_defs() -> dg.Definitions:
    """The code location's definitions for the current environment."""
    return build_defs(Settings.from_env())


def materialize(instance: dg.DagsterInstance, keys, partition_key=None, run_config=None,
                tags=None, defs: dg.Definitions | None = None) -> dg.ExecuteInProcessResult:
    """Materialize ``keys`` (one partition) with the code location's assets and resources."""
    defs = defs or load_defs()
    return dg.materialize(
        list(defs.assets) + list(defs.asset_checks),
        selection=dg.AssetSelection.assets(*keys), partition_key=partition_key,
        instance=instance, resources=defs.resources, run_config=run_config or {},
        tags=tags, raise_on_error=False,
    )

"""Fixtures for the operations tests: a small materialized platform, external programs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from mh_assets_tests.defs.conftest import Platform, make_platform, use_platform

INGEST = ["registry_extract", "cohort", "excluded_records", "icd_descriptors"]


def require_program(path_or_name: str, what: str) -> str:
    """The program's path; skip where it is absent -- but fail under CI, which installs it."""
    found = shutil.which(path_or_name) or (path_or_name if os.access(path_or_name, os.X_OK)
                                           else None)
    if found:
        return found
    message = f"{what} not found ({path_or_name}); .ci/run installs it with apt-get"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set but {message}")
    pytest.skip(message)


def materialize(instance: dg.DagsterInstance, keys, partition_key=None, run_config=None,
                tags=None):
    from mh_assets.definitions import defs

    return dg.materialize(
        list(defs.assets) + list(defs.asset_checks),
        selection=dg.AssetSelection.assets(*keys), partition_key=partition_key,
        instance=instance, resources=defs.resources, run_config=run_config or {},
        tags=tags, raise_on_error=False,
    )


@dataclass
class Materialized:
    platform: Platform
    instance: dg.DagsterInstance
    run_id: str


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Materialized]:
    """Ingest + ``sud_by_sex_table`` materialized once per module on a 300-row extract."""
    root = tmp_path_factory.mktemp("platform")
    with pytest.MonkeyPatch.context() as monkeypatch:
        platform = make_platform(root, patients=300, seed=5)
        use_platform(monkeypatch, platform)
        with dg.instance_for_test(temp_dir=str(platform.home)) as instance:
            result = materialize(instance, [*INGEST, "sud_by_sex_table"])
            assert result.success
            yield Materialized(platform, instance, result.run_id)


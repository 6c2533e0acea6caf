"""Fixtures for the operations tests: a small materialized platform."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from mh_assets_tests.support.platform import Platform, make_platform, materialize, use_platform

INGEST = ["registry_extract", "cohort", "excluded_records", "icd_descriptors"]


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

"""Fixtures for wiring tests: a synthetic landing zone, artifacts root and instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from mh_assets_tests.support.platform import Platform, make_platform, use_platform


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

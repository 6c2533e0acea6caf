"""The new-extract sensor: complete files only, one run per content, cursor in the instance."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from mh_assets.core.storage import sha256_file
from mh_assets.defs.resources import Platform
from mh_assets.defs.sensors import new_extract_sensor
from mh_assets.ops.landing import LandingCursor, scan_landing_zone
from mh_assets.settings import Settings

EXTRACT = "RAECMBD_1_20240101-000000.csv"


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def zone(tmp_path: Path) -> Path:
    directory = tmp_path / "extracts"
    directory.mkdir()
    return directory


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as inst:
        yield inst


def tick(instance, zone: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor,
        resources={"platform": Platform(Settings(extracts_dir=zone))},
    )
    return new_extract_sensor(Settings())(context)


def ticks(instance, zone: Path, n: int, cursor: str | None = None):
    """Run n ticks; return every run request and the final cursor."""
    requests = []
    for _ in range(n):
        result = tick(instance, zone, cursor)
        requests += result.run_requests or []
        cursor = result.cursor
    return requests, cursor


def test_one_new_extract_yields_exactly_one_run_request_pinned_to_it(instance, zone):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    first = tick(instance, zone, None)
    assert not first.run_requests  # seen once: not yet known to be complete
    requests, _ = ticks(instance, zone, 3, first.cursor)
    assert len(requests) == 1
    request = requests[0]
    digest = sha256_file(path)
    assert request.run_key == f"extract-{digest}"
    assert request.run_config["ops"]["registry_extract"]["config"]["extract"] == str(path)
    assert {k.to_user_string() for k in request.asset_selection} == {
        "registry_extract", "icd_descriptors"}
    assert request.tags["mh-assets/extract_sha256"] == digest


def test_same_content_renamed_or_copied_yields_no_run(instance, zone):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    requests, cursor = ticks(instance, zone, 2)
    assert len(requests) == 1
    path.rename(zone / "RAECMBD_1_20250101-000000.csv")
    shutil.copy(zone / "RAECMBD_1_20250101-000000.csv", zone / "copy.txt")
    requests, _ = ticks(instance, zone, 3, cursor)
    assert requests == []


def test_a_growing_file_waits_until_size_and_time_hold_still(instance, zone):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    _, cursor = ticks(instance, zone, 1)
    with path.open("a") as handle:  # still being copied at the second tick
        handle.write("3,4\n")
    result = tick(instance, zone, cursor)
    assert not result.run_requests
    result = tick(instance, zone, result.cursor)
    assert len(result.run_requests) == 1
    assert result.run_requests[0].run_key == f"extract-{sha256_file(path)}"


def test_hidden_temporary_and_ground_truth_files_are_ignored(instance, zone):
    for name in (".RAECMBD_1.csv", "RAECMBD_2.csv.part", "RAECMBD_3.csv.tmp",
                 "RAECMBD_4.csv.crdownload", "RAECMBD_5.truth.parquet"):
        _write(zone, name, f"{name}\n")
    requests, cursor = ticks(instance, zone, 3)
    assert requests == []
    assert LandingCursor.parse(cursor).files == {}


def test_cursor_round_trips_and_a_restarted_sensor_does_not_trigger_again(instance, zone):
    _write(zone, EXTRACT, "a,b\n1,2\n")
    _write(zone, "RAECMBD_1_20230101-000000.csv", "a,b\n5,6\n")
    requests, cursor = ticks(instance, zone, 2)
    parsed = LandingCursor.parse(cursor)
    assert LandingCursor.parse(parsed.serialize()) == parsed
    assert len(parsed.handled) == 2 and all(s.sha256 for s in parsed.files.values())
    # a new sensor process (restart) gets the cursor back from the instance
    again, _ = ticks(instance, zone, 2, cursor)
    assert again == []


def test_two_extracts_arriving_together_refresh_once_with_the_newest(instance, zone):
    older = _write(zone, "RAECMBD_1_20230101-000000.csv", "a,b\n5,6\n")
    newer = _write(zone, EXTRACT, "a,b\n1,2\n")
    os.utime(older, (1e9, 1e9))
    requests, _ = ticks(instance, zone, 3)
    assert [r.run_key for r in requests] == [f"extract-{sha256_file(newer)}"]


def test_the_already_ingested_extract_does_not_trigger(instance, zone):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    instance.report_runless_asset_event(dg.AssetMaterialization(
        "registry_extract", tags={"dagster/data_version": sha256_file(path)}))
    requests, _ = ticks(instance, zone, 3)
    assert requests == []


def test_scan_hashes_a_stable_file_once(zone, monkeypatch):
    _write(zone, EXTRACT, "a,b\n1,2\n")
    first = scan_landing_zone(zone, LandingCursor())
    second = scan_landing_zone(zone, first.cursor)
    import mh_assets.ops.landing as landing

    monkeypatch.setattr(landing, "sha256_file", lambda p: pytest.fail("hashed twice"))
    third = scan_landing_zone(zone, second.cursor)
    assert [sha for _, sha in third.new] == [sha for _, sha in second.new]


def test_the_sensors_run_request_materializes_the_pinned_file(tmp_path, monkeypatch):
    from mh_assets_tests.support.platform import load_defs, make_platform, use_platform

    platform = make_platform(tmp_path, patients=200, seed=3)
    use_platform(monkeypatch, platform)
    newer = platform.extracts / "RAECMBD_9_29990101-000000.csv"  # newest by name, but broken
    newer.write_text("not,an,extract\n")
    with dg.instance_for_test(temp_dir=str(platform.home)) as inst:
        from mh_assets.defs.sensors import extract_run_request

        digest = sha256_file(platform.extract)
        request = extract_run_request(platform.extract, digest)
        result = dg.materialize(
            list(load_defs().assets) + list(load_defs().asset_checks),
            selection=request.asset_selection, run_config=request.run_config,
            tags=request.tags, instance=inst, resources=load_defs().resources,
        )
        assert result.success
        event = inst.get_latest_materialization_event(dg.AssetKey("registry_extract"))
        assert event.asset_materialization.tags["dagster/data_version"] == digest
        checks = {e.event_specific_data.check_name for e in result.all_events
                  if e.event_type_value == "ASSET_CHECK_EVALUATION"}
        assert {"extract_schema", "refresh_complete"} <= checks

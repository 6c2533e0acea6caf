"""The new-extract sensor: complete files only, one run per content (``newest``) or per
set of files (``all``), cursor in the instance."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from mh_assets.core.registry import combined_digest
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


def tick(instance, zone: Path, cursor: str | None, mode: str = "all") -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor,
        resources={"platform": Platform(Settings(extracts_dir=zone, extract_mode=mode))},
    )
    return new_extract_sensor(Settings())(context)


def ticks(instance, zone: Path, n: int, cursor: str | None = None, mode: str = "all"):
    """Run n ticks; return every run request and the final cursor."""
    requests = []
    for _ in range(n):
        result = tick(instance, zone, cursor, mode)
        requests += result.run_requests or []
        cursor = result.cursor
    return requests, cursor


@pytest.mark.parametrize("mode", ["all", "newest"])
def test_one_new_extract_yields_exactly_one_run_request_pinned_to_it(instance, zone, mode):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    first = tick(instance, zone, None, mode)
    assert not first.run_requests  # seen once: not yet known to be complete
    requests, _ = ticks(instance, zone, 3, first.cursor, mode)
    assert len(requests) == 1
    request = requests[0]
    digest = sha256_file(path)  # a set of one file: the file's own sha256
    assert request.run_key == f"extract-{digest}"
    config = request.run_config["ops"]["registry_extract"]["config"]
    assert config == ({"extract": str(path)} if mode == "newest" else {"extracts": [str(path)]})
    assert {k.to_user_string() for k in request.asset_selection} == {
        "registry_extract", "icd_descriptors"}
    assert request.tags["mh-assets/extract_sha256"] == digest


def test_newest_mode_same_content_renamed_or_copied_yields_no_run(instance, zone):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    requests, cursor = ticks(instance, zone, 2, mode="newest")
    assert len(requests) == 1
    path.rename(zone / "RAECMBD_1_20250101-000000.csv")
    shutil.copy(zone / "RAECMBD_1_20250101-000000.csv", zone / "copy.txt")
    requests, _ = ticks(instance, zone, 3, cursor, mode="newest")
    assert requests == []


@pytest.mark.parametrize("mode", ["all", "newest"])
def test_a_growing_file_waits_until_size_and_time_hold_still(instance, zone, mode):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    _, cursor = ticks(instance, zone, 1, mode=mode)
    with path.open("a") as handle:  # still being copied at the second tick
        handle.write("3,4\n")
    result = tick(instance, zone, cursor, mode)
    assert not result.run_requests
    result = tick(instance, zone, result.cursor, mode)
    assert len(result.run_requests) == 1
    assert result.run_requests[0].run_key == f"extract-{sha256_file(path)}"


@pytest.mark.parametrize("mode", ["all", "newest"])
def test_hidden_temporary_and_ground_truth_files_are_ignored(instance, zone, mode):
    for name in (".RAECMBD_1.csv", "RAECMBD_2.csv.part", "RAECMBD_3.csv.tmp",
                 "RAECMBD_4.csv.crdownload", "RAECMBD_5.truth.parquet"):
        _write(zone, name, f"{name}\n")
    requests, cursor = ticks(instance, zone, 3, mode=mode)
    assert requests == []
    assert LandingCursor.parse(cursor).files == {}


@pytest.mark.parametrize("mode,handled", [("all", 1), ("newest", 2)])
def test_cursor_round_trips_and_a_restarted_sensor_does_not_trigger_again(instance, zone,
                                                                          mode, handled):
    _write(zone, EXTRACT, "a,b\n1,2\n")
    _write(zone, "RAECMBD_1_20230101-000000.csv", "a,b\n5,6\n")
    requests, cursor = ticks(instance, zone, 2, mode=mode)
    assert len(requests) == 1
    parsed = LandingCursor.parse(cursor)
    assert LandingCursor.parse(parsed.serialize()) == parsed
    assert len(parsed.handled) == handled and all(s.sha256 for s in parsed.files.values())
    # a new sensor process (restart) gets the cursor back from the instance
    again, _ = ticks(instance, zone, 2, cursor, mode)
    assert again == []


def test_newest_mode_two_extracts_arriving_together_refresh_once_with_the_newest(instance,
                                                                                 zone):
    older = _write(zone, "RAECMBD_1_20230101-000000.csv", "a,b\n5,6\n")
    newer = _write(zone, EXTRACT, "a,b\n1,2\n")
    os.utime(older, (1e9, 1e9))
    requests, _ = ticks(instance, zone, 3, mode="newest")
    assert [r.run_key for r in requests] == [f"extract-{sha256_file(newer)}"]


def _set_digest(*paths: Path) -> str:
    return combined_digest((p.name, sha256_file(p)) for p in paths)


def test_all_mode_two_extracts_arriving_together_refresh_once_with_both(instance, zone):
    older = _write(zone, "RAECMBD_1_20230101-000000.csv", "a,b\n5,6\n")
    newer = _write(zone, EXTRACT, "a,b\n1,2\n")
    requests, _ = ticks(instance, zone, 3)
    assert [r.run_key for r in requests] == [f"extract-{_set_digest(older, newer)}"]
    assert requests[0].run_config["ops"]["registry_extract"]["config"] == {
        "extracts": [str(older), str(newer)]}
    assert requests[0].tags["mh-assets/extract_sha256"] == _set_digest(older, newer)


def test_all_mode_a_file_added_later_triggers_once_over_every_complete_file(instance, zone):
    first = _write(zone, "RAECMBD_1_20210101-000000.csv", "a,b\n5,6\n")
    requests, cursor = ticks(instance, zone, 3)
    assert [r.run_key for r in requests] == [f"extract-{sha256_file(first)}"]
    second = _write(zone, EXTRACT, "a,b\n1,2\n")
    _, cursor = ticks(instance, zone, 1, cursor)  # first seen: still arriving, set waits
    with second.open("a") as handle:  # still being copied
        handle.write("3,4\n")
    result = tick(instance, zone, cursor)
    assert not result.run_requests
    requests, cursor = ticks(instance, zone, 4, result.cursor)
    assert len(requests) == 1
    assert requests[0].run_key == f"extract-{_set_digest(first, second)}"
    assert requests[0].run_config["ops"]["registry_extract"]["config"]["extracts"] == [
        str(first), str(second)]
    assert ticks(instance, zone, 3, cursor)[0] == []  # the same set never twice


@pytest.mark.parametrize("mode", ["all", "newest"])
def test_the_already_ingested_extract_does_not_trigger(instance, zone, mode):
    path = _write(zone, EXTRACT, "a,b\n1,2\n")
    instance.report_runless_asset_event(dg.AssetMaterialization(
        "registry_extract", tags={"dagster/data_version": sha256_file(path)}))
    requests, _ = ticks(instance, zone, 3, mode=mode)
    assert requests == []


def test_all_mode_the_already_ingested_set_does_not_trigger(instance, zone):
    paths = [_write(zone, EXTRACT, "a,b\n1,2\n"),
             _write(zone, "RAECMBD_1_20230101-000000.csv", "a,b\n5,6\n")]
    instance.report_runless_asset_event(dg.AssetMaterialization(
        "registry_extract", tags={"dagster/data_version": _set_digest(*paths)}))
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


def test_the_sensors_newest_run_request_materializes_the_pinned_file(tmp_path, monkeypatch):
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


def test_the_sensors_all_mode_run_request_materializes_the_pinned_set(tmp_path, monkeypatch):
    from mh_assets.core import layout
    from mh_assets.core.registry import find_extracts
    from mh_assets.defs.sensors import extracts_run_request
    from mh_assets.ops.landing import LandingSet
    from mh_assets_tests.support.platform import load_defs, make_platform, use_platform

    platform = make_platform(tmp_path, patients=200, seed=3)
    use_platform(monkeypatch, platform)
    second = make_platform(tmp_path / "second", patients=100, seed=4).extract
    added = shutil.copy(second, platform.extracts / "RAECMBD_455_20250101-000000.csv")
    paths = sorted([platform.extract, Path(added)], key=lambda p: p.name)
    assert find_extracts(platform.extracts) == paths[::-1]
    broken = platform.extracts / "RAECMBD_9_29990101-000000.csv"  # not in the pinned set
    digest = _set_digest(*paths)
    request = extracts_run_request(LandingSet(digest, paths))
    broken.write_text("not,an,extract\n")
    with dg.instance_for_test(temp_dir=str(platform.home)) as inst:
        result = dg.materialize(
            list(load_defs().assets) + list(load_defs().asset_checks),
            selection=request.asset_selection, run_config=request.run_config,
            tags=request.tags, instance=inst, resources=load_defs().resources,
        )
        assert result.success
        event = inst.get_latest_materialization_event(dg.AssetKey("registry_extract"))
        assert event.asset_materialization.tags["dagster/data_version"] == digest
    import polars as pl

    frame = pl.read_parquet(platform.artifacts / layout.EXTRACT)
    assert frame.height == 300 and set(frame["extract_file"]) == {p.name for p in paths}

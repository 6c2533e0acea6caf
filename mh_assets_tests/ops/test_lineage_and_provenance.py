"""Lineage from a published table back to the extract, and the per-run provenance file."""

from __future__ import annotations

import json
from dataclasses import replace

import dagster as dg
import pytest

from mh_assets.core.storage import open_store, sha256_file
from mh_assets.ops.lineage import build_lineage, format_lineage, relative_to_root
from mh_assets.ops.provenance import run_provenance, write_run_provenance
from mh_assets.settings import Settings
from mh_assets_tests.support.platform import load_defs, materialize


def test_lineage_of_the_sud_table_names_the_extract_and_its_sha256(materialized):
    platform, instance = materialized.platform, materialized.instance
    table = platform.artifacts / "tables" / "sud_by_sex.csv"
    lineage = build_lineage(table, instance, load_defs(), platform.artifacts)
    digest = sha256_file(platform.extract)

    assert lineage.writer.asset == "sud_by_sex_table"
    assert [s.asset for s in lineage.ancestors] == ["registry_extract", "cohort"]
    assert lineage.extract.metadata["file_name"] == platform.extract.name
    assert lineage.extract.metadata["sha256"] == digest == lineage.extract.data_version
    assert lineage.file_sha256 == sha256_file(table)
    assert lineage.preset == "demo" and lineage.settings["min_cell"] == "10"
    text = format_lineage(lineage)
    assert platform.extract.name in text and digest in text
    assert text.index("registry_extract") < text.index("cohort") < text.index("=> sud_by_sex")


def test_lineage_finds_the_xlsx_sibling_and_accepts_a_relative_path(materialized, monkeypatch):
    platform = materialized.platform
    monkeypatch.chdir(platform.artifacts.parent)
    relative = f"{platform.artifacts.name}/tables/sud_by_sex.xlsx"
    assert relative_to_root(relative, platform.artifacts) == "tables/sud_by_sex.xlsx"
    lineage = build_lineage(relative, materialized.instance, load_defs(), platform.artifacts)
    assert lineage.writer.asset == "sud_by_sex_table"


def test_lineage_shows_the_extract_a_file_was_built_from_not_a_later_one(materialized):
    platform, instance = materialized.platform, materialized.instance
    before = sha256_file(platform.extract)
    # a later ingest of another extract does not rewrite the history of the table
    other = platform.extracts / "RAECMBD_2_20300101-000000.csv"
    other.write_bytes(platform.extract.read_bytes() + b"\n")
    try:
        assert materialize(instance, ["registry_extract"]).success
        lineage = build_lineage(platform.artifacts / "tables/sud_by_sex.csv", instance, load_defs(),
                                platform.artifacts)
        assert lineage.extract.metadata["sha256"] == before
    finally:
        other.unlink()
        assert materialize(instance, ["registry_extract"]).success


REFRESH = ["registry_extract", "cohort", "excluded_records", "sud_by_sex_table"]


def test_lineage_of_a_combined_extract_lists_every_file_it_was_built_from(materialized):
    from mh_assets.core.registry import combined_digest

    platform, instance = materialized.platform, materialized.instance
    later = platform.extracts / "RAECMBD_2_20300101-000000.csv"  # overlaps the first fully
    later.write_bytes(platform.extract.read_bytes())
    try:
        assert materialize(instance, REFRESH).success
        lineage = build_lineage(platform.artifacts / "tables/sud_by_sex.csv", instance,
                                load_defs(), platform.artifacts)
        digest = combined_digest([(p.name, sha256_file(p)) for p in (platform.extract, later)])
        assert lineage.extract.metadata["sha256"] == digest == lineage.extract.data_version
        assert lineage.extract.metadata["duplicates_dropped"] == 300
        text = format_lineage(lineage)
        for path in (platform.extract, later):
            assert f"{path.name}  sha256 {sha256_file(path)}" in text
        assert "duplicate episodes dropped: 300" in text
    finally:
        later.unlink()
        assert materialize(instance, REFRESH).success


def test_lineage_of_an_unknown_file_says_so(materialized):
    stray = materialized.platform.artifacts / "tables" / "not_written_by_any_asset.csv"
    stray.write_text("x\n")
    with pytest.raises(LookupError, match="no materialization"):
        build_lineage(stray, materialized.instance, load_defs(), materialized.platform.artifacts)


def test_run_provenance_file_lists_each_asset_with_versions_and_hashes(materialized):
    platform, instance = materialized.platform, materialized.instance
    settings = Settings.from_env()
    path = write_run_provenance(instance, materialized.run_id, open_store(platform.artifacts),
                                settings)
    assert path == platform.artifacts / "provenance" / f"{materialized.run_id}.json"
    record = json.loads(path.read_text())
    assert record["run_id"] == materialized.run_id and record["status"] == "SUCCESS"
    by_asset = {m["asset"]: m for m in record["materializations"]}
    assert set(by_asset) == {"registry_extract", "cohort", "excluded_records",
                             "icd_descriptors", "sud_by_sex_table"}
    extract = by_asset["registry_extract"]
    assert extract["metadata"]["sha256"] == extract["data_version"] == sha256_file(
        platform.extract)
    assert all(m["data_version"] and m["code_version"] for m in by_asset.values())
    assert record["preset"] == "demo" and record["git_commit"]
    assert "dagster" in record["libraries"] and "min_cell" in record["settings"]
    assert {c["check"] for c in record["checks"]} >= {"extract_schema", "cohort_not_empty"}


def test_run_provenance_carries_no_patient_level_value(materialized):
    from mh_assets_tests.support.leakage import leaks, patient_values

    text = json.dumps(run_provenance(materialized.instance, materialized.run_id,
                                     Settings.from_env()))
    values = patient_values(materialized.platform.artifacts)
    assert all(values.values())
    assert leaks(text, values) == {}


def test_provenance_sensor_writes_a_file_for_each_finished_run(materialized, tmp_path):
    from mh_assets.defs.resources import Platform
    from mh_assets.defs.sensors import run_provenance_sensor

    settings = Settings.from_env()
    sensor = run_provenance_sensor(settings)
    context = dg.build_sensor_context(
        instance=materialized.instance,
        resources={"platform": Platform(replace(settings, artifacts_dir=tmp_path))},
    )
    sensor(context)
    written = {p.stem for p in (tmp_path / "provenance").glob("*.json")}
    assert materialized.run_id in written
    again = dg.build_sensor_context(instance=materialized.instance, cursor=context.cursor,
                                    resources={"platform": Platform(replace(
                                        settings, artifacts_dir=tmp_path / "second"))})
    sensor(again)
    assert not (tmp_path / "second" / "provenance").exists()  # the cursor moved past them


def test_the_lineage_command_prints_the_chain(materialized, capsys):
    from mh_assets.cli import main

    table = materialized.platform.artifacts / "tables" / "sud_by_sex.csv"
    assert main(["lineage", str(table)]) == 0
    out = capsys.readouterr().out
    assert materialized.platform.extract.name in out
    assert sha256_file(materialized.platform.extract) in out
    assert main(["lineage", "--json", str(table)]) == 0
    assert json.loads(capsys.readouterr().out)["writer"]["asset"] == "sud_by_sex_table"

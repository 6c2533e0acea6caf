"""Ingestion, cohort and corpus assets materialized in-process on a synthetic extract."""

from __future__ import annotations

import json
import logging
import shutil

import dagster as dg
import polars as pl
import pytest

from mh_assets.ops.stages import plan_stages
from mh_assets_tests.support.platform import load_defs

INGEST = ["registry_extract", "cohort", "excluded_records", "icd_descriptors"]


def _materialize(instance, keys, partition_key=None, run_config=None, defs=None):
    defs = defs or load_defs()
    assets = list(defs.assets) + list(defs.asset_checks)
    return dg.materialize(
        assets, selection=dg.AssetSelection.assets(*keys), partition_key=partition_key,
        instance=instance, resources=defs.resources, run_config=run_config or {},
        raise_on_error=False,
    )


def _checks(result):
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_ingest_then_corpus_for_both_partitions(platform, instance):
    result = _materialize(instance, INGEST)
    assert result.success
    extract_event = instance.get_latest_materialization_event(dg.AssetKey("registry_extract"))
    tags = extract_event.asset_materialization.tags
    info = json.loads((platform.artifacts / "restricted/extract_info.json").read_text())
    assert tags["dagster/data_version"] == info["sha256"]

    for sex in ("female", "male"):
        result = _materialize(instance, ["descriptor_corpus"], partition_key=sex)
        assert result.success, sex
        checks = _checks(result)
        assert checks["descriptor_coverage"].passed
        assert checks["corpus_not_empty"].passed
        corpus = pl.read_parquet(platform.artifacts / f"restricted/corpus/{sex}.parquet")
        assert corpus.height > 0
        assert set(corpus.get_column("sex").unique()) == {sex}

    cohort = pl.read_parquet(platform.artifacts / "restricted/cohort.parquet")
    excluded = pl.read_parquet(platform.artifacts / "restricted/excluded_records.parquet")
    assert cohort.height + excluded.height == 600
    assert excluded.get_column("exclusion_reasons").list.len().min() >= 1


def test_restricted_outputs_are_owner_only(platform, instance):
    assert _materialize(instance, INGEST).success
    restricted = platform.artifacts / "restricted"
    assert restricted.stat().st_mode & 0o777 == 0o700
    for path in restricted.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path


def test_extract_config_picks_one_file_over_the_newest(platform, instance):
    older = platform.extracts / "older_copy.csv"
    shutil.copy(platform.extract, older)
    bad = platform.extracts / "RAECMBD_999_29991231-235959.csv"  # newest by name
    bad.write_text("not,an,extract\n1,2,3\n")
    result = _materialize(
        instance, ["registry_extract"],
        run_config={"ops": {"registry_extract": {"config": {"extract": str(older)}}}},
    )
    assert result.success
    frame = pl.read_parquet(platform.artifacts / "restricted/extract.parquet")
    assert frame.height == 600 and set(frame["extract_file"]) == {older.name}  # that file only
    assert not _materialize(instance, ["registry_extract"]).success  # newest is broken


def test_a_bad_extract_fails_with_file_line_column_and_keeps_previous_outputs(
    platform, instance
):
    assert _materialize(instance, ["registry_extract"]).success
    parsed = platform.artifacts / "restricted/extract.parquet"
    before = parsed.read_bytes()
    header = platform.extract.read_text(encoding="utf-8").splitlines()[0]
    bad = platform.extracts / "RAECMBD_999_29991231-235959.csv"
    bad.write_text(header + "\n" + "1,2,3\n", encoding="utf-8")  # too few fields

    result = _materialize(instance, ["registry_extract"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert bad.name in message and "line 2" in message and "expected" in message
    assert parsed.read_bytes() == before


def test_empty_landing_zone_fails_clearly(platform, instance):
    platform.extract.unlink()
    result = _materialize(instance, ["registry_extract"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "mh-assets synth" in message


@pytest.mark.parametrize("threshold,passes", [("0.5", True), ("1.0", False)])
def test_coverage_check_follows_its_threshold_setting(platform, instance, monkeypatch,
                                                      threshold, passes):
    assert _materialize(instance, INGEST).success
    monkeypatch.setenv("MH_COVERAGE_EXACT", threshold)
    result = _materialize(instance, ["descriptor_corpus"], partition_key="female")
    assert _checks(result)["descriptor_coverage"].passed is passes


def test_failed_blocking_coverage_check_stops_downstream_in_the_same_run(
    platform, instance, monkeypatch
):
    assert _materialize(instance, INGEST).success
    monkeypatch.setenv("MH_COVERAGE_EXACT", "1.0")
    result = _materialize(instance, ["descriptor_corpus", "mlm_checkpoint"],
                          partition_key="female")
    assert not result.success
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "mlm_checkpoint" not in started


def test_a_rejected_corpus_leaves_the_last_good_one_in_place(platform, instance, monkeypatch):
    from mh_assets.core import layout
    from mh_assets.core.storage import sha256_file

    assert _materialize(instance, INGEST).success
    assert _materialize(instance, ["descriptor_corpus"], partition_key="female").success
    good = platform.artifacts / layout.corpus("female")
    digest, before = sha256_file(good), _latest_corpus(instance)
    monkeypatch.setenv("MH_COVERAGE_EXACT", "1.0")
    result = _materialize(instance, ["descriptor_corpus"], partition_key="female")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "the previous corpus is kept" in failure.step_failure_data.error.message
    assert sha256_file(good) == digest  # nothing downstream reads the rejected corpus
    assert (platform.artifacts / layout.rejected(layout.corpus("female"))).exists()
    assert _latest_corpus(instance) == before  # the UI's latest is still the good one


def _latest_corpus(instance):
    import dagster as dg

    records = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("descriptor_corpus"), asset_partitions=["female"]), limit=1)
    return records.records[0].storage_id


def test_an_empty_cohort_replaces_nothing(platform, instance, monkeypatch):
    from dataclasses import replace

    from mh_assets.core import layout
    from mh_assets.core.storage import sha256_file
    from mh_assets.definitions import build_defs
    from mh_assets.settings import Settings

    assert _materialize(instance, INGEST).success
    cohort = platform.artifacts / layout.COHORT
    digest = sha256_file(cohort)
    strict = replace(Settings.from_env(), cohort=replace(Settings().cohort,
                                                         principal_chapter="Q"))
    result = _materialize(instance, ["cohort", "excluded_records"], defs=build_defs(strict))
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "previous cohort and everything built from it are kept" in \
        failure.step_failure_data.error.message
    assert sha256_file(cohort) == digest
    assert (platform.artifacts / layout.rejected(layout.COHORT)).exists()


def test_stages_run_each_asset_once(platform):
    stages = plan_stages(load_defs())
    seen = [key for stage in stages if stage.partition_key in (None, "female")
            for key in stage.keys]
    assert len(seen) == len(set(seen))
    assert stages[0].partition_key is None and "registry_extract" in {
        k.to_user_string() for k in stages[0].keys}


def test_no_patient_level_value_reaches_logs_or_metadata(platform, instance):
    from mh_assets_tests.support.leakage import event_log_text, leaks, patient_values

    assert _materialize(instance, INGEST + ["sud_by_sex_table", "cohort_descriptives"]).success
    for sex in ("female", "male"):
        assert _materialize(instance, ["descriptor_corpus"], partition_key=sex).success
    text = event_log_text(instance)
    values = patient_values(platform.artifacts)
    assert all(values.values()), "the probe itself must have values to look for"
    assert leaks(text, values) == {}


def test_leak_probe_finds_a_planted_birth_date(platform, instance):
    from mh_assets_tests.support.leakage import leaks, patient_values

    assert _materialize(instance, INGEST).success
    values = patient_values(platform.artifacts)
    planted = next(iter(values["birth_date_iso"]))
    assert "birth_date_iso" in leaks(f"log line with {planted} in it", values)
    assert "code_next_to_date" in leaks("F12.10 admitted 2019-04-02", values)


def test_table_assets_carry_column_lineage_schema_and_row_count(platform, instance):
    assert _materialize(instance, INGEST + ["sud_by_sex_table", "cohort_descriptives"]).success
    for asset in ("sud_by_sex_table", "cohort_descriptives"):
        meta = instance.get_latest_materialization_event(
            dg.AssetKey(asset)).asset_materialization.metadata
        lineage = meta["dagster/column_lineage"].value
        deps = {dep.asset_key.to_user_string() for column_deps in
                lineage.deps_by_column.values() for dep in column_deps}
        assert deps == {"cohort"}, asset
        assert "p_value" in lineage.deps_by_column
        assert meta["dagster/row_count"].value > 0
        assert meta["dagster/column_schema"].value.columns
        assert "preview" in meta and any(k.startswith("figure/") for k in meta) == (
            asset == "cohort_descriptives")


def test_stage_config_passes_op_config_only_to_the_stage_that_runs_the_op():
    from mh_assets.ops.runner import _stage_config

    stages = plan_stages(load_defs())
    config = {"ops": {"registry_extract": {"config": {"extract": "x.csv"}}}}
    ingest = _stage_config(config, stages[0])
    later = _stage_config(config, stages[1])
    assert ingest["ops"] == config["ops"]
    assert "ops" not in later
    assert ingest["loggers"]["console"]["config"]["log_level"] == "INFO"


def test_input_data_versions_name_the_same_sex_partition_of_the_upstream(platform, instance):
    from mh_assets.ops.graph import latest_materialization

    assert _materialize(instance, INGEST).success
    for sex in ("female", "male"):
        assert _materialize(instance, ["descriptor_corpus"], partition_key=sex).success
    # female's checks read female's corpus even though male's was materialized last
    result = _materialize(instance, ["descriptor_corpus"], partition_key="female",
                          run_config={})
    assert result.success
    corpus = dg.AssetKey("descriptor_corpus")
    female = latest_materialization(instance, corpus, "female").asset_materialization
    male = latest_materialization(instance, corpus, "male").asset_materialization
    assert female.partition == "female" and male.partition == "male"

    from mh_assets.defs import metadata

    class Context:  # the parts of an execution context input_data_versions reads
        def __init__(self, partition):
            self.instance, self.partition_key, self.has_partition_key = (
                instance, partition, True)

    versions = metadata.input_data_versions(Context("male"), [corpus])
    assert versions["descriptor_corpus"] == male.tags["dagster/data_version"]
    versions = metadata.input_data_versions(Context("female"), [corpus])
    assert versions["descriptor_corpus"] == female.tags["dagster/data_version"]


# ------------------------------------------------------------------ extracts that add up
LATER = "RAECMBD_454_20250101-000000.csv"  # a later delivery, named as the registry does


def _land_second_extract(platform, overlap: int = 5):
    """A second synthetic delivery in the landing zone that repeats ``overlap`` episodes
    of the first (the deliveries overlap): returns its path."""
    from datetime import datetime

    from mh_assets_tests.support.platform import make_platform

    second = make_platform(platform.extracts.parent / "second", patients=200, seed=12,
                           timestamp=datetime(2025, 1, 1)).extract
    first_lines = platform.extract.read_bytes().splitlines(keepends=True)
    second_lines = second.read_bytes().splitlines(keepends=True)
    assert first_lines[0] == second_lines[0]  # the same layout, so rows compare
    landed = platform.extracts / LATER
    landed.write_bytes(b"".join(second_lines + first_lines[1:1 + overlap]))
    return landed


def _extract_event(instance):
    return instance.get_latest_materialization_event(
        dg.AssetKey("registry_extract")).asset_materialization


def test_all_mode_holds_the_rows_of_both_extracts_and_drops_their_shared_episodes(
    platform, instance
):
    from mh_assets.core import layout
    from mh_assets.core.registry import ExtractInfo, combined_digest
    from mh_assets.core.storage import sha256_file

    landed = _land_second_extract(platform, overlap=5)
    assert _materialize(instance, ["registry_extract", "cohort", "excluded_records"]).success
    frame = pl.read_parquet(platform.artifacts / layout.EXTRACT)
    assert frame.height == 600 + 200  # the 5 re-delivered episodes are dropped
    assert frame["record_number"].to_list() == list(range(1, 801))
    by_file = dict(frame.group_by("extract_file").len().iter_rows())
    assert by_file == {platform.extract.name: 600, landed.name: 200}
    assert frame["extract_file"][:600].to_list() == [platform.extract.name] * 600  # name order

    digest = combined_digest([(platform.extract.name, sha256_file(platform.extract)),
                              (landed.name, sha256_file(landed))])
    event = _extract_event(instance)
    assert event.tags["dagster/data_version"] == digest
    assert event.metadata["duplicates_dropped"].value == 5
    assert [(f["file_name"], f["rows"], f["duplicates"])
            for f in event.metadata["extract_files"].value] == [
        (platform.extract.name, 600, 0), (landed.name, 205, 5)]

    info = ExtractInfo.from_json((platform.artifacts / layout.EXTRACT_INFO).read_text())
    assert (info.sha256, info.rows) == (digest, 800)
    assert info.file_name == f"2 extracts: {platform.extract.name}, {landed.name}"
    files = json.loads((platform.artifacts / layout.EXTRACT_FILES).read_text())
    assert [f["sha256"] for f in files["files"]] == [sha256_file(platform.extract),
                                                     sha256_file(landed)]
    cohort = pl.read_parquet(platform.artifacts / layout.COHORT)
    excluded = pl.read_parquet(platform.artifacts / layout.EXCLUDED_RECORDS)
    assert cohort.height + excluded.height == 800
    assert cohort["patient_id"].n_unique() == cohort.height  # ids stay unique over files
    assert set(cohort["extract_file"]) == {platform.extract.name, landed.name}


def test_all_mode_data_version_changes_when_a_file_is_added_and_holds_for_the_same_set(
    platform, instance
):
    from mh_assets.core import layout
    from mh_assets.core.storage import sha256_file

    assert _materialize(instance, ["registry_extract", "cohort", "excluded_records"]).success
    alone = _extract_event(instance).tags["dagster/data_version"]
    assert alone == sha256_file(platform.extract)  # one file: its own sha256, as before
    _land_second_extract(platform)
    versions, ids = [], []
    for _ in range(2):
        assert _materialize(instance, ["registry_extract", "cohort",
                                       "excluded_records"]).success
        versions.append(_extract_event(instance).tags["dagster/data_version"])
        ids.append(pl.read_parquet(platform.artifacts / layout.COHORT)["patient_id"].to_list())
    assert versions[0] == versions[1] != alone
    assert ids[0] == ids[1]  # the same set of files: the same pseudonymous ids


def test_newest_mode_takes_only_the_newest_extract(platform, instance, monkeypatch):
    from mh_assets.core import layout
    from mh_assets.core.storage import sha256_file

    landed = _land_second_extract(platform)
    monkeypatch.setenv("MH_EXTRACT_MODE", "newest")
    assert _materialize(instance, ["registry_extract"]).success
    frame = pl.read_parquet(platform.artifacts / layout.EXTRACT)
    assert frame.height == 205 and set(frame["extract_file"]) == {landed.name}
    assert _extract_event(instance).tags["dagster/data_version"] == sha256_file(landed)


def test_all_mode_a_broken_file_among_the_extracts_fails_naming_it(platform, instance):
    header = platform.extract.read_text(encoding="utf-8").splitlines()[0]
    bad = platform.extracts / "RAECMBD_1_20000101-000000.csv"  # the oldest, not the newest
    bad.write_text(header + "\n" + "1,2,3\n", encoding="utf-8")
    result = _materialize(instance, ["registry_extract"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert f"{bad.name}, line 2" in failure.step_failure_data.error.message


def test_the_corpus_asset_writes_what_the_core_builds_from_the_whole_cohort(platform, instance):
    # the asset decodes only one sex's rows and the columns the corpus reads
    from mh_assets.core import layout
    from mh_assets.core.corpus import build_corpus
    from mh_assets.core.icd import DescriptorTable

    assert _materialize(instance, INGEST).success
    restricted = platform.artifacts / "restricted"
    cohort = pl.read_parquet(restricted / "cohort.parquet")
    frame = pl.read_parquet(platform.artifacts / layout.DESCRIPTORS)
    info = json.loads((platform.artifacts / layout.DESCRIPTORS_INFO).read_text())
    table = DescriptorTable(frame=frame, n_codes=frame.height, **info)
    shown = instance.get_latest_materialization_event(
        dg.AssetKey("cohort")).asset_materialization.metadata["patients_per_sex"].value
    for sex in ("female", "male"):
        assert shown[sex] == str(cohort.filter(pl.col("sex") == sex).height)  # >= min_cell
        assert _materialize(instance, ["descriptor_corpus"], partition_key=sex).success
        written = pl.read_parquet(restricted / f"corpus/{sex}.parquet")
        assert written.equals(build_corpus(cohort, table, sex)), sex


def test_a_stray_file_in_the_landing_zone_is_named_with_how_to_set_it_aside(platform,
                                                                            instance):
    stray = platform.extracts / "notes.csv"
    stray.write_text("customer,amount\nx,1\n", encoding="utf-8")
    result = _materialize(instance, ["registry_extract"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "notes.csv" in message and "missing required columns" in message
    assert "move it out of the landing zone" in message and "--extract" in message


def test_a_broken_delivery_is_not_called_a_stray_file(platform, instance):
    header = platform.extract.read_text(encoding="utf-8").splitlines()[0]
    bad = platform.extracts / "RAECMBD_999_29991231-235959.csv"
    bad.write_text(header + "\n" + "1,2,3\n", encoding="utf-8")
    result = _materialize(instance, ["registry_extract"])
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "move it out" not in failure.step_failure_data.error.message


def test_values_set_empty_because_they_did_not_parse_are_said_in_the_log(platform, instance):
    frame = pl.read_csv(platform.extract, infer_schema=False)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) < 2).then(pl.lit("cinco"))
                               .otherwise(pl.col("Estancia Días")).alias("Estancia Días"))
    frame.write_csv(platform.extract)
    result = _materialize(instance, ["registry_extract"])
    assert result.success
    warnings = [e.message for e in instance.all_logs(result.run_id)
                if e.level == logging.WARNING and e.message]
    assert any("did not parse were set empty" in m and "DaysOfStay <10" in m
               for m in warnings), warnings

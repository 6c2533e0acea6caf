"""Red team: what real use does to the platform, and the one sentence it answers with.

Every case is a mistake a user makes or a fault the environment throws; each must end
in one clear sentence naming what is wrong and what to do -- ``mh-assets: ...`` on
stderr with exit code 2 on the command line (1, with the failed stage, for a run that
started), a ``dg.Failure`` description in Dagster -- never a traceback, never a
patient-level value, and never a lost previous output. Add new cases here.

Settings
  * a number that does not parse (``MH_MIN_CELL=ten``), an unknown preset, several bad
    variables at once: the CLI exits 2 with one line per variable, no traceback;
  * the same settings make the Dagster code location fail to load with the same lines.

Command line
  * ``--extract`` naming a file that does not exist, or a folder; an unknown ``--sex``:
    exit 2 with the path or the choices, no traceback.

Extracts
  * empty, header only, binary, a truncated line, missing or duplicated columns, the
    wrong delimiter, UTF-16: registry_extract fails naming the file, never a cell value;
  * an injection payload in a text field is stored as data;
  * an invalid UTF-8 byte after a byte-order mark fails ``registry_extract`` naming
    the line and byte offset of the bad byte, never the line's content;
  * an extract path in run config that does not exist fails naming the path.

Environment faults (the artifacts directory)
  * a full disk (``ENOSPC`` while writing): the asset fails in one sentence and the
    previous output is intact, nothing half-written left behind; ``mh-assets run``
    exits 1 with "Stage ... failed" and that sentence, no stack trace;
  * a read-only artifacts directory (``chmod 0500`` where not root; a refused write
    with ``EROFS`` / ``EACCES`` otherwise): the sentence names the directory and
    ``MH_ARTIFACTS_DIR``;
  * an artifacts subfolder replaced by a file: the sentence names the file; through
    ``mh-assets run`` in a fresh process, exit 1 without a traceback.

Records and partitions
  * impossible records (a negative stay, a discharge before admission, a birth after
    admission) are excluded with their reasons; a malformed secondary code is dropped,
    the record kept;
  * an extract with only female patients: the male partition is skipped with a message,
    the female one completes, and the tables, maps and report build from the sex that
    exists and say which is missing (slow: trains the female model);
  * the same in the UI: a run of the absent sex's partition succeeds as skipped through
    every per-sex asset, writing nothing, and the refresh automation publishes the
    tables, maps and report from the other sex without a click (slow).

Crash recovery (test_recovery.py): a run whose process is gone is failed, its pool slot
freed and its half-written staging removed before the next run starts.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mh_assets.core import layout
from mh_assets.settings import SettingsError
from mh_assets_tests.support.extracts import minimal_extract
from mh_assets_tests.support.faults import (
    chmod_read_only,
    disk_full_error,
    needs_non_root,
    refuse_writes,
)
from mh_assets_tests.support.platform import Platform, make_platform, materialize, use_platform


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    """A landing zone with a 200-row synthetic extract, the environment pointing at it."""
    made = make_platform(tmp_path, patients=200, seed=3)
    use_platform(monkeypatch, made)
    return made


@pytest.fixture
def instance(platform: Platform):
    with dg.instance_for_test(temp_dir=str(platform.home)) as inst:
        yield inst


def _cli(*args: str, root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``mh-assets ...`` in a fresh process, with its own instance and artifacts."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MH_", "DAGSTER_"))},
        "DAGSTER_HOME": str(root / "home"), "MH_ARTIFACTS_DIR": str(root / "artifacts"),
        "MH_EXTRACTS_DIR": str(root / "extracts"), "DAGSTER_DISABLE_TELEMETRY": "yes",
        **env,
    }
    return subprocess.run([sys.executable, "-m", "mh_assets.cli", *args], env=environment,
                          capture_output=True, text=True, timeout=600)


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "Stack Trace" not in text


def _failure(result: dg.ExecuteInProcessResult) -> tuple[str, dict]:
    """The failed step's description (what the UI shows) and its metadata."""
    event = next(e for e in result.all_events if e.is_step_failure)
    data = event.step_failure_data
    assert data.user_failure_data is not None, data.error.message  # a dg.Failure, not a crash
    metadata = {k: v.value for k, v in data.user_failure_data.metadata.items()}
    return data.user_failure_data.description, metadata


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".old")))


# ------------------------------------------------------------------ settings


def test_an_unparsable_number_stops_the_cli_with_one_line_and_exit_2(tmp_path):
    done = _cli("run", root=tmp_path, MH_MIN_CELL="ten")
    assert done.returncode == 2
    assert done.stderr == "mh-assets: MH_MIN_CELL='ten': expected an integer >= 1\n"
    assert done.stdout == ""


def test_an_unknown_preset_stops_the_cli_without_a_traceback(tmp_path):
    done = _cli("lineage", "tables/sud_by_sex.csv", root=tmp_path, MH_PRESET="bogus")
    assert done.returncode == 2
    assert done.stderr == (
        "mh-assets: MH_PRESET='bogus': expected one of demo, minilm, paper, descriptors\n")


def test_every_bad_setting_is_listed_at_once(tmp_path):
    done = _cli("demo", root=tmp_path, MH_MIN_CELL="ten", MH_GPU_SLOTS="0",
                MH_COVERAGE_EXACT="99", MH_CHECK_CRON="daily")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "mh-assets: MH_COVERAGE_EXACT", "mh-assets: MH_MIN_CELL", "mh-assets: MH_GPU_SLOTS",
        "mh-assets: MH_CHECK_CRON"]
    assert "MH_COVERAGE_EXACT='99': expected a number in (0, 1]" in lines[0]
    _no_traceback(done.stderr)
    assert not (tmp_path / "extracts").exists()  # stopped before doing anything


def test_the_code_location_fails_to_load_with_the_same_lines(monkeypatch):
    from mh_assets.definitions import defs

    monkeypatch.setenv("MH_MIN_CELL", "ten")
    monkeypatch.setenv("MH_PRESET", "bogus")
    with pytest.raises(SettingsError) as caught:
        defs()  # what `dagster dev` / `dg check defs` call to load the code location
    assert str(caught.value).splitlines() == [
        "MH_PRESET='bogus': expected one of demo, minilm, paper, descriptors",
        "MH_MIN_CELL='ten': expected an integer >= 1",
    ]


# ------------------------------------------------------------------ command line


def test_a_missing_extract_path_stops_the_cli_with_exit_2(tmp_path):
    missing = tmp_path / "RAECMBD_1_20240101-000000.csv"
    done = _cli("run", "--extract", str(missing), root=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"mh-assets: --extract {missing}: does not exist; ")
    assert "MH_EXTRACTS_DIR" in done.stderr
    _no_traceback(done.stderr)
    done = _cli("run", "--extract", str(tmp_path), root=tmp_path)
    assert done.returncode == 2 and "is a folder, not a file" in done.stderr


def test_missing_paper_weights_stop_the_cli_before_any_run_with_exit_2(tmp_path):
    """Before, the ingest stage ran first and the failed step printed four tracebacks."""
    done = _cli("run", root=tmp_path, MH_PRESET="paper", HF_HOME=str(tmp_path / "hf"))
    assert done.returncode == 2
    assert done.stderr.startswith("mh-assets: pretrained weights for microsoft/deberta-v3-base")
    assert "MH_PAPER_MODEL_DIR" in done.stderr and "the platform never downloads" in done.stderr
    _no_traceback(done.stderr)
    assert not (tmp_path / "home").exists() and not (tmp_path / "artifacts").exists()
    done = _cli("demo", root=tmp_path, MH_PRESET="paper", HF_HOME=str(tmp_path / "hf"))
    assert done.returncode == 2 and "the platform never downloads" in done.stderr
    assert not (tmp_path / "extracts").exists()  # no synthetic extract for a run that cannot go


def test_missing_paper_weights_fail_the_mlm_step_with_the_message_and_no_checkpoint(
        platform, instance, monkeypatch, tmp_path):
    """From the UI there is no preflight: the step fails as the user's problem (a
    dg.Failure, its description the whole message), not as a crash with a traceback."""
    ingest = ["registry_extract", "icd_descriptors", "cohort", "excluded_records"]
    assert materialize(instance, ingest).success
    assert materialize(instance, ["descriptor_corpus"], partition_key="female").success
    monkeypatch.setenv("MH_PRESET", "paper")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    description, _ = _failure(materialize(instance, ["mlm_checkpoint"], partition_key="female"))
    assert "pretrained weights for microsoft/deberta-v3-base" in description
    assert not (platform.artifacts / layout.model_dir("female", "mlm")).exists()


def test_a_dagster_home_that_cannot_be_made_stops_the_cli_with_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = _cli("run", root=tmp_path, DAGSTER_HOME=str(blocker / "home"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"mh-assets: cannot use the Dagster instance in {blocker}")
    assert "point DAGSTER_HOME at a writable folder" in done.stderr
    _no_traceback(done.stderr)


def test_an_empty_landing_zone_stops_the_cli_before_any_run_with_exit_2(tmp_path):
    (tmp_path / "extracts").mkdir()
    done = _cli("run", root=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"mh-assets: {tmp_path / 'extracts'}: no extract found")
    assert "mh-assets synth --patients" in done.stderr
    _no_traceback(done.stderr)
    assert not (tmp_path / "home" / "storage").exists()  # no run was made


def test_an_unknown_sex_stops_the_cli_with_exit_2(tmp_path):
    done = _cli("run", "--sex", "other", root=tmp_path)
    assert done.returncode == 2
    assert "invalid choice: 'other' (choose from 'female', 'male')" in done.stderr
    _no_traceback(done.stderr)


# ------------------------------------------------------------------ extracts


def test_a_bad_byte_after_a_bom_fails_the_extract_with_its_line_and_byte_offset(
    platform, instance
):
    lines = platform.extract.read_bytes().splitlines(keepends=True)
    secret_line = lines[5]
    bad = b"\xef\xbb\xbf" + b"".join(lines[:5]) + secret_line[:3] + b"\xff" + secret_line[4:]
    offset = 3 + len(b"".join(lines[:5])) + 3
    platform.extract.write_bytes(bad + b"".join(lines[6:]))

    description, metadata = _failure(materialize(instance, ["registry_extract"]))
    assert f"line 6 (byte offset {offset})" in description
    assert (metadata["line"], metadata["byte_offset"]) == (6, offset)
    fields = secret_line.decode().strip().split(",")
    assert not [f for f in fields if len(f) >= 6 and f in description]  # no cell value


def test_a_missing_extract_in_run_config_fails_naming_the_path(platform, instance):
    missing = platform.extracts / "RAECMBD_9_20990101-000000.csv"
    result = materialize(instance, ["registry_extract"], run_config={
        "ops": {"registry_extract": {"config": {"extract": str(missing)}}}})
    description, _ = _failure(result)
    assert description.startswith(f"{missing}: no such file; expected the path of an extract")


SECRET = "QX7SECRETVALUE"  # a cell value no message may repeat
_ROW = f"2018,07112001,2,29032018 0000,{SECRET},F29,,"
BROKEN = {
    "empty file": "",
    "header only": minimal_extract().split("\n")[0] + "\n",
    "binary": f"Año,Sexo\n2018,{SECRET}\x00\n",
    "truncated line": minimal_extract(f"2018,07112001,2,29032018 0000,{SECRET},F29"),
    "missing columns": f"Año,Sexo,Diagnóstico Principal\n2018,{SECRET},F29\n",
    "duplicated columns": minimal_extract(_ROW).replace("Diagnóstico 7", "Diagnóstico 2"),
    "wrong delimiter": minimal_extract(_ROW).replace(",", "\t"),
    "UTF-16": minimal_extract(_ROW).encode("utf-16"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_extract_fails_the_asset_naming_the_file_and_never_a_value(
        platform, instance, kind):
    content = BROKEN[kind]
    if isinstance(content, bytes):
        platform.extract.write_bytes(content)
    else:
        platform.extract.write_text(content, encoding="utf-8")
    result = materialize(instance, ["registry_extract"], run_config={
        "ops": {"registry_extract": {"config": {"extract": str(platform.extract)}}}})
    description, metadata = _failure(result)  # a dg.Failure, not a crash
    assert platform.extract.name in description, description
    assert SECRET not in description and SECRET not in str(metadata)
    _no_traceback(description)


def test_an_injection_payload_in_a_text_field_is_data_not_code(platform, instance):
    payload = "=cmd|' /C calc'!A0; DROP TABLE cohort;--<script>alert(1)</script>"
    frame = pl.read_csv(platform.extract, infer_schema=False, encoding="utf8-lossy")
    province = next(c for c in frame.columns if c in ("Provincia", "Province"))
    frame.with_columns(pl.lit(payload).alias(province)).write_csv(platform.extract)
    assert materialize(instance, ["registry_extract", "icd_descriptors", "cohort",
                                  "excluded_records"]).success
    assert (platform.artifacts / layout.COHORT).exists()


# ------------------------------------------------------------------ environment faults


def test_a_full_disk_fails_the_asset_in_one_sentence_and_keeps_the_previous_output(
    platform, instance, monkeypatch
):
    assert materialize(instance, ["registry_extract"]).success
    parsed = platform.artifacts / layout.EXTRACT
    before = parsed.read_bytes()

    def full(self, file, *args, **kwargs):
        Path(file).write_bytes(b"the first megabytes of a parquet file")
        raise disk_full_error(file)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    description, metadata = _failure(materialize(instance, ["registry_extract"]))
    assert description == (
        f"cannot write {parsed}: the disk holding the artifacts directory {platform.artifacts} "
        "is full (or over quota); free space there or point MH_ARTIFACTS_DIR at a disk with "
        "room (the previous outputs are kept)")
    assert metadata == {"path": str(parsed), "storage_problem": "full"}
    assert parsed.read_bytes() == before
    assert _leftovers(platform.artifacts) == []


@pytest.mark.parametrize("how", [
    pytest.param("chmod", marks=needs_non_root), "refused (EROFS)", "refused (EACCES)"])
def test_a_read_only_artifacts_directory_fails_the_asset_in_one_sentence(
    platform, instance, monkeypatch, how
):
    def run() -> str:
        description, _ = _failure(materialize(instance, ["registry_extract"]))
        return description

    if how == "chmod":
        with chmod_read_only(platform.artifacts):
            description = run()
    else:
        refuse_writes(monkeypatch, platform.artifacts,
                      errno.EROFS if "EROFS" in how else errno.EACCES)
        description = run()
    assert description.startswith(f"cannot write {platform.artifacts / layout.EXTRACT}: ")
    assert (f"the artifacts directory {platform.artifacts} is read-only (or not writable by "
            "this user); point MH_ARTIFACTS_DIR at a writable folder") in description


def test_an_artifacts_subfolder_replaced_by_a_file_fails_the_asset_naming_it(
    platform, instance
):
    blocker = platform.artifacts / layout.RESTRICTED
    blocker.write_text("not a folder")
    description, metadata = _failure(materialize(instance, ["registry_extract"]))
    assert f"{blocker} is a file where the artifacts need a folder; move that file away" in (
        description)
    assert metadata["storage_problem"] == "not-a-folder"
    assert blocker.read_text() == "not a folder"


def test_the_cli_run_on_a_blocked_artifacts_folder_exits_1_with_the_stage_and_sentence(
    platform
):
    (platform.artifacts / layout.RESTRICTED).write_text("not a folder")
    done = _cli("run", "--sex", "female", root=platform.extract.parent.parent)
    assert done.returncode == 1
    assert "FAILED: Stage 'ingest' failed" in done.stderr
    assert f"{platform.artifacts / layout.RESTRICTED} is a file where the artifacts need a " \
        "folder" in done.stderr
    _no_traceback(done.stderr)


@needs_non_root
def test_the_cli_run_on_a_read_only_artifacts_directory_exits_1_without_a_traceback(platform):
    with chmod_read_only(platform.artifacts):
        done = _cli("run", "--sex", "female", root=platform.extract.parent.parent)
    assert done.returncode == 1
    assert "point MH_ARTIFACTS_DIR at a writable folder" in done.stderr
    _no_traceback(done.stderr)


def test_the_cli_run_on_a_full_disk_exits_1_with_the_sentence(platform, monkeypatch, capfd):
    from mh_assets.cli import main

    def full(self, file, *args, **kwargs):
        raise disk_full_error(file)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    assert main(["run", "--sex", "female"]) == 1
    err = capfd.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("FAILED: ")]
    assert len(failed) == 1 and "Stage 'ingest' failed" in failed[0]
    assert "is full (or over quota); free space there" in failed[0]
    _no_traceback(err)


# ------------------------------------------------------------------ records and partitions


def _rewrite_extract(platform: Platform, change) -> None:
    """Apply ``change`` (a polars frame -> frame) to the landing zone's extract, as text."""
    frame = pl.read_csv(platform.extract, infer_schema=False, encoding="utf8-lossy")
    change(frame).write_csv(platform.extract)


def test_impossible_records_are_excluded_and_a_bad_secondary_code_dropped(platform,
                                                                           instance):
    def corrupt(frame: pl.DataFrame) -> pl.DataFrame:
        row = pl.int_range(pl.len())
        stay = next(c for c in frame.columns if "estancia" in c.lower() or c == "DaysOfStay")
        second = next(c for c in frame.columns if c in ("Diagnóstico 2", "Diagnosis2"))
        return frame.with_columns(
            pl.when(row == 0).then(pl.lit("-4")).otherwise(pl.col(stay)).alias(stay),
            pl.when(row == 1).then(pl.lit("F12..1")).otherwise(pl.col(second)).alias(second))

    _rewrite_extract(platform, corrupt)
    assert materialize(instance, ["registry_extract", "icd_descriptors", "cohort",
                                  "excluded_records"]).success
    excluded = pl.read_parquet(platform.artifacts / layout.EXCLUDED_RECORDS)
    reasons = dict(zip(excluded["record_number"], excluded["exclusion_reasons"], strict=True))
    assert "negative length of stay" in reasons[1].to_list()
    assert 2 not in reasons  # the record stays, its bad code does not
    cohort = pl.read_parquet(platform.artifacts / layout.COHORT)
    kept = cohort.filter(pl.col("record_number") == 2)
    assert kept.height == 1 and kept["Diagnosis2"][0] is None
    assert kept["dropped_codes"][0].to_list() == ["Diagnosis2: A99..9"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["female-only extract", "--sex female"])
def test_one_sex_runs_and_the_tables_maps_and_report_build_without_the_other(
        tmp_path, monkeypatch, how):
    from mh_assets.defs.schedules import stale_descendants
    from mh_assets.ops.runner import materialize_all
    from mh_assets_tests.support.platform import load_defs

    made = make_platform(tmp_path, patients=260, seed=5, quirks=False)
    use_platform(monkeypatch, made)
    if how == "female-only extract":
        sex = next(c for c in pl.read_csv(made.extract, n_rows=1).columns
                   if c in ("Sexo", "Sex"))
        _rewrite_extract(made, lambda frame: frame.filter(pl.col(sex) == "2"))
    fast = {"ops": {
        "mlm_checkpoint": {"config": {"mlm_epochs": 1}},
        "contrastive_checkpoint": {"config": {"contrastive_epochs": 1}},
        "k_selection": {"config": {"null_cohorts": 5, "n_bootstrap": 10}},
    }}
    messages: list[str] = []
    with dg.instance_for_test(temp_dir=str(made.home)) as instance:  # a fresh instance
        materialize_all(load_defs(), instance, log=messages.append, run_config=fast,
                        sexes=("female",) if how == "--sex female" else ("female", "male"))
        if how == "female-only extract":
            # the male partition is recorded as skipped: the refresh is complete
            assert stale_descendants(instance, load_defs().resolve_asset_graph())[1] == []
    if how == "female-only extract":
        assert "==> partition male skipped: no patients of this sex in the extract" in messages
    artifacts = made.artifacts
    assert (artifacts / layout.model_dir("female", "contrastive")).exists()
    assert not (artifacts / layout.corpus("male")).exists()
    clusters = pl.read_csv(artifacts / "tables" / "clusters.csv")
    assert set(clusters["sex"]) == {"female"}
    assert pl.read_csv(artifacts / "tables" / "cluster_pairs.csv").height == 0
    html = (artifacts / layout.REPORT).read_text()
    expected = ("Male: no patients of this sex in the extract; not analysed."
                if how == "female-only extract" else "Male: no clustering in this run.")
    assert expected in html


def _female_only(platform: Platform) -> None:
    sex = next(c for c in pl.read_csv(platform.extract, n_rows=1).columns if c in ("Sexo", "Sex"))
    _rewrite_extract(platform, lambda frame: frame.filter(pl.col(sex) == "2"))


def _per_sex_keys(defs: dg.Definitions) -> list[str]:
    graph = defs.resolve_asset_graph()
    return sorted(key.to_user_string() for key in graph.get_all_asset_keys()
                  if graph.get(key).partitions_def is not None)


def test_an_absent_sex_succeeds_as_skipped_through_every_per_sex_asset(platform, instance):
    """What the UI or the automation runs for a sex the extract has no patient of: every
    per-sex asset materializes saying so, reads and writes nothing, and its blocking
    checks pass (nothing is held back) while its warning checks warn "not run"."""
    from mh_assets_tests.support.platform import load_defs

    _female_only(platform)
    assert materialize(instance, ["registry_extract", "icd_descriptors", "cohort",
                                  "excluded_records"]).success
    before = sorted(p.relative_to(platform.artifacts) for p in platform.artifacts.rglob("*"))
    keys = _per_sex_keys(load_defs())
    assert len(keys) == 10
    result = materialize(instance, keys, partition_key="male")
    assert result.success
    for key in keys:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        metadata = event.asset_materialization.metadata
        assert event.asset_materialization.partition == "male"
        assert "No patients of this sex in the extract" in metadata["skipped"].value, key
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["descriptor_coverage"].passed  # blocking: nothing to check
    for name in ("corpus_not_empty", "confounder_audit", "subtypes_supported", "clusters_stable"):
        assert not checks[name].passed, name  # not analysed: never shown as healthy
        assert checks[name].severity == dg.AssetCheckSeverity.WARN
        assert "No patients of this sex in the extract" in checks[name].description
    after = sorted(p.relative_to(platform.artifacts) for p in platform.artifacts.rglob("*")
                   if "provenance" not in p.parts)
    assert [p for p in after if p not in before] == []  # nothing written for the absent sex
    import logging

    said = [e.message for e in instance.all_logs(result.run_id)
            if e.level >= logging.INFO and "skipped" in (e.message or "")]
    assert len(said) == 1 and said[0].startswith("male: descriptor_corpus skipped"), said


@pytest.mark.slow
def test_automation_publishes_from_the_one_sex_an_extract_has(tmp_path, monkeypatch):
    """A female-only extract under the UI's automation: tick the refresh conditions and
    run what each tick requests, as the daemon does, until nothing is requested. The
    male partition is skipped all the way down, so the tables, maps and report are built
    (from the female partition) without a click. The descriptors preset keeps it quick."""
    from mh_assets_tests.support.platform import load_defs

    made = make_platform(tmp_path, patients=260, seed=5, quirks=False)
    use_platform(monkeypatch, made)
    monkeypatch.setenv("MH_PRESET", "descriptors")
    _female_only(made)
    defs = load_defs()
    fast = {"ops": {"k_selection": {"config": {"null_cohorts": 5, "n_bootstrap": 10}}}}
    built: set[tuple[str, str | None]] = set()
    with dg.instance_for_test(temp_dir=str(made.home)) as instance:
        # the automation sensor has ticked on the empty instance before the extract lands
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        assert materialize(instance, ["registry_extract", "icd_descriptors"], defs=defs).success
        for _ in range(8):
            tick = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                     cursor=cursor)
            cursor = tick.cursor
            requested: dict[str | None, list[str]] = {}
            for key in defs.resolve_asset_graph().get_all_asset_keys():
                for partition in tick.get_requested_partitions(key):
                    requested.setdefault(partition, []).append(key.to_user_string())
            if not requested:
                break
            for partition, keys in requested.items():
                config = fast if "k_selection" in keys else None
                assert materialize(instance, keys, partition, config, defs=defs).success, keys
                built |= {(key, partition) for key in keys}
        else:
            pytest.fail("the automation kept requesting runs")
    assert {("study_report", None), ("cluster_maps", None), ("mlm_checkpoint", "male"),
            ("cluster_profiles", "female")} <= built
    html = (made.artifacts / layout.REPORT).read_text()
    assert "Male: no patients of this sex in the extract; not analysed." in html
    assert "Male and female cluster pairs (none: male not analysed in this run)" in html
    assert html.count("(no male patients in this extract: nothing to compare)") >= 2  # S1, S5
    assert set(pl.read_csv(made.artifacts / "tables" / "clusters.csv")["sex"]) == {"female"}

"""Settings from the environment: every invalid value named at once, one line each.

A line says the variable, the value as given and what is expected (the type and the
allowed values), so one fix-and-retry clears every typo.
"""

from __future__ import annotations

import pytest

from mh_assets.settings import Settings, SettingsError, valid_cron


def _problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value).splitlines() == list(caught.value.problems)
    return list(caught.value.problems)


def test_a_number_that_does_not_parse_names_the_variable_value_and_type():
    assert _problems({"MH_MIN_CELL": "ten"}) == ["MH_MIN_CELL='ten': expected an integer >= 1"]
    with pytest.raises(ValueError):  # a SettingsError is a ValueError, as before
        Settings.from_env({"MH_MIN_CELL": "ten"})


def test_every_invalid_variable_is_reported_at_once_one_line_each():
    problems = _problems({
        "MH_MIN_CELL": "ten", "MH_PRESET": "bogus", "MH_GPU_SLOTS": "0",
        "MH_EXECUTOR": "slurm", "MH_CHECK_CRON": "0 6 * *",
    })
    assert problems == [
        "MH_PRESET='bogus': expected one of demo, minilm, paper, descriptors",
        "MH_EXECUTOR='slurm': expected one of multiprocess, k8s",
        "MH_MIN_CELL='ten': expected an integer >= 1",
        "MH_GPU_SLOTS='0': expected an integer >= 1",
        "MH_CHECK_CRON='0 6 * *': expected a cron expression of 5 fields (minute hour "
        "day-of-month month day-of-week), e.g. '0 6 * * *'",
    ]


@pytest.mark.parametrize("variable,value,expected", [
    ("MH_MIN_CELL", "0", "an integer >= 1"),
    ("MH_MIN_CELL", "10.5", "an integer >= 1"),
    ("MH_GPU_SLOTS", "-1", "an integer >= 1"),
    ("MH_COVERAGE_EXACT", "0", "a number in (0, 1]"),
    ("MH_COVERAGE_EXACT", "1.01", "a number in (0, 1]"),
    ("MH_COVERAGE_EXACT", "nan", "a number in (0, 1]"),
    ("MH_COVERAGE_WITH_ANCESTORS", "99.9%", "a number in (0, 1]"),
    ("MH_SEED", "-1", "an integer from 0 to 4294967295"),
    ("MH_SEED", "4294967296", "an integer from 0 to 4294967295"),
    ("MH_SENSOR_INTERVAL_SECONDS", "0", "an integer number of seconds >= 1"),
    ("MH_REFRESH_GRACE_HOURS", "-2", "a number of hours > 0"),
    ("MH_REFRESH_GRACE_HOURS", "inf", "a number of hours > 0"),
    ("MH_CHECK_CRON", "every day", "a cron expression of 5 fields"),
    ("MH_CHECK_CRON", "0 6 30 2 *", "a cron expression of 5 fields"),
    ("MH_EXTRACT_MODE", "latest", "one of all, newest"),
])
def test_a_value_out_of_range_names_what_is_allowed(variable, value, expected):
    (problem,) = _problems({variable: value})
    assert problem.startswith(f"{variable}={value!r}: expected {expected}")


def test_a_missing_descriptor_file_is_named(tmp_path):
    missing = tmp_path / "icd10cm-codes-2026.txt"
    (problem,) = _problems({"MH_DESCRIPTOR_SOURCE": str(missing)})
    assert problem.startswith(f"MH_DESCRIPTOR_SOURCE={str(missing)!r}: expected ")
    assert "simple-icd-10-cm" in problem
    missing.write_text("F1210 Cannabis abuse, uncomplicated\n")
    assert Settings.from_env({"MH_DESCRIPTOR_SOURCE": str(missing)}).descriptor_source == str(
        missing)


def test_boundaries_spaces_and_empty_values_are_accepted():
    settings = Settings.from_env({
        "MH_MIN_CELL": " 1 ", "MH_GPU_SLOTS": "1", "MH_COVERAGE_EXACT": "1",
        "MH_COVERAGE_WITH_ANCESTORS": "1e-3", "MH_SEED": "0", "MH_PRESET": "",
        "MH_SENSOR_INTERVAL_SECONDS": "1", "MH_REFRESH_GRACE_HOURS": "0.5",
        "MH_CHECK_CRON": "*/15 6-18 * * mon-fri", "MH_EXECUTOR": "k8s",
    })
    assert (settings.min_cell, settings.gpu_slots, settings.seed) == (1, 1, 0)
    assert (settings.coverage.exact, settings.coverage.with_ancestors) == (1.0, 0.001)
    assert settings.preset == "demo"  # empty counts as unset
    assert settings.check_cron == "*/15 6-18 * * mon-fri" and settings.executor == "k8s"
    assert settings.refresh_grace_hours == 0.5


def test_extract_mode_defaults_to_all_and_accepts_newest():
    assert Settings.from_env({}).extract_mode == "all"
    assert Settings.from_env({"MH_EXTRACT_MODE": " newest "}).extract_mode == "newest"
    with pytest.raises(SettingsError, match="MH_EXTRACT_MODE='every'"):
        Settings(extract_mode="every")


def test_settings_built_in_code_are_checked_the_same_way():
    with pytest.raises(SettingsError, match=r"^MH_MIN_CELL=0: expected an integer >= 1$"):
        Settings(min_cell=0)
    with pytest.raises(SettingsError, match="MH_EXECUTOR='slurm'"):
        Settings(executor="slurm")


@pytest.mark.parametrize("expression", [
    "0 6 * * *", "*/15 * * * *", "5/15 * * * *", "0 */6 * * *", "0 6 * * mon-fri",
    "0 6 * * fri-mon", "0 0 1 jan *", "0 6 29 2 *", "0 6 30,31 2 *", "1-5/2 * * * *",
    "0 6 * * 7", "0 6 L * *", "0 6 * * 5#2", "@daily", "@HOURLY", " 0 6 * * * ",
    "60 * * * *", "* 24 * * *", "0 6 0 * *", "0 6 * 13 *", "0 6 * * 8", "0 6 30 2 *",
    "0 6 31 feb *", "*/0 * * * *", "0 6 * *", "0 6 * * * *", "@reboot", "bogus",
    "a b c d e", "0 6 * * 1L", "0 6 * * 0#6",
])
def test_the_cron_check_agrees_with_dagster(expression):
    from dagster._utils.schedules import is_valid_cron_string

    assert valid_cron(expression) is is_valid_cron_string(expression.strip())


def test_provenance_reads_an_unset_value_and_a_list_alike_in_the_ui_and_the_report():
    """The settings' metadata (the UI) and the report's provenance table write values
    through one function: "not set", never None or an empty cell; lists without a repr."""
    from mh_assets.core.publish.report import flatten

    metadata = Settings().as_metadata()
    assert metadata["cohort.age_max"] == "not set"
    assert metadata["cohort.sud_blocks"].startswith("F10, F11, ")
    nested = {"settings": {"age_max": None, "sud_blocks": ("F10", "F11")}}
    assert dict(flatten(nested)) == {"settings.age_max": "not set",
                                     "settings.sud_blocks": "F10, F11"}

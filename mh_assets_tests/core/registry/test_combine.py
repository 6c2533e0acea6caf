"""Extracts that add up: two deliveries of different years read as one frame."""

from __future__ import annotations

import polars as pl
import pytest

from mh_assets.core.registry import (
    EXTRACT_FILE,
    ExtractFormatError,
    ExtractInfo,
    combine_extracts,
    combined_digest,
    read_extract,
)
from mh_assets.core.schema import RECORD_NUMBER
from mh_assets.core.storage import sha256_file
from mh_assets_tests.support.extracts import minimal_extract

EARLY = "RAECMBD_1_20210101-000000.csv"  # 2016-2020
LATE = "RAECMBD_1_20240101-000000.csv"  # 2021-2023, re-delivering one 2020 episode
OVERLAP = "2020,20022005,2,01032020 0000,05032020 0000,F32.9,,"
EARLY_ROWS = (
    "2016,07112001,2,29032016 0000,02042016 0000,F12.288,F10.10,",
    "2018,01012003,1,15012018 0000,20012018 0000,F29,,",
    OVERLAP,
)
LATE_ROWS = (
    "2021,01012007,2,01012021 0000,02012021 0000,F29,,",
    OVERLAP,  # the same episode as in the earlier delivery
    "2023,01012008,1,01062023 0000,09062023 0000,F10.10,,F1210",
)


@pytest.fixture
def two_years(write_extract):
    late = write_extract(minimal_extract(*LATE_ROWS), LATE)
    early = write_extract(minimal_extract(*EARLY_ROWS), EARLY)
    return early, late


def test_two_extracts_of_different_years_add_up_and_the_shared_episode_is_dropped_once(
    two_years,
):
    early, late = two_years
    frame, combined = combine_extracts([late, early])  # order given does not matter
    assert sorted(frame["Year"].to_list()) == [2016, 2018, 2020, 2021, 2023]
    assert combined.duplicates == 1 and combined.info.rows == frame.height == 5
    assert [(f.file_name, f.rows, f.rows_kept, f.duplicates) for f in combined.files] == [
        (EARLY, 3, 3, 0), (LATE, 3, 2, 1)]


def test_each_row_names_its_file_and_record_numbers_run_over_the_combined_frame(two_years):
    frame, _ = combine_extracts(list(two_years))
    assert frame[RECORD_NUMBER].to_list() == [1, 2, 3, 4, 5]
    assert frame[EXTRACT_FILE].to_list() == [EARLY] * 3 + [LATE] * 2
    assert frame["Year"].to_list() == [2016, 2018, 2020, 2021, 2023]  # file order, rows in order


def test_the_digest_is_the_same_for_the_same_set_and_changes_when_a_file_is_added(
    two_years, write_extract
):
    early, late = two_years
    _, both = combine_extracts([early, late])
    _, again = combine_extracts([late, early])
    assert both.sha256 == again.sha256 == combined_digest(
        [(LATE, sha256_file(late)), (EARLY, sha256_file(early))])
    _, alone = combine_extracts([early])
    assert alone.sha256 == sha256_file(early) != both.sha256  # one file: its own sha256
    third = write_extract(minimal_extract("2023,01012009,2,01012023 0000,02012023 0000,F29,,"),
                          "RAECMBD_1_20250101-000000.csv")
    _, three = combine_extracts([early, late, third])
    assert three.sha256 not in (both.sha256, alone.sha256)


def test_the_combined_info_loads_as_an_extract_info_and_lists_every_file(two_years):
    import json

    early, late = two_years
    _, combined = combine_extracts(list(two_years))
    info = ExtractInfo.from_json(combined.info.to_json())
    assert info.file_name == f"2 extracts: {EARLY}, {LATE}"
    assert (info.sha256, info.rows) == (combined.sha256, 5)
    assert info.header_language == read_extract(early)[1].header_language
    files = json.loads(combined.files_json())
    assert files["duplicates_dropped"] == 1 and files["sha256"] == combined.sha256
    assert [(f["file_name"], f["sha256"]) for f in files["files"]] == [
        (EARLY, sha256_file(early)), (LATE, sha256_file(late))]


def test_a_row_repeated_inside_one_file_is_kept(write_extract):
    path = write_extract(minimal_extract(OVERLAP, OVERLAP), EARLY)
    frame, combined = combine_extracts([path])
    assert frame.height == 2 and combined.duplicates == 0


def test_a_file_level_problem_in_either_file_names_that_file(two_years, write_extract):
    broken = write_extract(minimal_extract("2022,1,2,3"), "RAECMBD_1_20230101-000000.csv")
    with pytest.raises(ExtractFormatError) as raised:
        combine_extracts([*two_years, broken])
    assert raised.value.file == broken.name and "line 2" in str(raised.value)


def test_files_with_different_extra_columns_combine(write_extract, two_years):
    early, _ = two_years
    extra = write_extract(
        minimal_extract("2022,01012007,2,01012022 0000,02012022 0000,F29,,")
        .replace("Diagnóstico 7\n", "Diagnóstico 7,Hospital\n").replace(",,\n", ",,,H1\n"),
        "RAECMBD_1_20230101-000000.csv")
    frame, combined = combine_extracts([early, extra])
    unknown = [c for c in frame.columns if c not in read_extract(early)[0].columns
               and c != EXTRACT_FILE]
    assert frame.height == 4 and len(unknown) == 1
    assert frame.filter(pl.col(EXTRACT_FILE) == EARLY)[unknown[0]].null_count() == 3


def test_a_third_file_is_compared_with_the_episodes_of_both_earlier_ones(two_years,
                                                                         write_extract):
    # the last file's own episodes are never needed (no later file), the earlier ones are
    early, late = two_years
    third = write_extract(minimal_extract(EARLY_ROWS[0], LATE_ROWS[0],
                                          "2023,01012009,2,01012023 0000,02012023 0000,F29,,"),
                          "RAECMBD_1_20250101-000000.csv")
    frame, combined = combine_extracts([early, late, third])
    assert [(f.rows, f.rows_kept, f.duplicates) for f in combined.files] == [
        (3, 3, 0), (3, 2, 1), (3, 1, 2)]
    assert frame.height == 6 and combined.duplicates == 3
    assert frame[RECORD_NUMBER].to_list() == [1, 2, 3, 4, 5, 6]

"""The cohort selection: every rule, every reason kept, hand-counted flows, stable pseudonyms."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

import numpy as np
import polars as pl
import pytest

from mh_assets.core.cohort import pseudonymous_ids, select_cohort
from mh_assets.core.registry import read_extract
from mh_assets.core.schema import (
    AGE,
    EXCLUSION_REASONS,
    PATIENT_ID,
    QUALITY_FLAGS,
    RECORD_NUMBER,
    ROW_ISSUES,
    SEX,
)
from mh_assets.settings import CohortRules
from mh_assets_tests.support.extracts import minimal_extract

DEFAULT = CohortRules()
AFTER_END = "admission after 2020-03-15 23:59"

# Six discharges, one behaviour each (columns: Año, Fecha de nacimiento, Sexo,
# Fecha de Ingreso, Fecha de Fin Contacto, Diagnóstico Principal, Diagnóstico 2, Diagnóstico 7).
SIX_ROWS = minimal_extract(
    "2018,07112001,2,29032018 0000,02042018 0000,F12.288,F10.10,",  # 1 kept, female
    "2019,01012003,1,15012019 0000,20012019 0000,F29,,",  # 2 kept, male
    "2020,20022005,2,16032020 0000,20032020 0000,F32.9,,",  # 3 female, admitted too late
    "2018,07112001,9,29032018 0000,02042018 0000,K35.80,,",  # 4 unknown sex, not chapter F
    "2018,07112001,1,,02042018 0000,F29,,",  # 5 male, no admission date
    "2018,07112001,1,29032018 0000,02042018 0000,F29,BAD!,",  # 6 male, malformed code
)


@pytest.fixture
def extract(write_extract):
    def read(text: str = SIX_ROWS) -> pl.DataFrame:
        return read_extract(write_extract(text))[0]

    return read


def reasons_by_record(selection) -> dict[int, list[str]]:
    return dict(
        zip(
            selection.excluded[RECORD_NUMBER].to_list(),
            selection.excluded[EXCLUSION_REASONS].to_list(),
            strict=True,
        )
    )


def test_each_default_rule_excludes_with_its_reason(extract):
    selection = select_cohort(extract(), DEFAULT, "key")
    # 6 lost its malformed secondary code, not the record
    assert selection.cohort[RECORD_NUMBER].to_list() == [1, 2, 6]
    assert reasons_by_record(selection) == {
        3: [AFTER_END],
        4: ["sex not 1/2", "principal diagnosis not in chapter F"],
        5: ["admission date missing or unparsable"],
    }


def test_a_parse_issue_no_rule_restates_stays_a_reason_of_its_own(extract):
    text = minimal_extract("2018,notadate,1,29032018 0000,02042018 0000,F29,,")
    selection = select_cohort(extract(text), DEFAULT, "key")
    assert reasons_by_record(selection)[1][0] == "DateOfBirth unparsable"
    assert "DateOfBirth unparsable" in selection.flow["step"].to_list()


def test_flow_counts_every_reason_by_sex(extract):
    flow = select_cohort(extract(), DEFAULT, "key").flow
    assert flow.schema == {
        "step": pl.String, "female": pl.Int64, "male": pl.Int64, "unknown": pl.Int64,
        "total": pl.Int64,
    }  # fmt: skip
    assert flow.rows() == [
        ("read", 2, 3, 1, 6),
        ("sex not 1/2", 0, 0, 1, 1),  # one row each, not also "Sex unknown"
        ("admission date missing or unparsable", 0, 1, 0, 1),
        (AFTER_END, 1, 0, 0, 1),
        *[(impossible, 0, 0, 0, 0) for impossible in IMPOSSIBLE],  # every rule shows
        ("principal diagnosis not in chapter F", 0, 0, 1, 1),
        ("excluded (any reason)", 1, 1, 1, 3),
        ("kept", 1, 2, 0, 3),
        ("kept, a Diagnosis2 code dropped (not ICD-10-shaped)", 0, 1, 0, 1),
    ]


# The plausible-age exclusion off, for tests of the other age rules.
ANY_AGE = replace(DEFAULT, plausible_age_min=0, plausible_age_max=150)
IMPOSSIBLE = ("negative length of stay", "discharge before admission", "birth after admission",
              "age at admission outside 11-19")


def test_impossible_records_are_excluded_with_their_reason(extract):
    frame = extract().with_columns(
        pl.when(pl.col(RECORD_NUMBER) == 1).then(-3).otherwise(pl.col("DaysOfStay"))
        .alias("DaysOfStay"),
        pl.when(pl.col(RECORD_NUMBER) == 2).then(pl.col("AdmissionDate") - pl.duration(days=9))
        .otherwise(pl.col("ContactEndDate")).alias("ContactEndDate"),
    )
    selection = select_cohort(frame, DEFAULT, "key")
    reasons = reasons_by_record(selection)
    assert reasons[1] == ["negative length of stay"]
    assert reasons[2] == ["discharge before admission"]
    assert not {1, 2} & set(selection.cohort[RECORD_NUMBER].to_list())


def test_a_birth_after_admission_or_an_implausible_age_is_excluded_not_flagged(extract):
    frame = extract().with_columns(
        pl.when(pl.col(RECORD_NUMBER) == 1)
        .then(pl.col("AdmissionDate").dt.date() + pl.duration(days=400))
        .when(pl.col(RECORD_NUMBER) == 2)
        .then(pl.col("AdmissionDate").dt.date() - pl.duration(days=365 * 40))
        .otherwise(pl.col("DateOfBirth")).alias("DateOfBirth"))
    selection = select_cohort(frame, DEFAULT, "key")
    reasons = reasons_by_record(selection)
    assert reasons[1] == ["birth after admission", "age at admission outside 11-19"]
    assert reasons[2] == ["age at admission outside 11-19"]
    wider = select_cohort(frame, replace(DEFAULT, plausible_age_max=60), "key")
    assert 2 in wider.cohort[RECORD_NUMBER].to_list()


def test_admission_start_excludes_earlier_admissions(extract):
    rules = replace(DEFAULT, admission_start=datetime(2019, 1, 1))
    selection = select_cohort(extract(), rules, "key")
    assert selection.cohort[RECORD_NUMBER].to_list() == [2]
    assert "admission before 2019-01-01 00:00" in reasons_by_record(selection)[1]
    assert "admission before 2019-01-01 00:00" in selection.flow["step"].to_list()


def test_admission_end_is_a_setting(extract):
    rules = replace(DEFAULT, admission_end=datetime(2020, 12, 31, 23, 59))
    selection = select_cohort(extract(), rules, "key")
    assert selection.cohort[RECORD_NUMBER].to_list() == [1, 2, 3, 6]


def test_principal_chapter_is_a_setting(extract):
    selection = select_cohort(extract(), replace(DEFAULT, principal_chapter="K"), "key")
    assert "principal diagnosis not in chapter K" in reasons_by_record(selection)[1]
    assert "principal diagnosis not in chapter K" not in reasons_by_record(selection)[4]


def test_age_window_excludes_outside_ages_and_unknown_ages(extract):
    text = minimal_extract(
        "2018,01012008,2,01012018 0000,02012018 0000,F29,,",  # 10
        "2018,01012007,2,01012018 0000,02012018 0000,F29,,",  # 11
        "2018,01012000,2,01012018 0000,02012018 0000,F29,,",  # 18
        "2018,31121999,2,01012018 0000,02012018 0000,F29,,",  # 18, born a day earlier
        "2018,01011999,2,01012018 0000,02012018 0000,F29,,",  # 19
    )
    rules = replace(ANY_AGE, age_min=11, age_max=18)
    selection = select_cohort(extract(text), rules, "key")
    assert selection.cohort[RECORD_NUMBER].to_list() == [2, 3, 4]
    assert reasons_by_record(selection) == {1: ["age outside 11-18"], 5: ["age outside 11-18"]}
    only_min = select_cohort(extract(text), replace(ANY_AGE, age_min=11), "key")
    assert reasons_by_record(only_min) == {1: ["age outside 11+"]}


def test_sud_requirement_looks_in_every_diagnosis_field(extract):
    text = minimal_extract(
        "2018,07112001,2,29032018 0000,02042018 0000,F10.10,,",  # alcohol, principal
        "2018,07112001,2,29032018 0000,02042018 0000,F29,,F1210",  # cannabis, Diagnosis7
        "2018,07112001,2,29032018 0000,02042018 0000,F29,F20.9,",  # no SUD code
    )
    selection = select_cohort(extract(text), replace(DEFAULT, require_sud_code=True), "key")
    assert selection.cohort[RECORD_NUMBER].to_list() == [1, 2]
    assert reasons_by_record(selection) == {3: ["no code in F10-F19"]}


def test_a_row_carries_every_reason_that_applies(extract):
    text = minimal_extract("2021,01012000,3,01012021 0000,02012021 0000,J45.909,ZZZ.ZZZS,x")
    rules = replace(ANY_AGE, age_max=18, require_sud_code=True)
    selection = select_cohort(extract(text), rules, "key")
    assert reasons_by_record(selection) == {
        1: [
            "sex not 1/2",
            AFTER_END,
            "principal diagnosis not in chapter F",
            "age outside 0-18",
            "no code in F10-F19",
        ]
    }
    flow = dict(zip(selection.flow["step"], selection.flow["total"], strict=True))
    assert flow["excluded (any reason)"] == 1 and flow["kept"] == 0
    assert all(flow[r] == 1 for r in reasons_by_record(selection)[1])


def test_age_at_admission_turns_on_the_birthday(extract):
    text = minimal_extract(
        "2018,15062002,2,14062018 2359,20062018 0000,F29,,",
        "2018,15062002,2,15062018 0000,20062018 0000,F29,,",
        "2017,29022004,2,28022017 0000,02032017 0000,F29,,",
        "2017,29022004,2,01032017 0000,02032017 0000,F29,,",
    )
    cohort = select_cohort(extract(text), DEFAULT, "key").cohort
    assert cohort[AGE].to_list() == [15, 16, 12, 13]
    assert cohort.schema[AGE] == pl.Int16


def test_implausible_values_are_flagged_and_counted_but_kept(extract):
    text = minimal_extract(
        "2009,01012010,2,01012009 0000,05012009 0000,F29,,",  # admitted before birth
        "2019,01012004,1,01012010 0000,05012019 0000,F29,,",  # 9 years before discharge year
        "2019,01012004,1,01012017 0000,05012019 0000,F29,,",  # 2 years: plausible
        "2019,01012000,2,30122018 0000,02012019 0000,F29,,",  # 19 at discharge
        "2018,01012000,2,30122018 0000,31122018 0000,F29,,",  # 18 at discharge: plausible
    )
    selection = select_cohort(extract(text), ANY_AGE, "key")
    assert selection.flag_counts == {
        "admission more than 2 years before discharge year": 1,
        "age over 18 at discharge": 1,
    }
    assert selection.cohort[QUALITY_FLAGS].to_list() == [
        ["admission more than 2 years before discharge year"],
        [],
        ["age over 18 at discharge"],
        [],
    ]
    negative_age = "age at admission outside 0-150"  # born after admission: age below 0
    assert reasons_by_record(selection) == {1: ["birth after admission", negative_age]}


def test_implausible_values_can_be_excluded(extract):
    text = minimal_extract(
        "2009,01012010,2,01012009 0000,05012009 0000,F29,,",
        "2019,01012004,1,01012017 0000,05012019 0000,F29,,",
        "2019,01012000,2,30122018 0000,02012019 0000,F29,,",
    )
    rules = replace(ANY_AGE, exclude_implausible=True, max_years_before_discharge=1)
    selection = select_cohort(extract(text), rules, "key")
    assert selection.cohort.height == 0
    assert reasons_by_record(selection) == {
        1: ["birth after admission", "age at admission outside 0-150"],
        2: ["admission more than 1 years before discharge year"],
        3: ["age over 18 at discharge"],
    }
    assert selection.flow.filter(pl.col("step") == "birth after admission")["total"].item() == 1


def test_output_columns_and_sex_labels(extract):
    source = extract()
    selection = select_cohort(source, DEFAULT, "key")
    cohort, excluded = selection.cohort, selection.excluded
    assert cohort.columns[:2] == [RECORD_NUMBER, PATIENT_ID]
    assert ROW_ISSUES not in cohort.columns
    assert cohort.columns[-3:] == [SEX, AGE, QUALITY_FLAGS]
    assert set(source.columns) <= set(excluded.columns)
    assert excluded.columns[-1] == EXCLUSION_REASONS
    assert cohort[SEX].to_list() == ["female", "male", "male"]
    assert excluded.filter(pl.col(RECORD_NUMBER) == 4)[SEX].item() is None
    assert cohort.height + excluded.height == source.height


def test_reasons_carry_no_cell_values(extract):
    selection = select_cohort(extract(), DEFAULT, "key")
    reasons = " ".join(selection.flow["step"].to_list())
    for value in ("K35.80", "BAD!", "07112001", "16032020"):
        assert value not in reasons


def test_ids_are_stable_for_the_same_extract_and_key(extract):
    first = select_cohort(extract(), DEFAULT, "sha-a")
    again = select_cohort(extract(), DEFAULT, "sha-a")
    other = select_cohort(extract(), DEFAULT, "sha-b")
    assert first.cohort[PATIENT_ID].to_list() == again.cohort[PATIENT_ID].to_list()
    assert set(first.cohort[PATIENT_ID]).isdisjoint(set(other.cohort[PATIENT_ID]))
    assert all(re.fullmatch(r"p[0-9a-f]{16}", i) for i in first.excluded[PATIENT_ID])


def test_ids_do_not_depend_on_birth_date_or_place(extract):
    plain = select_cohort(extract(), DEFAULT, "key").cohort
    moved = extract().with_columns(
        pl.col("DateOfBirth").dt.offset_by("1y"), pl.lit("28").alias("Province")
    )
    assert select_cohort(moved, DEFAULT, "key").cohort[PATIENT_ID].equals(plain[PATIENT_ID])


def test_ids_never_collide_for_distinct_rows():
    records = np.arange(1, 200_001, dtype=np.int64)
    ids = pseudonymous_ids(records, "0" * 64)
    assert ids.dtype == pl.String and ids.len() == records.size
    assert ids.n_unique() == records.size
    assert ids[0] == pseudonymous_ids(np.array([1]), "0" * 64)[0]

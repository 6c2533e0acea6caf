"""Supplementary Table 1 (SUD by sex), the descriptives and the table writers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mh_assets.core.publish import descriptives, preview, sud_table, writers
from mh_assets.core.publish.suppression import SECONDARY_MARK
from mh_assets.core.schema import DIAGNOSIS_COLUMNS

# Distinctive patient-level values planted in the cohort; no published output may show them.
from mh_assets_tests.support.cohorts import (
    PLANTED_ID,
    PLANTED_STAY,
    planted_values_in,
    synthetic_cohort,
)


def test_the_leak_check_finds_planted_values_and_ignores_longer_numbers():
    assert planted_values_in(f"x {PLANTED_STAY}.0 y") and planted_values_in("cost 987654.32")
    assert planted_values_in(b"9.87654e+05") and planted_values_in(PLANTED_ID.encode())
    assert not planted_values_in("0.7777777777777778 17777 9876543 0.987654")

@pytest.fixture(scope="module")
def cohort() -> pl.DataFrame:
    return synthetic_cohort()


def _expected_counts(cohort: pl.DataFrame) -> tuple[dict, dict]:
    """Plain-Python count: patients with a code of each block in any field, by sex."""
    patients: dict[tuple[str, str], set[str]] = {}
    sex_patients: dict[str, set[str]] = {"female": set(), "male": set()}
    for row in cohort.iter_rows(named=True):
        sex_patients[row["sex"]].add(row["patient_id"])
        for col in DIAGNOSIS_COLUMNS:
            code = row[col]
            if code is None:
                continue
            block = code.strip().upper()[:3]
            patients.setdefault((block, row["sex"]), set()).add(row["patient_id"])
    counts = {key: len(ids) for key, ids in patients.items()}
    return counts, {s: len(ids) for s, ids in sex_patients.items()}


def test_sud_table_counts_percentages_and_p_values_match_an_independent_count(cohort):
    table = sud_table.sud_by_sex(cohort)
    counts, n_sex = _expected_counts(cohort)
    n_all = n_sex["male"] + n_sex["female"]
    assert table.columns == list(sud_table.SUD_COLUMNS)
    for row in table.iter_rows(named=True):
        male = counts.get((row["icd10_block"], "male"), 0)
        female = counts.get((row["icd10_block"], "female"), 0)
        assert (row["male_n"], row["female_n"], row["total"]) == (male, female, male + female)
        assert row["rate_pct"] == pytest.approx(100 * (male + female) / n_all, rel=1e-12)
        assert row["male_pct"] == pytest.approx(100 * male / n_sex["male"], rel=1e-12)
        assert row["female_pct"] == pytest.approx(100 * female / n_sex["female"], rel=1e-12)
        direct = stats.chi2_contingency(
            [[male, n_sex["male"] - male], [female, n_sex["female"] - female]]
        ).pvalue
        assert row["p_value"] == pytest.approx(direct, rel=1e-12)
        assert round(row["p_value"], 4) == round(direct, 4)


def test_sud_rates_carry_wilson_cis_of_their_own_counts_and_keep_their_values(cohort):
    from mh_assets.core.publish.intervals import wilson_interval

    table = sud_table.sud_by_sex(cohort)
    _, n_sex = _expected_counts(cohort)
    denominators = {"rate": n_sex["male"] + n_sex["female"], "male": n_sex["male"],
                    "female": n_sex["female"]}
    counts = {"rate": "total", "male": "male_n", "female": "female_n"}
    for row in table.iter_rows(named=True):
        for prefix, d in denominators.items():
            low, high = wilson_interval(row[counts[prefix]], d)
            assert row[f"{prefix}_ci_low"] == pytest.approx(100 * float(low))
            assert row[f"{prefix}_ci_high"] == pytest.approx(100 * float(high))
            rate = row["rate_pct" if prefix == "rate" else f"{prefix}_pct"]
            assert row[f"{prefix}_ci_low"] <= rate <= row[f"{prefix}_ci_high"]
    published = sud_table.publish_sud_by_sex(table)
    shown = published.filter(pl.col("total") != "<10").row(0, named=True)
    raw = table.filter(pl.col("group") == shown["group"]).row(0, named=True)
    assert shown["rate_ci"] == f"{raw['rate_ci_low']:.2f}–{raw['rate_ci_high']:.2f}"
    assert shown["rate_pct"] == f"{raw['rate_pct']:.2f}"


def test_a_patient_with_two_admissions_counts_once_per_block():
    base = {c: None for c in DIAGNOSIS_COLUMNS}
    cohort = pl.DataFrame(
        [
            {**base, "patient_id": "a", "sex": "male", "PrincipalDiagnosis": "F12.10",
             "Diagnosis2": "F12.259"},
            {**base, "patient_id": "a", "sex": "male", "PrincipalDiagnosis": "F12.20"},
            {**base, "patient_id": "b", "sex": "female", "Diagnosis20": "f14.1"},
            {**base, "patient_id": "c", "sex": "female", "PrincipalDiagnosis": "XF12"},
        ],
        schema={"patient_id": pl.String, "sex": pl.String,
                **{c: pl.String for c in DIAGNOSIS_COLUMNS}},
    )
    table = sud_table.sud_by_sex(cohort)
    cannabis = table.filter(pl.col("icd10_block") == "F12").row(0, named=True)
    cocaine = table.filter(pl.col("icd10_block") == "F14").row(0, named=True)
    assert (cannabis["male_n"], cannabis["female_n"]) == (1, 0)
    assert cannabis["male_pct"] == 100.0
    assert (cocaine["female_n"], cocaine["female_pct"]) == (1, 50.0)


def test_study_groups_are_sorted_by_rate_and_alcohol_and_nicotine_come_last_as_additions(cohort):
    table = sud_table.sud_by_sex(cohort)
    study = table.filter(~pl.col("addition"))
    assert sorted(study["icd10_block"].to_list()) == [b for b, _ in sud_table.SUD_GROUPS]
    assert study["rate_pct"].to_list() == sorted(study["rate_pct"].to_list(), reverse=True)
    assert table["addition"].to_list() == [False] * 8 + [True, True]
    assert set(table["icd10_block"].to_list()[8:]) == {"F10", "F17"}


def test_published_sud_table_hides_small_cells_their_percentages_and_p_values():
    table = pl.DataFrame({
        "group": ["Cannabis", "Hallucinogens"], "icd10_block": ["F12", "F16"],
        "total": [405, 16], "rate_pct": [67.5, 2.6667], "male_n": [234, 13],
        "male_pct": [65.92, 3.66], "female_n": [171, 3], "female_pct": [69.8, 1.22],
        "p_value": [0.36344, 0.1178], "addition": [False, False],
        "rate_ci_low": [63.64, 1.65], "rate_ci_high": [71.14, 4.29],
        "male_ci_low": [60.84, 2.15], "male_ci_high": [70.67, 6.18],
        "female_ci_low": [63.78, 0.42], "female_ci_high": [75.21, 3.55],
    })
    out = sud_table.publish_sud_by_sex(table)
    assert out.columns == list(sud_table.SUD_PUBLISHED)
    assert out.row(0) == ("Cannabis", "F12", "405", "67.50", "63.64–71.14", "234", "65.92",
                          "60.84–70.67", "171", "69.80", "63.78–75.21", "0.3634", "no")
    hidden = out.row(1, named=True)
    assert hidden["female_n"] == "<10"
    assert hidden["male_n"] == SECONDARY_MARK  # total 16 minus "<10" would reveal it
    assert hidden["total"] == "16" and hidden["rate_ci"] == "1.65–4.29"
    assert hidden["p_value"] == hidden["female_pct"] == hidden["male_pct"] == SECONDARY_MARK
    # an interval pins its count down (width -> n, centre -> x): hidden with it
    assert hidden["female_ci"] == hidden["male_ci"] == SECONDARY_MARK


def test_p_value_format_has_four_decimals_and_a_floor():
    formatted = [sud_table.format_p(p) for p in (0.36344, 0.00005, 1.0)]
    assert formatted == ["0.3634", "<0.0001", "1.0000"]


def test_descriptive_statistics_equal_direct_scipy_calls(cohort):
    desc = descriptives.descriptives(cohort)
    got = {row["variable"]: row for row in desc.statistics.iter_rows(named=True)}
    female, male = (cohort.filter(pl.col("sex") == s) for s in ("female", "male"))
    for column in ("DaysOfStay", "APRCost"):
        direct = stats.mannwhitneyu(female[column].to_numpy().astype(float),
                                    male[column].to_numpy().astype(float),
                                    alternative="two-sided")
        assert got[column]["statistic"] == pytest.approx(direct.statistic)
        assert got[column]["p_value"] == pytest.approx(direct.pvalue, rel=1e-12)
        assert (got[column]["n_female"], got[column]["n_male"]) == (female.height, male.height)
    for column in ("Year", "APRSeverityLevel"):
        levels = sorted(set(cohort[column].to_list()))
        observed = [[Counter(female[column].to_list())[v], Counter(male[column].to_list())[v]]
                    for v in levels]
        direct = stats.chi2_contingency(observed)
        assert got[column]["statistic"] == pytest.approx(direct.statistic)
        assert got[column]["p_value"] == pytest.approx(direct.pvalue, rel=1e-12)
        assert got[column]["dof"] == direct.dof


def test_principal_diagnosis_chi_square_pools_all_but_the_twenty_most_frequent(cohort):
    desc = descriptives.descriptives(cohort, chi2_top=5)
    codes = [c.strip().upper() for c in cohort["PrincipalDiagnosis"].to_list()]
    ranked = sorted(Counter(codes).items(), key=lambda kv: (-kv[1], kv[0]))
    top = [c for c, _ in ranked[:5]]
    sexes = cohort["sex"].to_list()
    observed = [[sum(1 for c, s in zip(codes, sexes, strict=True) if c == code and s == sex)
                 for sex in ("female", "male")] for code in top]
    observed.append([sum(1 for c, s in zip(codes, sexes, strict=True)
                         if c not in top and s == sex) for sex in ("female", "male")])
    assert desc.principal_top20["code"].to_list() == [*top, "other"]
    assert desc.principal_top20.select("female_n", "male_n").rows() == [tuple(r) for r in observed]
    row = desc.statistics.filter(pl.col("test") == "chi-square").row(2, named=True)
    assert row["p_value"] == pytest.approx(stats.chi2_contingency(observed).pvalue, rel=1e-12)


def test_top_principal_diagnoses_per_sex_with_descriptors_from_a_mapping_or_callable(cohort):
    by_map = descriptives.descriptives(cohort, {"F29": "Unspecified psychosis"}, top_n=3)
    by_fn = descriptives.descriptives(
        cohort, lambda c: "Unspecified psychosis" if c == "F29" else None, top_n=3)
    assert by_map.top_principal.equals(by_fn.top_principal)
    for sex in ("female", "male"):
        codes = [c.strip().upper() for c, s in
                 zip(cohort["PrincipalDiagnosis"].to_list(), cohort["sex"].to_list(), strict=True)
                 if s == sex]
        expected = sorted(Counter(codes).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        got = by_map.top_principal.filter(pl.col("sex") == sex)
        assert list(zip(got["code"], got["n"], strict=True)) == expected
        assert got["pct"].to_list() == pytest.approx([100 * n / len(codes) for _, n in expected])
    f29 = by_map.top_principal.filter(pl.col("code") == "F29")["descriptor"].to_list()
    assert f29 and set(f29) == {"Unspecified psychosis"}


def test_continuous_summary_and_histograms_are_capped_at_the_pooled_99th_percentile(cohort):
    desc = descriptives.descriptives(cohort)
    stay = cohort["DaysOfStay"].to_numpy().astype(float)
    cap = np.quantile(stay, 0.99)
    rows = desc.continuous.filter(pl.col("variable") == "DaysOfStay")
    assert rows["cap"].to_list() == pytest.approx([cap, cap])
    for row in rows.iter_rows(named=True):
        values = cohort.filter(pl.col("sex") == row["sex"])["DaysOfStay"].to_numpy().astype(float)
        assert row["median"] == pytest.approx(np.median(values))
        assert row["q1"] == pytest.approx(np.quantile(values, 0.25))
        assert row["upperfence"] <= cap
    hist = desc.histograms.filter(pl.col("variable") == "DaysOfStay")
    per_sex = dict(hist.group_by("sex").agg(pl.col("n").sum()).iter_rows())
    assert per_sex == {"female": rows.filter(pl.col("sex") == "female")["n"][0],
                       "male": rows.filter(pl.col("sex") == "male")["n"][0]}
    assert hist["right"].max() <= cap + 1  # the planted 7777-day stay sits in the last bin
    assert PLANTED_STAY > hist["right"].max()


def test_published_descriptives_are_strings_and_apply_row_and_column_suppression():
    year = pl.DataFrame({"Year": [2016, 2017], "female_n": [5, 40], "female_pct": [11.1, 88.9],
                         "male_n": [50, 60], "male_pct": [45.5, 54.5], "total": [55, 100]})
    desc = descriptives.Descriptives(
        statistics=pl.DataFrame({"test": ["x"], "variable": ["v"], "statistic": [1.23456],
                                 "dof": [None], "p_value": [0.04], "n_female": [45],
                                 "n_male": [110]}),
        by_year=year, by_severity=year.rename({"Year": "APRSeverityLevel"}),
        top_principal=pl.DataFrame({"sex": ["female"], "rank": [1], "code": ["F29"],
                                    "descriptor": [""], "n": [12], "pct": [26.7]}),
        principal_top20=year.select(code=pl.col("Year").cast(pl.String), descriptor=pl.lit(""),
                                    female_n="female_n", male_n="male_n", total="total"),
        continuous=pl.DataFrame({"variable": ["v", "v"], "sex": ["female", "male"],
                                 "n": [45, 4], "mean": [1.0, 2.5]}),
        histograms=pl.DataFrame(),
    )
    out = descriptives.publish_descriptives(desc)
    assert out["by_year"]["female_n"].to_list() == ["<10", SECONDARY_MARK]
    assert out["by_year"]["male_n"].to_list() == [SECONDARY_MARK, SECONDARY_MARK]
    assert out["statistics"].row(0) == ("x", "v", "1.2346", "", "0.0400", "45", "110")
    assert out["continuous"].rows() == [("v", "female", "45", "1.00"),
                                        ("v", "male", "<10", SECONDARY_MARK)]
    assert all(d == pl.String for f in out.values() for d in f.dtypes)


def test_write_table_writes_csv_with_machine_names_and_office_files_with_display_names(
        tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    frame = pl.DataFrame({"group": ["Cannabis"], "total": ["405"], "male_n": ["<10"]})
    headers = {"group": "Substance group", "total": "Total n", "male_n": "Males n"}
    paths = writers.write_table(frame, tmp_path / "tables" / "sud_by_sex",
                               title="Supplementary Table S1. SUD", headers=headers)
    assert [p.name for p in paths] == ["sud_by_sex.csv", "sud_by_sex.xlsx", "sud_by_sex.docx"]
    assert pl.read_csv(paths[0], infer_schema=False).equals(frame)
    sheet = load_workbook(paths[1])["table"]
    assert [[c.value for c in r] for r in sheet.iter_rows(min_row=2, max_row=3)] == [
        ["Substance group", "Total n", "Males n"], ["Cannabis", 405, "<10"]]
    doc = Document(str(paths[2]))
    cells = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert cells == [["Substance group", "Total n", "Males n"], ["Cannabis", "405", "<10"]]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Supplementary Table S1" in text and '"<10"' in text
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == sorted(p.name for p in paths)


def test_a_column_without_a_display_name_is_refused_before_anything_is_written(tmp_path):
    frame = pl.DataFrame({"group": ["a"], "male_n": ["12"]})
    with pytest.raises(ValueError, match="male_n"):
        writers.write_table(frame, tmp_path / "t", title="T", headers={"group": "Group"})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_previous_files_untouched(tmp_path, monkeypatch):
    frame = pl.DataFrame({"group": ["a"], "n": ["12"]})
    shown = {"title": "T", "headers": {"group": "Group", "n": "n"}}
    first = writers.write_table(frame, tmp_path / "t", **shown)
    before = {p.name: p.read_bytes() for p in first}

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writers, "_write_xlsx", broken)
    with pytest.raises(RuntimeError):
        writers.write_table(pl.DataFrame({"group": ["b"], "n": ["99"]}), tmp_path / "t",
                            **shown)
    assert (tmp_path / "t.xlsx").read_bytes() == before["t.xlsx"]
    assert (tmp_path / "t.docx").read_bytes() == before["t.docx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_markdown_preview_escapes_pipes_and_tags_and_says_how_many_rows_are_cut():
    frame = pl.DataFrame({"group": ["a|b", "c", "d"], "n": ["<10", "12", "13"]})
    text = preview.markdown_preview(frame, max_rows=2)
    lines = text.splitlines()
    assert lines[0] == "| group | n |"
    assert lines[2] == "| a\\|b | \\<10 |"
    assert "1 more rows not shown" in text and "| d |" not in text

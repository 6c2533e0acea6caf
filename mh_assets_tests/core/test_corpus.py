"""The descriptor corpus and its coverage, on hand-made cohorts."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from mh_assets.core import schema
from mh_assets.core.corpus import build_corpus, coverage, naive_coverage
from mh_assets.core.icd import DescriptorTable, load_descriptors

SEP = schema.DESCRIPTOR_SEPARATOR
TABLE_ROWS = {
    "F12": "Cannabis related disorders",
    "F1210": "Cannabis abuse, uncomplicated",
    "F29": "Unspecified psychosis",
    "T407": "Poisoning by cannabis",
    "Z653": "Problems related to legal circumstances",
}


@pytest.fixture(scope="module")
def table() -> DescriptorTable:
    frame = pl.DataFrame({"code": list(TABLE_ROWS), "descriptor": list(TABLE_ROWS.values())})
    return DescriptorTable(frame=frame, source="test", edition="test", n_codes=frame.height)


def make_cohort(rows: list[tuple[str, str, list[str | None]]]) -> pl.DataFrame:
    """(patient_id, sex, diagnosis fields in order) -> a cohort frame with every column."""
    data: dict[str, list] = {
        schema.PATIENT_ID: [r[0] for r in rows],
        schema.SEX: [r[1] for r in rows],
    }
    for i, column in enumerate(schema.DIAGNOSIS_COLUMNS):
        data[column] = [r[2][i] if i < len(r[2]) else None for r in rows]
    data[schema.AGE] = [14 + i for i in range(len(rows))]
    data["Year"] = [2016 + i for i in range(len(rows))]
    data["DaysOfStay"] = [3 * i for i in range(len(rows))]
    data["AdmissionDate"] = [datetime(2017, 1, 1)] * len(rows)
    schema_ = {c: pl.Utf8 for c in schema.DIAGNOSIS_COLUMNS}
    return pl.DataFrame(data, schema_overrides=schema_)


@pytest.fixture
def cohort() -> pl.DataFrame:
    return make_cohort(
        [
            ("p1", "female", ["F12.10", None, "F29", "f12.10", "T40.7X5A"]),
            ("p2", "male", ["F29", "Z65.3"]),
            ("p3", "female", ["F29", "ZZZ.ZZZS", "", "F12", "Z65.3"]),
        ]
    )


def test_corpus_keeps_field_order_drops_blanks_and_repeats(table, cohort):
    corpus = build_corpus(cohort, table, "female")
    assert corpus[schema.PATIENT_ID].to_list() == ["p1", "p3"]
    assert corpus[schema.CODES].to_list() == [
        ["F1210", "F29", "T407X5A"],
        ["F29", "ZZZZZZS", "F12", "Z653"],
    ]
    assert corpus[schema.N_CODES].to_list() == [3, 4]
    assert corpus.schema[schema.N_CODES] == pl.Int32


def test_principal_diagnosis_comes_first_whatever_the_column_order(table):
    cohort = make_cohort([("p1", "male", ["F29", "Z65.3"] + [None] * 17 + ["F29"])])
    cohort = cohort.select(pl.exclude(schema.PRINCIPAL), pl.col(schema.PRINCIPAL))  # principal last
    assert build_corpus(cohort, table, "male")[schema.CODES].to_list() == [["F29", "Z653"]]


def test_descriptors_resolution_and_text(table, cohort):
    row = build_corpus(cohort, table, "female").row(0, named=True)
    assert row[schema.RESOLUTION] == ["exact", "exact", "ancestor"]
    assert row[schema.RESOLVED_CODES] == ["F1210", "F29", "T407"]
    assert row[schema.DESCRIPTORS] == [
        "Cannabis abuse, uncomplicated",
        "Unspecified psychosis",
        "Poisoning by cannabis",
    ]
    assert row[schema.TEXT] == SEP.join(row[schema.DESCRIPTORS])


def test_unresolved_code_stands_for_itself(table, cohort):
    row = build_corpus(cohort, table, "female").row(1, named=True)
    assert row[schema.DESCRIPTORS][1] == "ZZZZZZS"
    assert row[schema.RESOLVED_CODES][1] == "ZZZZZZS"
    assert row[schema.RESOLUTION][1] == "unresolved"
    assert row[schema.TEXT] == SEP.join(
        [
            "Unspecified psychosis",
            "ZZZZZZS",
            "Cannabis related disorders",
            "Problems related to legal circumstances",
        ]
    )


def test_sex_filter_and_covariates(table, cohort):
    corpus = build_corpus(cohort, table, "male")
    assert corpus.columns == [
        schema.PATIENT_ID, schema.SEX, schema.CODES, schema.N_CODES, schema.RESOLVED_CODES,
        schema.DESCRIPTORS, schema.RESOLUTION, schema.TEXT, schema.AGE, "year", "days_of_stay",
        "apr_severity", "apr_mortality_risk", "apr_cost", "discharge_type",
    ]  # fmt: skip
    assert corpus["apr_severity"].null_count() == corpus.height  # the cohort lacks it
    covariates = corpus.select(schema.PATIENT_ID, schema.SEX, schema.AGE, "year", "days_of_stay")
    assert covariates.rows() == [("p2", "male", 15, 2017, 3)]
    text = f"Unspecified psychosis{SEP}Problems related to legal circumstances"
    assert corpus[schema.TEXT].item() == text


def test_sex_without_patients_gives_empty_corpus(table, cohort):
    corpus = build_corpus(cohort.filter(pl.col(schema.SEX) == "female"), table, "male")
    assert corpus.height == 0
    assert corpus.schema[schema.CODES] == pl.List(pl.Utf8)


def test_unknown_sex_and_missing_column_are_rejected(table, cohort):
    with pytest.raises(ValueError, match="sex must be one of"):
        build_corpus(cohort, table, "unknown")
    with pytest.raises(ValueError, match="DaysOfStay"):
        build_corpus(cohort.drop("DaysOfStay"), table, "female")


def test_coverage_counts_every_occurrence(table, cohort):
    report = coverage(build_corpus(cohort, table, "female"))
    # p1: F1210 exact, F29 exact, T407X5A ancestor; p3: F29, F12, Z653 exact, ZZZZZZS unresolved.
    assert (report.occurrences, report.exact, report.ancestor, report.unresolved) == (7, 5, 1, 1)
    assert report.exact_share == pytest.approx(5 / 7)
    assert report.with_ancestors_share == pytest.approx(6 / 7)
    assert report.unresolved_codes.rows() == [("ZZZZZZS", 1)]
    assert report.substitutions.rows() == [("T407X5A", "T407", 1)]


def test_coverage_metadata_masks_small_counts(table, cohort):
    meta = coverage(build_corpus(cohort, table, "female")).as_metadata(min_cell=10)
    assert meta["code_occurrences"] == 7 and meta["codes_unresolved"] == 1
    assert meta["top_unresolved_codes"] == {"ZZZZZZS": "<10"}
    assert meta["top_substitutions"] == {"T407X5A->T407": "<10"}
    assert "p1" not in str(meta)


def test_unresolved_codes_are_sorted_by_count():
    table = DescriptorTable(pl.DataFrame({"code": ["F29"], "descriptor": ["x"]}), "t", "t", 1)
    cohort = make_cohort(
        [("a", "male", ["F29", "Q99.9"]), ("b", "male", ["X99", "Q99.9"]), ("c", "male", ["Q99.9"])]
    )
    report = coverage(build_corpus(cohort, table, "male"))
    assert report.unresolved_codes.rows() == [("Q999", 3), ("X99", 1)]


def test_naive_dotted_lookup_misses_most_codes(cohort):
    """The study's lookup (dotted code in an undotted table) matches only 3-character codes."""
    packaged = load_descriptors()
    corpus = build_corpus(cohort, packaged, "female")
    naive = naive_coverage(corpus, packaged)
    report = coverage(corpus)
    # Of 7 occurrences only F29 (twice) and F12 have no dot in the registry's form.
    assert naive == pytest.approx(3 / 7)
    assert report.with_ancestors_share == pytest.approx(6 / 7)
    assert naive < report.exact_share


def test_naive_coverage_of_codes_with_subcategories_is_zero(table):
    cohort = make_cohort([("a", "female", ["F12.10", "Z65.3"])])
    corpus = build_corpus(cohort, table, "female")
    assert naive_coverage(corpus, table) == 0.0
    assert coverage(corpus).exact_share == 1.0


def test_record_without_any_code_gets_empty_lists_and_text(table):
    cohort = make_cohort([("a", "female", [None, ""])])
    row = build_corpus(cohort, table, "female").row(0, named=True)
    got = (row[schema.CODES], row[schema.DESCRIPTORS], row[schema.N_CODES], row[schema.TEXT])
    assert got == ([], [], 0, "")
    assert coverage(build_corpus(cohort, table, "female")).occurrences == 0


def test_the_input_columns_alone_build_the_same_corpus(table, cohort):
    from mh_assets.core.corpus import input_columns

    extra = cohort.with_columns(pl.lit("x").alias("Province"), pl.lit(1).alias("Unrelated"))
    columns = input_columns(extra.columns)
    assert "Province" not in columns and "Unrelated" not in columns
    for sex in ("female", "male"):
        assert build_corpus(extra.select(columns), table, sex).equals(
            build_corpus(extra, table, sex))

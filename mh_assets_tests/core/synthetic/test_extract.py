"""The synthetic extract generator: layout, quirks, encodings, determinism, planted truth.

Files are read back with plain polars / csv so these tests do not depend on the
registry parser.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from mh_assets.core.synthetic import (
    SyntheticSpec,
    default_profile,
    write_synthetic_extract,
)

# The registry layout, typed out from shared/reference/rae_cmbd_format.md rather
# than imported, so a change to the module's constants cannot hide a drift.
SPANISH = [
    "Año", "Comunidad Autónoma", "Provincia", "Fecha de nacimiento", "Sexo", "CCAA Residencia",
    "Provincia Residencia", "Fecha de Ingreso", "Fecha de Fin Contacto", "Fecha de Intervención",
    "Tipo Alta", "Régimen Financiación", "Circunstancia de Contacto", "Estancia Días",
    "Diagnóstico Principal", "Capitulo Diagnóstico Principal", "Sección Diagnóstico Principal",
    "Categoría Diagnóstico Principal", "Subcategoría Diagnóstico Principal",
    *[f"Diagnóstico {i}" for i in range(2, 21)],
    *[f"Procedimiento {i}" for i in range(1, 21)],
    *[f"Procedimiento Externo {i}" for i in range(1, 7)],
    *[f"Morfología {i}" for i in range(1, 7)],
    "GRD APR", "Tipo GRD APR", "Nivel Severidad APR", "Riesgo Mortalidad APR",
    "Peso Español APR", "Coste APR",
]
ENGLISH = [
    "Year", "AutonomousCommunity", "Province", "DateOfBirth", "Sex",
    "AutonomousCommunityResidence", "ProvinceResidence", "AdmissionDate", "ContactEndDate",
    "InterventionDate", "DischargeType", "FinancingRegime", "ContactCircumstance", "DaysOfStay",
    "PrincipalDiagnosis", "PrincipalDiagnosisChapter", "PrincipalDiagnosisSection",
    "PrincipalDiagnosisCategory", "PrincipalDiagnosisSubcategory",
    *[f"Diagnosis{i}" for i in range(2, 21)],
    *[f"Procedure{i}" for i in range(1, 21)],
    *[f"ExternalProcedure{i}" for i in range(1, 7)],
    *[f"Morphology{i}" for i in range(1, 7)],
    "APRDRG", "APRDRGType", "APRSeverityLevel", "APRMortalityRisk", "APRSpanishWeight", "APRCost",
]
DIAGNOSES = ["PrincipalDiagnosis", *[f"Diagnosis{i}" for i in range(2, 21)]]
ROWS = 3000


def _read(path: Path, separator: str = ",", encoding: str = "utf8") -> pl.DataFrame:
    """All fields as strings, English names, whatever the header language."""
    frame = pl.read_csv(path, infer_schema=False, separator=separator, encoding=encoding)
    return frame.rename(dict(zip(frame.columns, ENGLISH, strict=True)))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    result = write_synthetic_extract(SyntheticSpec(patients=ROWS, seed=11), out)
    return result, _read(result.extract_path), pl.read_parquet(result.truth_path)


@pytest.fixture(scope="module")
def codes_long(generated):
    """One row per (record, diagnosis field, code): the planted codes in field order."""
    _, frame, truth = generated
    return (
        frame.select(DIAGNOSES)
        .with_columns(truth["record_number"], truth["sex"], truth["subtype"])
        .unpivot(index=["record_number", "sex", "subtype"], on=DIAGNOSES, variable_name="field")
        .drop_nulls("value")
    )


def test_directory_output_gets_the_registry_delivery_name(generated):
    result, _, _ = generated
    assert result.extract_path.name == "RAECMBD_454_20241226-163036.csv"
    assert result.truth_path == result.extract_path.with_name(
        "RAECMBD_454_20241226-163036.truth.parquet"
    )


def test_file_output_path_and_request_timestamp_are_honoured(tmp_path):
    spec = SyntheticSpec(patients=20, seed=1, request=77, timestamp=datetime(2023, 1, 2, 3, 4, 5))
    assert write_synthetic_extract(spec, tmp_path).extract_path.name == (
        "RAECMBD_77_20230102-030405.csv"
    )
    target = tmp_path / "sub" / "mine.csv"
    result = write_synthetic_extract(spec, target)
    assert result.extract_path == target and target.exists() and result.truth_path.exists()
    assert result.truth_path == tmp_path / "sub" / "mine.truth.parquet"


def test_spanish_headers_are_the_registry_columns_in_order(generated):
    result, _, _ = generated
    header = result.extract_path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert header.split(",") == SPANISH
    assert len(SPANISH) == 76


def test_every_data_row_has_one_field_per_column(generated):
    result, _, _ = generated
    with open(result.extract_path, encoding="utf-8", newline="") as handle:
        widths = {len(row) for row in csv.reader(handle)}
    assert widths == {76}


def test_english_headers_change_only_the_header_line(generated, tmp_path):
    result, _, _ = generated
    english = write_synthetic_extract(
        SyntheticSpec(patients=ROWS, seed=11, header_language="en"), tmp_path
    )
    es_header, es_body = result.extract_path.read_bytes().split(b"\n", 1)
    en_header, en_body = english.extract_path.read_bytes().split(b"\n", 1)
    assert en_header.decode("ascii").split(",") == ENGLISH
    assert en_body == es_body


def test_birth_dates_lose_the_leading_zero_like_a_number(generated):
    _, frame, _ = generated
    birth = frame["DateOfBirth"]
    assert set(birth.str.len_chars().unique()) == {7, 8}
    short = birth.filter(birth.str.len_chars() == 7)
    # A 7-digit value is a day 1-9: left-padding restores ddmmyyyy.
    padded = short.str.zfill(8)
    assert padded.str.starts_with("0").all()
    assert padded.str.strptime(pl.Date, "%d%m%Y", strict=True).null_count() == 0


def test_dates_are_ddmmyyyy_hhmm_and_intervention_mostly_blank(generated):
    _, frame, _ = generated
    pattern = r"^\d{8} \d{4}$"
    assert frame["AdmissionDate"].str.contains(pattern).all()
    assert frame["ContactEndDate"].str.contains(pattern).all()
    intervention = frame["InterventionDate"]
    assert 0.9 < intervention.null_count() / ROWS < 1.0
    assert intervention.drop_nulls().str.contains(pattern).all()


def test_decimals_are_quoted_with_a_decimal_comma(generated):
    result, frame, _ = generated
    lines = result.extract_path.read_text(encoding="utf-8").splitlines()[1:]
    assert all(re.search(r',"\d+,\d{6}","\d+,\d{6}"$', line) for line in lines)
    assert frame["APRSpanishWeight"].str.contains(r"^\d+,\d{6}$").all()


def test_codes_are_dotted_after_the_third_character(codes_long):
    codes = codes_long["value"]
    assert codes.str.contains(r"^[A-Z][0-9A-Z]{2}(\.[0-9A-Z]{1,5})?$").all()
    assert (codes.str.len_chars() > 3).any() and (codes.str.len_chars() == 3).any()
    assert not codes.str.contains(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]").any()


def test_diagnosis_fields_are_blank_only_after_the_last_code(generated):
    _, frame, truth = generated
    present = frame.select(pl.col(DIAGNOSES).is_not_null()).to_numpy()
    # Once a field is blank, every later field is blank too.
    assert (np.diff(present.astype(int), axis=1) <= 0).all()
    assert (present.sum(axis=1) == truth["n_codes"].to_numpy()).all()
    assert present[:, 0].all()


def test_principal_chapter_section_category_match_simple_icd_10_cm(generated):
    import simple_icd_10_cm as icd

    _, frame, _ = generated
    columns = [
        "PrincipalDiagnosis", "PrincipalDiagnosisChapter", "PrincipalDiagnosisSection",
        "PrincipalDiagnosisCategory", "PrincipalDiagnosisSubcategory",
    ]
    for code, chapter, section, category, subcategory in frame.select(columns).unique().rows():
        ancestors = icd.get_ancestors(code)
        assert ancestors[-1] == chapter and ancestors[-2] == section, code
        assert category == code[:3] and subcategory == code[:5]


def test_code_occurrences_are_valid_icd10cm_except_planted_few(generated, codes_long):
    import simple_icd_10_cm as icd

    result, _, _ = generated
    counts = codes_long["value"].value_counts()
    valid = {c: icd.is_valid_item(c) for c in counts["value"]}
    placeholder = counts.filter(pl.col("value") == "ZZZ.ZZZS")["count"].sum()
    others = counts.filter(pl.col("value") != "ZZZ.ZZZS")
    invalid = others.filter(~pl.col("value").replace_strict(valid, return_dtype=pl.Boolean))
    total = counts["count"].sum()
    assert total == result.code_occurrences
    assert 1 - invalid["count"].sum() / others["count"].sum() >= 0.995
    assert 0 < invalid["count"].sum() / total < 0.005
    assert 0 < placeholder / total < 0.003
    # The invalid codes are retired ones whose ancestor is still valid.
    assert invalid["value"].str.starts_with("T40.7X").all()
    assert icd.is_valid_item("T40.7")
    assert invalid["count"].sum() == result.retired_code_occurrences
    assert placeholder == result.placeholder_occurrences


def test_clean_spec_plants_no_problem_rows_or_invalid_codes(tmp_path):
    result = write_synthetic_extract(SyntheticSpec(patients=1000, seed=3, quirks=False), tmp_path)
    frame, truth = _read(result.extract_path), pl.read_parquet(result.truth_path)
    assert (frame["DateOfBirth"].str.len_chars() == 8).all()
    assert truth["planted_exclusion"].null_count() == 1000
    assert truth["planted_flag"].null_count() == 1000
    assert result.retired_code_occurrences == result.placeholder_occurrences == 0
    codes = frame.select(pl.concat_list(DIAGNOSES).list.drop_nulls().explode()).to_series()
    assert not codes.str.starts_with("T40.7X").any() and "ZZZ.ZZZS" not in codes
    assert set(frame["Sex"].unique()) == {"1", "2"}


def test_planted_exclusions_are_a_few_percent_and_visible_in_the_fields(generated):
    result, frame, truth = generated
    joined = pl.concat([frame, truth], how="horizontal").with_columns(
        admission=pl.col("AdmissionDate").str.slice(0, 8).str.strptime(pl.Date, "%d%m%Y")
    )
    kinds = truth["planted_exclusion"].drop_nulls()
    assert set(kinds) == {"admission_after_end", "sex_not_1_2", "principal_not_chapter_f"}
    assert 0.01 <= kinds.len() / ROWS <= 0.03 and kinds.len() == result.excluded_rows
    late = joined["admission"] > datetime(2020, 3, 15).date()
    assert (late == (joined["planted_exclusion"] == "admission_after_end")).all()
    assert ((joined["Sex"] == "9") == (joined["planted_exclusion"] == "sex_not_1_2")).all()
    non_f = ~joined["PrincipalDiagnosis"].str.starts_with("F")
    assert (non_f == (joined["planted_exclusion"] == "principal_not_chapter_f")).all()


def test_implausible_values_are_flagged_rows_only(generated):
    _, frame, truth = generated
    joined = pl.concat([frame, truth], how="horizontal").with_columns(
        admission=pl.col("AdmissionDate").str.slice(0, 8).str.strptime(pl.Date, "%d%m%Y"),
        birth=pl.col("DateOfBirth").str.zfill(8).str.strptime(pl.Date, "%d%m%Y"),
    )
    joined = joined.with_columns(
        age=pl.col("admission").dt.year() - pl.col("birth").dt.year()
        - (pl.col("admission").dt.strftime("%m%d") < pl.col("birth").dt.strftime("%m%d")).cast(
            pl.Int32
        ),
        years_before=pl.col("Year").cast(pl.Int32) - pl.col("admission").dt.year(),
    )
    flag = joined["planted_flag"]
    decades = joined.filter(flag == "admission_decades_before_discharge")
    assert decades.height >= 1 and (decades["years_before"] >= 20).all()
    old = joined.filter(flag == "age_over_18")
    assert old.height >= 1 and (old["age"] == 19).all()
    clean = joined.filter(flag.is_null())
    assert clean["age"].min() == 11 and clean["age"].max() == 18
    assert clean["years_before"].is_in([0, 1]).all()
    assert set(clean["Year"].unique()) == {"2016", "2017", "2018", "2019", "2020"}


def test_every_kept_row_carries_a_substance_use_code(generated, codes_long):
    _, _, truth = generated
    kept = truth.filter(pl.col("planted_exclusion").is_null())["record_number"]
    with_sud = codes_long.filter(pl.col("value").str.contains(r"^F1\d"))["record_number"].unique()
    assert kept.is_in(with_sud.implode()).all()


def test_sexes_and_code_counts_follow_the_profile(generated):
    _, _, truth = generated
    profile = default_profile()["sexes"]
    female_share = profile["female"]["patients"] / (
        profile["female"]["patients"] + profile["male"]["patients"]
    )
    assert abs((truth["sex"] == "female").mean() - female_share) < 0.04
    for sex in ("female", "male"):
        hist = profile[sex]["codes_per_patient"]
        expected = np.zeros(21)
        for n, count in hist.items():
            expected[int(n)] = count
        expected /= expected.sum()
        observed = np.bincount(truth.filter(pl.col("sex") == sex)["n_codes"], minlength=21)[:21]
        observed = observed / observed.sum()
        assert 0.5 * np.abs(observed - expected).sum() < 0.1  # total variation


def test_ground_truth_is_separate_and_aligned(generated):
    result, frame, truth = generated
    assert truth.columns[:3] == ["record_number", "sex", "subtype"]
    assert truth["record_number"].to_list() == list(range(1, ROWS + 1))
    assert frame.height == truth.height == result.rows
    text = result.extract_path.read_text(encoding="utf-8")
    assert "subtype" not in text.lower() and "female:" not in text and "cannabis" not in text
    for sex in ("female", "male"):
        sizes = truth.filter(pl.col("sex") == sex)["subtype"].value_counts()["count"]
        assert 4 <= sizes.len() <= 6
        assert sizes.max() >= 2 * sizes.min()  # unequal subtype sizes
    assert sum(result.subtype_rows.values()) == ROWS


def _category_multi_hot(codes_long: pl.DataFrame, sex: str) -> np.ndarray:
    rows = codes_long.filter(pl.col("sex") == sex).with_columns(
        category=pl.col("value").str.slice(0, 3),
        row=pl.col("record_number").rank("dense") - 1,
    )
    categories = rows["category"].unique().sort()
    column = rows["category"].replace_strict(categories, pl.int_range(categories.len(), eager=True))
    matrix = np.zeros((rows["row"].max() + 1, categories.len()))
    matrix[rows["row"].to_numpy(), column.to_numpy()] = 1
    return matrix


@pytest.mark.parametrize("sex", ["female", "male"])
def test_subtypes_are_recoverable_from_categories_but_not_from_code_counts(
    generated, codes_long, sex
):
    _, _, truth = generated
    labels = truth.filter(pl.col("sex") == sex).sort("record_number")
    k = labels["subtype"].n_unique()
    found = KMeans(k, n_init=20, random_state=0).fit_predict(_category_multi_hot(codes_long, sex))
    assert adjusted_rand_score(labels["subtype"], found) >= 0.8

    n_codes = labels["n_codes"].to_numpy()
    edges = np.quantile(n_codes, np.linspace(0, 1, k + 1)[1:-1])
    assert adjusted_rand_score(labels["subtype"], np.digitize(n_codes, edges)) < 0.3


def test_byte_order_mark_only_for_utf8_sig(tmp_path):
    plain = write_synthetic_extract(SyntheticSpec(patients=50, seed=5), tmp_path / "a.csv")
    bom = write_synthetic_extract(
        SyntheticSpec(patients=50, seed=5, encoding="utf-8-sig"), tmp_path / "b.csv"
    )
    assert bom.extract_path.read_bytes().startswith(b"\xef\xbb\xbfA\xc3\xb1o,")
    assert plain.extract_path.read_bytes().startswith("Año,".encode())
    assert bom.extract_path.read_bytes()[3:] == plain.extract_path.read_bytes()


def test_latin1_decodes_as_latin1_but_not_as_strict_utf8(tmp_path):
    result = write_synthetic_extract(
        SyntheticSpec(patients=50, seed=5, encoding="latin-1"), tmp_path / "c.csv"
    )
    data = result.extract_path.read_bytes()
    assert data.startswith(b"A\xf1o,")
    assert data.decode("latin-1").split("\n", 1)[0].split(",") == SPANISH
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8", errors="strict")


def test_semicolon_delimiter_keeps_decimals_quoted(tmp_path):
    result = write_synthetic_extract(
        SyntheticSpec(patients=200, seed=5, delimiter=";"), tmp_path / "d.csv"
    )
    frame = _read(result.extract_path, separator=";")
    assert frame.width == 76 and frame.height == 200
    assert frame["APRCost"].str.contains(r"^\d+,\d{6}$").all()
    assert re.search(r';"\d+,\d{6}";"\d+,\d{6}"\n', result.extract_path.read_text("utf-8"))


def test_same_spec_gives_byte_identical_files_and_seed_matters(tmp_path):
    spec = SyntheticSpec(patients=500, seed=9)
    first = write_synthetic_extract(spec, tmp_path / "one")
    second = write_synthetic_extract(spec, tmp_path / "two")
    other = write_synthetic_extract(SyntheticSpec(patients=500, seed=10), tmp_path / "three")
    assert first.extract_path.read_bytes() == second.extract_path.read_bytes()
    assert first.truth_path.read_bytes() == second.truth_path.read_bytes()
    assert first.extract_path.read_bytes() != other.extract_path.read_bytes()


def test_hundred_thousand_rows_generate_in_one_call(tmp_path):
    result = write_synthetic_extract(SyntheticSpec(patients=100_000, seed=2), tmp_path)
    frame = pl.read_csv(result.extract_path, infer_schema=False, columns=[0, 14])
    assert frame.height == result.rows == 100_000
    assert 0.01 <= result.excluded_rows / result.rows <= 0.03
    assert result.code_occurrences > 3 * result.rows


@pytest.mark.parametrize(
    "bad",
    [
        {"patients": 0},
        {"encoding": "utf-16"},
        {"header_language": "fr"},
        {"delimiter": '"'},
    ],
)
def test_invalid_specs_are_rejected(bad):
    with pytest.raises(ValueError):
        SyntheticSpec(**{"patients": 10, "seed": 0, **bad})


def test_the_registry_parser_reads_every_row_without_unparsable_values(generated):
    """Round trip through the parser, when it exists (it is developed separately)."""
    registry = pytest.importorskip("mh_assets.core.registry")
    result, frame, truth = generated
    # The answer key next to the extract is never taken for a delivery.
    assert registry.find_extracts(result.extract_path.parent) == [result.extract_path]
    parsed, info = registry.read_extract(result.extract_path)
    assert parsed.height == result.rows and info.unparsable_values == {}
    assert parsed["record_number"].to_list() == truth["record_number"].to_list()
    assert parsed["PrincipalDiagnosis"].to_list() == frame["PrincipalDiagnosis"].to_list()
    assert (parsed["Sex"] == 9).sum() == (truth["planted_exclusion"] == "sex_not_1_2").sum()
    assert parsed["APRCost"].min() > 0

"""ICD-10 code normalisation, descriptor loading and ancestor resolution."""

from __future__ import annotations

import polars as pl
import pytest

from mh_assets.core.icd import (
    DescriptorTable,
    display_code,
    load_descriptors,
    normalise_code,
    normalise_expr,
    resolve_codes,
)


@pytest.fixture(scope="module")
def packaged() -> DescriptorTable:
    return load_descriptors()


def _table(rows: dict[str, str]) -> DescriptorTable:
    frame = pl.DataFrame({"code": list(rows), "descriptor": list(rows.values())})
    return DescriptorTable(frame=frame, source="test", edition="test", n_codes=frame.height)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("F12.10", "F1210"),
        ("f12.10", "F1210"),
        (" F12 .1 0\t", "F1210"),
        ("F1210", "F1210"),
        ("F29", "F29"),
        ("", None),
        ("  . ", None),
        (None, None),
    ],
)
def test_normalise_code_strips_dots_whitespace_and_case(raw, expected):
    assert normalise_code(raw) == expected


def test_normalise_expr_matches_scalar_version():
    raw = ["F12.10", "f12.10", " F12 .1 0\t", "F1210", "F29", "", "  . ", None]
    frame = pl.DataFrame({"c": raw}, schema={"c": pl.Utf8})
    got = frame.select(normalise_expr(pl.col("c")))["c"].to_list()
    assert got == [normalise_code(r) for r in raw]


@pytest.mark.parametrize(
    ("code", "dotted"), [("F1210", "F12.10"), ("F29", "F29"), ("T407X5A", "T40.7X5A")]
)
def test_display_code_round_trips_with_normalise(code, dotted):
    assert display_code(code) == dotted
    assert normalise_code(display_code(code)) == code


def test_packaged_table_has_undotted_cannabis_abuse_code(packaged):
    frame = packaged.frame
    cannabis = frame.filter(pl.col("code") == "F1210")
    assert cannabis.rows() == [("F1210", "Cannabis abuse, uncomplicated")]
    assert not frame["code"].str.contains(".", literal=True).any()
    assert frame["code"].is_unique().all()
    assert packaged.n_codes == frame.height > 90_000
    assert "2026" in packaged.edition and packaged.source.startswith("simple-icd-10-cm")


def test_packaged_table_metadata_carries_edition_and_hash(packaged):
    meta = packaged.as_metadata()
    assert meta["descriptor_codes"] == packaged.n_codes
    assert meta["descriptor_edition"] == packaged.edition
    assert len(meta["descriptor_sha256"]) == 64


def test_retired_code_falls_back_to_nearest_ancestor(packaged):
    out = resolve_codes(pl.Series(["T40.7X5A"]), packaged).row(0, named=True)
    assert out["code"] == "T407X5A"
    assert out["resolved_code"] == "T407"
    assert out["resolution"] == "ancestor"
    assert out["descriptor"] == packaged.frame.filter(pl.col("code") == "T407")["descriptor"].item()


def test_resolution_prefers_longest_valid_prefix_and_stops_at_category():
    table = _table({"A12": "cat", "A123": "sub", "B45": "other"})
    codes = pl.Series(["A12.3XY", "A12.9", "A12", "B4", "C99.1", None, "a12.3xy"])
    out = resolve_codes(codes, table)
    assert out.rows() == [  # one row per distinct normalised code, sorted
        ("A12", "A12", "cat", "exact"),
        ("A123XY", "A123", "sub", "ancestor"),
        ("A129", "A12", "cat", "ancestor"),
        ("B4", None, None, "unresolved"),  # shorter than a category: never matches B45
        ("C991", None, None, "unresolved"),
    ]


def test_made_up_code_is_unresolved(packaged):
    out = resolve_codes(pl.Series(["ZZZ.ZZZS", "F12.10"]), packaged)
    assert out.select("code", "resolution").rows() == [
        ("F1210", "exact"),
        ("ZZZZZZS", "unresolved"),
    ]
    assert out.filter(pl.col("code") == "ZZZZZZS")["resolved_code"].item() is None


def test_cms_codes_file_is_parsed_with_year_edition(tmp_path):
    path = tmp_path / "icd10cm-codes-2024.txt"
    path.write_text(
        "A000    Cholera due to Vibrio cholerae 01, biovar cholerae\n"
        "F1210   Cannabis abuse, uncomplicated\n"
        "\n"
        "T407X5A Adverse effect of cannabis (derivatives), initial encounter\n"
    )
    table = load_descriptors(str(path))
    assert table.edition == "ICD-10-CM 2024"
    assert table.n_codes == 3
    assert table.frame.rows() == [
        ("A000", "Cholera due to Vibrio cholerae 01, biovar cholerae"),
        ("F1210", "Cannabis abuse, uncomplicated"),
        ("T407X5A", "Adverse effect of cannabis (derivatives), initial encounter"),
    ]


@pytest.mark.parametrize(
    "content",
    [
        "codigo;descripcion\n"
        "F12.10;Abuso de cannabis, sin complicaciones\nF29;Psicosis no especificada\n",
        "F12.10\tAbuso de cannabis, sin complicaciones\nF29\tPsicosis no especificada\n",
        "F1210;Abuso de cannabis, sin complicaciones\n\nf29 ; Psicosis no especificada\n",
    ],
    ids=["semicolon-header-dotted", "tab-no-header", "semicolon-undotted"],
)
def test_cie10es_file_is_parsed_in_either_layout(tmp_path, content):
    path = tmp_path / "cie10es.csv"
    path.write_text(content, encoding="utf-8")
    table = load_descriptors(str(path))
    assert table.edition == "CIE-10-ES"
    assert table.frame.rows() == [
        ("F1210", "Abuso de cannabis, sin complicaciones"),
        ("F29", "Psicosis no especificada"),
    ]


def test_cie10es_latin1_file_is_decoded(tmp_path):
    path = tmp_path / "cie10es.txt"
    path.write_bytes("F29;Psicosis no especificada de origen no orgánico\n".encode("cp1252"))
    assert load_descriptors(str(path)).frame["descriptor"].item().endswith("orgánico")


def test_malformed_cie10es_line_is_reported_by_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("F29;Psicosis\nnot a code;something\n")
    with pytest.raises(ValueError, match=r"bad\.csv: line\(s\) 2 .*CIE-10-ES"):
        load_descriptors(str(path))


def test_unknown_source_names_the_expected_formats():
    expected = r"no-such-file\.txt.*simple-icd-10-cm.*icd10cm-codes-YYYY"
    with pytest.raises(FileNotFoundError, match=expected):
        load_descriptors("no-such-file.txt")

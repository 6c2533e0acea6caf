"""Reading RAE-CMBD extracts: layouts accepted, values parsed, bad files rejected precisely."""

from __future__ import annotations

import json
import os
from datetime import date, datetime

import polars as pl
import pytest

from mh_assets.core.registry import (
    ExtractFormatError,
    ExtractInfo,
    canonical_schema,
    find_extracts,
    newest_extract,
    read_extract,
)
from mh_assets.core.registry.columns import CANONICAL_COLUMNS
from mh_assets.core.schema import DIAGNOSIS_COLUMNS, DROPPED_CODES, RECORD_NUMBER, ROW_ISSUES
from mh_assets.core.storage import sha256_file
from mh_assets_tests.support.extracts import (
    ENGLISH_EXTRACT,
    FULL_SPANISH_HEADER,
    MINIMAL_HEADER,
    SPANISH_EXTRACT,
    minimal_extract,
)

SECRET = "QX7SECRETVALUE"  # a distinctive cell value that must never reach an error message


def issues(frame: pl.DataFrame) -> list[list[str]]:
    return frame[ROW_ISSUES].to_list()


# --------------------------------------------------------------------------- layouts


def test_spanish_and_english_headers_give_the_same_frame(write_extract):
    spanish, es_info = read_extract(write_extract(SPANISH_EXTRACT, "es.csv"))
    english, en_info = read_extract(write_extract(ENGLISH_EXTRACT, "en.csv"))
    assert spanish.equals(english)
    assert (es_info.header_language, en_info.header_language) == ("es", "en")
    assert es_info.columns == en_info.columns


def test_full_reference_header_maps_every_column_in_order(write_extract):
    row = ["2018", "13", "28", "07112001", "2", "", "", "29032018 0000", "02042018 0000"]
    row += [""] * (len(FULL_SPANISH_HEADER) - len(row))
    row[FULL_SPANISH_HEADER.index("Diagnóstico Principal")] = "F29"
    frame, info = read_extract(write_extract(",".join(FULL_SPANISH_HEADER) + "\n" + ",".join(row)))
    assert len(FULL_SPANISH_HEADER) == len(CANONICAL_COLUMNS) == 76
    assert frame.columns == [RECORD_NUMBER, *CANONICAL_COLUMNS, DROPPED_CODES, ROW_ISSUES]
    assert info.unknown_columns == []


def test_headers_match_without_accents_case_or_spacing(write_extract):
    header = (
        "ANO, fecha de NACIMIENTO ,Sexo,Fecha  de Ingreso,Fecha de Fin Contacto,"
        "Diagnostico Principal"
    )
    row = "2018,07112001,2,29032018 0000,02042018 0000,F29"
    frame, info = read_extract(write_extract(f"{header}\n{row}\n"))
    assert frame.row(0, named=True)["Year"] == 2018
    assert frame["PrincipalDiagnosis"].to_list() == ["F29"]
    assert info.unknown_columns == [] and info.header_language == "es"


def test_output_schema_is_the_same_whichever_optional_columns_are_present(write_extract):
    pruned, _ = read_extract(write_extract(SPANISH_EXTRACT, "pruned.csv"))
    minimal, _ = read_extract(
        write_extract(
            minimal_extract("2018,07112001,2,29032018 0000,02042018 0000,F29,,"), "min.csv"
        )
    )
    assert pruned.schema == minimal.schema
    assert all(c in minimal.columns for c in DIAGNOSIS_COLUMNS)
    assert minimal.schema["APRCost"] == pl.Float64 and minimal["APRCost"].null_count() == 1
    assert minimal.schema["InterventionDate"] == pl.Datetime("us")


def test_byte_order_mark_is_accepted(write_extract):
    plain, _ = read_extract(write_extract(SPANISH_EXTRACT, "plain.csv"))
    bom, info = read_extract(write_extract(b"\xef\xbb\xbf" + SPANISH_EXTRACT.encode(), "bom.csv"))
    assert info.encoding == "utf-8-sig"
    assert bom.equals(plain)


def test_latin1_file_is_decoded_with_accented_headers_and_values(write_extract):
    text = SPANISH_EXTRACT.replace("Coste APR", "Coste APR,Municipio Atención")
    lines = text.splitlines()
    lines[1:] = [line + ",Móstoles" for line in lines[1:]]
    frame, info = read_extract(write_extract(("\r\n".join(lines) + "\r\n").encode("cp1252")))
    assert info.encoding == "latin-1"
    assert info.unknown_columns == ["MunicipioAtencion"]
    assert frame["MunicipioAtencion"].to_list() == ["Móstoles"] * 3
    assert frame["Year"].to_list() == [2018, 2019, 2020]


def test_semicolon_delimiter_is_sniffed(write_extract):
    comma, _ = read_extract(write_extract(ENGLISH_EXTRACT, "comma.csv"))
    semicolon_text = ENGLISH_EXTRACT.replace(",", ";").replace('"0;', '"0,').replace('"1;', '"1,')
    semicolon_text = semicolon_text.replace('"3230;', '"3230,').replace('"1000;', '"1000,')
    semicolon, info = read_extract(write_extract(semicolon_text, "semicolon.csv"))
    assert info.delimiter == ";"
    assert semicolon.equals(comma)


def test_quoted_decimal_commas_parse_as_floats(write_extract):
    frame, info = read_extract(write_extract(SPANISH_EXTRACT))
    assert frame["APRSpanishWeight"].to_list() == [0.709993, 1.0, None]
    assert frame["APRCost"].to_list() == [3230.21875, 1000.5, None]
    assert info.delimiter == ","


def test_birth_date_with_lost_leading_zero_is_left_padded(write_extract):
    frame, _ = read_extract(write_extract(SPANISH_EXTRACT))
    born = [date(2001, 11, 7), date(2003, 1, 1), date(2005, 2, 20)]
    assert frame["DateOfBirth"].to_list() == born
    assert frame.schema["DateOfBirth"] == pl.Date


def test_admission_dates_accept_time_date_only_and_lost_zero(write_extract):
    frame, _ = read_extract(
        write_extract(
            minimal_extract(
                "2018,07112001,2,29032018 0000,02042018 1230,F29,,",
                "2018,07112001,2,29032018,02042018,F29,,",
                "2018,07112001,2,1032018 900,2042018 0000,F29,,",
            )
        )
    )
    assert frame["AdmissionDate"].to_list() == [
        datetime(2018, 3, 29),
        datetime(2018, 3, 29),
        datetime(2018, 3, 1, 9, 0),
    ]
    assert frame["ContactEndDate"].to_list()[0] == datetime(2018, 4, 2, 12, 30)
    assert issues(frame) == [[], [], []]


def test_blank_diagnosis_fields_are_null(write_extract):
    frame, _ = read_extract(write_extract(SPANISH_EXTRACT))
    assert frame["Diagnosis3"].to_list() == [None, "Z63.8", None]
    assert frame["Diagnosis2"][2] is None
    assert frame["Diagnosis20"].null_count() == 3


def test_codes_are_trimmed_and_upper_cased_with_the_dot_kept(write_extract):
    frame, _ = read_extract(write_extract(SPANISH_EXTRACT))
    assert frame["PrincipalDiagnosis"].to_list() == ["F12.288", "F29", "F32.9"]
    assert frame["Diagnosis2"].to_list() == ["F10.10", "F12.20", None]
    assert issues(frame) == [[], [], []]


def test_placeholder_codes_become_null_and_are_counted(write_extract):
    frame, info = read_extract(
        write_extract(
            minimal_extract(
                "2018,07112001,2,29032018 0000,02042018 0000,F29,ZZZ.ZZZS,ZZZZZZS",
                "2018,07112001,2,29032018 0000,02042018 0000,F29,zzz.zzzs,F12.20",
            )
        )
    )
    assert frame["Diagnosis2"].to_list() == [None, None]
    assert frame["Diagnosis7"].to_list() == [None, "F12.20"]
    assert info.placeholder_codes == 3
    assert issues(frame) == [[], []]  # a known convention, not a row problem


def test_unknown_header_is_kept_under_letters_and_digits(write_extract):
    text = minimal_extract("2018,07112001,2,29032018 0000,02042018 0000,F29,,,  x-1 ")
    text = text.replace(MINIMAL_HEADER, MINIMAL_HEADER + ",Código (Postal) 2")
    frame, info = read_extract(write_extract(text))
    assert info.unknown_columns == ["CodigoPostal2"]
    assert frame["CodigoPostal2"].to_list() == ["x-1"]
    assert frame.columns[-3:] == ["CodigoPostal2", DROPPED_CODES, ROW_ISSUES]


def test_blank_lines_are_skipped_and_record_numbers_count_data_rows(write_extract):
    text = minimal_extract(
        "2018,07112001,2,29032018 0000,02042018 0000,F29,,",
        "",
        "2019,07112001,1,29032019 0000,02042019 0000,F32.9,,",
    )
    frame, info = read_extract(write_extract(text + "\n\n"))
    assert frame[RECORD_NUMBER].to_list() == [1, 2]
    assert frame["Year"].to_list() == [2018, 2019]
    assert info.rows == 2


def test_info_describes_the_file_without_values(write_extract):
    path = write_extract(SPANISH_EXTRACT)
    frame, info = read_extract(path)
    assert info.file_name == path.name
    assert info.sha256 == sha256_file(path)
    assert info.size_bytes == path.stat().st_size
    assert info.rows == 3 and info.rows_with_issues == 0
    assert info.columns["AdmissionDate"].startswith("Datetime")
    assert info.columns["Year"] == "Int16" and info.columns["Sex"] == "Int8"
    metadata = info.as_metadata()
    assert json.loads(json.dumps(metadata)) == metadata
    assert "F12.288" not in json.dumps(metadata)
    assert ExtractInfo.from_json(info.to_json()) == info


def test_parsed_frame_has_the_canonical_schema(write_extract, tmp_path):
    frame, _ = read_extract(write_extract(SPANISH_EXTRACT))
    assert dict(frame.schema) == canonical_schema()
    frame.write_parquet(tmp_path / "x.parquet")
    assert dict(pl.read_parquet_schema(tmp_path / "x.parquet")) == canonical_schema()


# --------------------------------------------------------------------------- row-level


def test_unparsable_dates_become_row_issues(write_extract):
    frame, info = read_extract(
        write_extract(
            minimal_extract(
                "2018,31022001,2,29032018 0000,02042018 0000,F29,,",
                "2018,07112001,2,2903201 00:00x,02042018 0000,F29,,",
                "2018,07112001,2,,99999999,F29,,",
                "20x8,07112001,2,29032018 0000,02042018 0000,F29,,",
            )
        )
    )
    assert issues(frame) == [
        ["DateOfBirth unparsable"],
        ["AdmissionDate unparsable"],
        ["AdmissionDate missing", "ContactEndDate unparsable"],
        ["Year unparsable"],
    ]
    assert frame["DateOfBirth"][0] is None and frame["AdmissionDate"][1] is None
    assert info.rows_with_issues == 4


@pytest.mark.parametrize("code", ["9", "3", "", "x", "12"])
def test_unknown_sex_codes_become_row_issues(write_extract, code):
    frame, _ = read_extract(
        write_extract(minimal_extract(f"2018,07112001,{code},29032018 0000,02042018 0000,F29,,"))
    )
    assert issues(frame) == [["Sex unknown"]]


@pytest.mark.parametrize("code", ["F29", "F12.288", "F1210", "T40.7X1A", "Z63.8", "f10.10"])
def test_icd10_shaped_codes_raise_no_issue(write_extract, code):
    frame, _ = read_extract(
        write_extract(minimal_extract(f"2018,07112001,2,29032018 0000,02042018 0000,F29,,{code}"))
    )
    assert issues(frame) == [[]]


@pytest.mark.parametrize("code", ["F", "12.3", "F12.34567", "BAD!", "F1-2", "F12."])
def test_non_icd10_values_become_row_issues_naming_the_column(write_extract, code):
    frame, _ = read_extract(
        write_extract(
            minimal_extract(f"2018,07112001,2,29032018 0000,02042018 0000,{code},,{code}")
        )
    )
    assert issues(frame) == [["PrincipalDiagnosis not ICD-10-shaped"]]  # the principal only
    assert frame["PrincipalDiagnosis"][0] == code  # kept as read: the row is excluded
    assert frame["Diagnosis7"][0] is None  # a bad secondary code is dropped ...
    assert frame[DROPPED_CODES][0].to_list() == [f"Diagnosis7: {shape_of(code)}"]  # ... noted


def shape_of(code: str) -> str:
    return "".join("A" if c.isalpha() else "9" if c.isdigit() else c for c in code)


@pytest.mark.parametrize("code", ["F12..1", "XYZ"])
def test_a_malformed_secondary_code_is_dropped_and_the_record_kept(write_extract, code):
    frame, _ = read_extract(write_extract(minimal_extract(
        f"2018,07112001,2,29032018 0000,02042018 0000,F29,F12.20,{code}")))
    assert issues(frame) == [[]]
    assert frame["PrincipalDiagnosis"][0] == "F29" and frame["Diagnosis2"][0] == "F12.20"
    assert frame["Diagnosis7"][0] is None
    assert frame[DROPPED_CODES][0].to_list() == [f"Diagnosis7: {shape_of(code)}"]
    assert code not in str(frame[DROPPED_CODES][0].to_list())  # the shape, never the value


def test_missing_principal_diagnosis_is_a_row_issue(write_extract):
    frame, _ = read_extract(
        write_extract(minimal_extract("2018,07112001,2,29032018 0000,02042018 0000,,F12.20,"))
    )
    assert issues(frame) == [["PrincipalDiagnosis missing"]]


def test_unparsable_auxiliary_values_are_null_and_counted_not_issues(write_extract):
    text = SPANISH_EXTRACT.replace(",4,F12.288,", ",cuatro,F12.288,")
    frame, info = read_extract(write_extract(text))
    assert frame["DaysOfStay"].to_list() == [None, 5, 4]
    assert info.unparsable_values == {"DaysOfStay": 1}
    assert issues(frame) == [[], [], []]


# --------------------------------------------------------------------------- file-level


def read_error(path) -> ExtractFormatError:
    with pytest.raises(ExtractFormatError) as caught:
        read_extract(path)
    return caught.value


def test_empty_file_is_rejected(write_extract):
    for content in ("", "\n  \n"):
        err = read_error(write_extract(content))
        assert (err.file, err.line, err.column) == ("RAECMBD_1_20240101-000000.csv", 1, None)
        assert "file is empty" in str(err)
        assert "header line" in err.expected


def test_header_only_is_rejected(write_extract):
    err = read_error(write_extract(MINIMAL_HEADER + "\n\n"))
    assert (err.line, err.column) == (2, None)
    assert "no data rows" in str(err)
    assert err.expected == "at least one data row after the header"


def test_missing_required_columns_are_listed(write_extract):
    text = "Año,Sexo,Fecha de Ingreso,Diagnóstico Principal\n2018,2,29032018 0000,F29\n"
    err = read_error(write_extract(text))
    assert err.line == 1
    assert err.column == "DateOfBirth, ContactEndDate"
    assert "Fecha de nacimiento" in err.expected and "Fecha de Fin Contacto" in err.expected
    assert "missing required columns" in str(err)


def test_duplicated_headers_name_the_column(write_extract):
    text = minimal_extract("2018,07112001,2,29032018 0000,02042018 0000,F29,,,1")
    text = text.replace(MINIMAL_HEADER, MINIMAL_HEADER + ",Sex")
    err = read_error(write_extract(text))
    assert (err.line, err.column, err.expected) == (1, "Sex", "each column once")
    assert "'Sexo' and 'Sex' both map to Sex" in str(err)


def test_binary_file_is_rejected_as_unknown_encoding_at_its_first_control_byte(write_extract):
    err = read_error(write_extract(b"PK\x03\x04\x00\x00binary\x00\xff\xfe" * 10))
    assert (err.line, err.offset, err.column) == (1, 2, None)
    assert "line 1 (byte offset 2): unknown encoding" in str(err)
    assert "UTF-8" in err.expected and "Latin-1" in err.expected


GOOD_ROW = "2018,07112001,2,29032018 0000,02042018 0000,F29,,"


def _with_bad_byte(prefix: bytes = b"") -> tuple[bytes, int]:
    """A UTF-8 extract whose third data row (line 4) holds one byte that is not UTF-8."""
    head = prefix + minimal_extract(GOOD_ROW, GOOD_ROW).encode()
    return head + f"2018,07112001,2,29032018 0000,{SECRET}".encode() + b"\xff" + b",F29,,\n", (
        len(head) + len(f"2018,07112001,2,29032018 0000,{SECRET}"))


def test_invalid_utf8_after_a_bom_names_the_line_and_byte_offset_of_the_first_bad_byte(
    write_extract
):
    raw, offset = _with_bad_byte(b"\xef\xbb\xbf")
    err = read_error(write_extract(raw))
    assert (err.line, err.offset) == (4, offset)
    assert f"line 4 (byte offset {offset}): unknown encoding" in str(err)
    assert "byte-order mark" in err.expected
    assert SECRET not in str(err)


def test_a_bad_byte_in_a_utf8_file_without_bom_names_its_line_not_mojibake(write_extract):
    raw, offset = _with_bad_byte()  # the header's "Año" is UTF-8: the file is UTF-8
    err = read_error(write_extract(raw))
    assert (err.line, err.offset) == (4, offset)
    assert f"line 4 (byte offset {offset}): unknown encoding" in str(err)
    assert "UTF-8" in err.expected and "Latin-1" in err.expected
    assert SECRET not in str(err)


def test_a_nul_byte_deep_in_a_text_file_names_its_line(write_extract):
    text = minimal_extract(GOOD_ROW, GOOD_ROW, GOOD_ROW)
    lines = text.splitlines(keepends=True)
    raw = "".join(lines[:3]).encode() + b"2018,\x00" + "".join(lines[3:]).encode()
    err = read_error(write_extract(raw))
    assert (err.line, err.offset) == (4, len("".join(lines[:3]).encode()) + 5)
    assert "looks binary" in str(err)


def test_a_utf16_file_is_named_as_such(write_extract):
    err = read_error(write_extract(minimal_extract(GOOD_ROW).encode("utf-16")))
    assert (err.line, err.offset) == (1, 0)
    assert "UTF-16" in str(err) and "re-export the file as UTF-8" in err.expected


def test_a_missing_or_unreadable_extract_is_a_format_error_naming_the_path(tmp_path):
    missing = tmp_path / "RAECMBD_1_20240101-000000.csv"
    err = read_error(missing)
    assert err.file == str(missing) and "no such file" in str(err)
    err = read_error(tmp_path)
    assert "a folder, not a file" in str(err)


def test_tab_separated_file_is_rejected_as_wrong_delimiter(write_extract):
    row = "2018\t07112001\t2\t29032018 0000\t02042018 0000\tF29\t\t"
    text = minimal_extract(row).replace(",", "\t")
    err = read_error(write_extract(text))
    assert (err.line, err.column) == (1, None)
    assert "unknown delimiter" in str(err)
    assert err.expected == "',' or ';' between the header names"


def test_row_with_too_few_fields_names_its_physical_line(write_extract):
    text = minimal_extract(
        "2018,07112001,2,29032018 0000,02042018 0000,F29,,",
        "",
        '2018,07112001,2,29032018 0000,"02042018,0000",F29',
    )
    err = read_error(write_extract(text))
    assert (err.line, err.column, err.expected, err.found) == (4, None, "8 fields", "6")
    assert str(err) == (
        "RAECMBD_1_20240101-000000.csv, line 4: wrong number of fields; expected 8 fields, found 6"
    )


def test_row_with_too_many_fields_names_its_physical_line(write_extract):
    text = minimal_extract(
        "2018,07112001,2,29032018 0000,02042018 0000,F29,,",
        "2018,07112001,2,29032018 0000,02042018 0000,F29,,,,",
    )
    err = read_error(write_extract(text))
    assert (err.line, err.expected, err.found) == (3, "8 fields", "10")
    assert "expected 8 fields, found 10" in str(err)


def test_quoted_delimiters_are_not_field_boundaries(write_extract):
    text = minimal_extract('2018,07112001,2,29032018 0000,02042018 0000,"F29",",F12.20,",""')
    frame, _ = read_extract(write_extract(text))
    # one field: the quoted commas did not split it (and, not being a code, it is dropped)
    assert frame[DROPPED_CODES].to_list() == [["Diagnosis2: ,A99.99,"]]
    assert frame["PrincipalDiagnosis"].to_list() == ["F29"]


BROKEN_FILES = {
    "too few fields": minimal_extract(f"2018,07112001,2,29032018 0000,{SECRET},F29,"),
    "too many fields": minimal_extract(f"2018,07112001,2,29032018 0000,{SECRET},F29,,,"),
    "duplicated header": minimal_extract(f"2018,07112001,2,29032018 0000,{SECRET},F29,,")
    .replace("Diagnóstico 7", "Diagnóstico 2"),
    "missing columns": f"Año,Sexo,Diagnóstico Principal\n2018,{SECRET},F29\n",
    "wrong delimiter": f"Año\tSexo\n2018\t{SECRET}\n",
    "binary": f"Año,Sexo\n2018,{SECRET}\x00\n",
}


@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_error_messages_never_contain_cell_values(write_extract, kind):
    err = read_error(write_extract(BROKEN_FILES[kind]))
    assert SECRET not in str(err)
    assert SECRET not in repr(err.args)
    assert SECRET not in " ".join(str(v) for v in vars(err).values())


# --------------------------------------------------------------------------- finding


def test_extracts_rank_by_the_timestamp_in_their_name_not_mtime(tmp_path):
    older = tmp_path / "RAECMBD_454_20231226-163036.csv"
    newer = tmp_path / "RAECMBD_455_20241226-163036.csv"
    for path in (newer, older):
        path.write_text("x")
    os.utime(newer, (1_000_000, 1_000_000))  # copied long ago: mtime must not matter
    assert find_extracts(tmp_path) == [newer, older]
    assert newest_extract(tmp_path) == newer


def test_unnamed_extracts_rank_by_modification_time(tmp_path):
    first, second = tmp_path / "a_pruned.csv", tmp_path / "b_pruned.txt"
    first.write_text("x")
    second.write_text("x")
    os.utime(first, (2_000_000_000, 2_000_000_000))
    os.utime(second, (1_900_000_000, 1_900_000_000))
    assert find_extracts(tmp_path) == [first, second]


def test_hidden_partial_and_other_files_are_ignored(tmp_path):
    keep = tmp_path / "RAECMBD_1_20240101-000000.csv"
    keep.write_text("x")
    for name in (
        ".RAECMBD_2_20250101-000000.csv",
        "RAECMBD_3_20250101-000000.csv.part",
        "RAECMBD_4_20250101-000000.csv.tmp",
        "RAECMBD_5_20250101-000000.csv.crdownload",
        "notes.xlsx",
    ):
        (tmp_path / name).write_text("x")
    (tmp_path / "folder.csv").mkdir()
    assert find_extracts(tmp_path) == [keep]


def test_directory_without_extract_gives_an_actionable_error(tmp_path):
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(ExtractFormatError) as caught:
        newest_extract(tmp_path)
    err = caught.value
    assert (err.file, err.line, err.column) == (str(tmp_path), None, None)
    message = str(err)
    assert str(tmp_path) in message
    assert "RAECMBD_<request>_<yyyymmdd>-<hhmmss>.csv" in message
    assert "mh-assets synth" in message


def test_missing_directory_gives_an_actionable_error(tmp_path):
    with pytest.raises(ExtractFormatError, match="does not exist.*mh-assets synth"):
        newest_extract(tmp_path / "nowhere")


@pytest.mark.parametrize("folder", ["empty", "nowhere"])
def test_the_synth_command_an_error_suggests_makes_the_extract_it_asks_for(tmp_path, folder):
    import shlex

    from mh_assets.cli import main

    directory = tmp_path / folder
    if folder == "empty":
        directory.mkdir()
    with pytest.raises(ExtractFormatError) as caught:
        newest_extract(directory)
    command = shlex.split(str(caught.value).split("`")[1])
    assert command[:2] == ["mh-assets", "synth"]
    assert main(command[1:]) == 0
    assert newest_extract(directory).parent == directory

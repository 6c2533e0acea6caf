"""The RAE-CMBD columns: Spanish headers, English names and the dtype each parses to.

Real extracts arrive with Spanish headers (sometimes with the accents lost by a tool
or an encoding round trip); analysts' "pruned" copies use English names. Both are
matched through one normalised key so that every later stage sees one schema, and
the output always has every canonical column, whatever the extract carried.

This is the one table of the registry's layout: the parser maps headers through it,
the synthetic generator writes files from it, and the schema check compares with it.
How values are parsed is in :mod:`.values`.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from mh_assets.core.schema import (
    DIAGNOSIS_COLUMNS,
    N_DIAGNOSES,
    PRINCIPAL,
)

N_PROCEDURES = 20
N_EXTERNAL_PROCEDURES = 6
N_MORPHOLOGIES = 6

# Canonical (English) name -> Spanish header, in the registry's column order.
_FIXED_HEAD: tuple[tuple[str, str], ...] = (
    ("Year", "Año"),
    ("AutonomousCommunity", "Comunidad Autónoma"),
    ("Province", "Provincia"),
    ("DateOfBirth", "Fecha de nacimiento"),
    ("Sex", "Sexo"),
    ("AutonomousCommunityResidence", "CCAA Residencia"),
    ("ProvinceResidence", "Provincia Residencia"),
    ("AdmissionDate", "Fecha de Ingreso"),
    ("ContactEndDate", "Fecha de Fin Contacto"),
    ("InterventionDate", "Fecha de Intervención"),
    ("DischargeType", "Tipo Alta"),
    ("FinancingRegime", "Régimen Financiación"),
    ("ContactCircumstance", "Circunstancia de Contacto"),
    ("DaysOfStay", "Estancia Días"),
    (PRINCIPAL, "Diagnóstico Principal"),
    ("PrincipalDiagnosisChapter", "Capitulo Diagnóstico Principal"),
    ("PrincipalDiagnosisSection", "Sección Diagnóstico Principal"),
    ("PrincipalDiagnosisCategory", "Categoría Diagnóstico Principal"),
    ("PrincipalDiagnosisSubcategory", "Subcategoría Diagnóstico Principal"),
)
_FIXED_TAIL: tuple[tuple[str, str], ...] = (
    ("APRDRG", "GRD APR"),
    ("APRDRGType", "Tipo GRD APR"),
    ("APRSeverityLevel", "Nivel Severidad APR"),
    ("APRMortalityRisk", "Riesgo Mortalidad APR"),
    ("APRSpanishWeight", "Peso Español APR"),
    ("APRCost", "Coste APR"),
)

PROCEDURE_COLUMNS = tuple(f"Procedure{i}" for i in range(1, N_PROCEDURES + 1))
EXTERNAL_PROCEDURE_COLUMNS = tuple(
    f"ExternalProcedure{i}" for i in range(1, N_EXTERNAL_PROCEDURES + 1)
)
MORPHOLOGY_COLUMNS = tuple(f"Morphology{i}" for i in range(1, N_MORPHOLOGIES + 1))

SPANISH_HEADERS: dict[str, str] = {
    **dict(_FIXED_HEAD),
    **{f"Diagnosis{i}": f"Diagnóstico {i}" for i in range(2, N_DIAGNOSES + 1)},
    **{f"Procedure{i}": f"Procedimiento {i}" for i in range(1, N_PROCEDURES + 1)},
    **{
        f"ExternalProcedure{i}": f"Procedimiento Externo {i}"
        for i in range(1, N_EXTERNAL_PROCEDURES + 1)
    },
    **{f"Morphology{i}": f"Morfología {i}" for i in range(1, N_MORPHOLOGIES + 1)},
    **dict(_FIXED_TAIL),
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(SPANISH_HEADERS)

REQUIRED_COLUMNS: tuple[str, ...] = (
    "Year",
    "DateOfBirth",
    "Sex",
    "AdmissionDate",
    "ContactEndDate",
    PRINCIPAL,
)

DATE_COLUMNS = ("DateOfBirth",)
DATETIME_COLUMNS = ("AdmissionDate", "ContactEndDate", "InterventionDate")
# Codes are trimmed and upper-cased; the ICD-10 ones are also shape-checked.
CODE_COLUMNS: tuple[str, ...] = (
    *DIAGNOSIS_COLUMNS,
    *PROCEDURE_COLUMNS,
    *EXTERNAL_PROCEDURE_COLUMNS,
    *MORPHOLOGY_COLUMNS,
)
DECIMAL_COMMA_COLUMNS = ("APRSpanishWeight", "APRCost")
INTEGER_COLUMNS: dict[str, pl.DataType] = {
    "Year": pl.Int16(),
    "Sex": pl.Int8(),
    "DaysOfStay": pl.Int32(),
    "APRSeverityLevel": pl.Int8(),
    "APRMortalityRisk": pl.Int8(),
}
# Columns whose unparsable values are row-level problems: the study uses them.
# Elsewhere (stay length, APR weights) an unparsable value only becomes null.
STUDY_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, *DIAGNOSIS_COLUMNS[1:])

DATETIME_DTYPE = pl.Datetime("us")


def canonical_dtype(name: str) -> pl.DataType:
    """The dtype a canonical column has after parsing (strings unless stated)."""
    if name in INTEGER_COLUMNS:
        return INTEGER_COLUMNS[name]
    if name in DATE_COLUMNS:
        return pl.Date()
    if name in DATETIME_COLUMNS:
        return DATETIME_DTYPE
    if name in DECIMAL_COMMA_COLUMNS:
        return pl.Float64()
    return pl.String()


def _strip_accents(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def header_keys(header: str) -> list[str]:
    """Matching keys for a header, most specific first: case, spacing and accents do not matter.

    Two keys because an accent can be lost two ways: decomposed to its base letter
    (``Año`` -> ``Ano``) or dropped entirely, e.g. replaced by ``?`` or U+FFFD by a
    tool that could not encode it (``A?o`` -> ``Ao``).
    """
    lowered = header.strip().lower()
    keys = [re.sub(r"[^a-z0-9]", "", _strip_accents(lowered)), re.sub(r"[^a-z0-9]", "", lowered)]
    return [key for key in dict.fromkeys(keys) if key]


def _build_lookup() -> dict[str, tuple[str, str]]:
    lookup: dict[str, tuple[str, str]] = {}
    for canonical, spanish in SPANISH_HEADERS.items():
        for key in header_keys(spanish):
            lookup[key] = (canonical, "es")
    for canonical in CANONICAL_COLUMNS:
        for key in header_keys(canonical):
            lookup[key] = (canonical, "en")
    return lookup


_LOOKUP = _build_lookup()


def map_header(header: str) -> tuple[str | None, str | None]:
    """(canonical name, "es"/"en") for a known header, (None, None) otherwise."""
    for key in header_keys(header):
        if key in _LOOKUP:
            return _LOOKUP[key]
    return None, None


def unknown_column_name(header: str, position: int) -> str:
    """An unknown header kept under a name of letters and digits only."""
    name = re.sub(r"[^A-Za-z0-9]", "", _strip_accents(header))
    return name or f"Column{position + 1}"

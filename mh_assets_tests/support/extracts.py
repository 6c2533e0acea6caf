"""Small hand-written extracts in the registry's raw Spanish layout.

No real data: every row below was typed by hand to exercise one behaviour. The
full header is copied from the reference table (shared/reference/rae_cmbd_format.md),
not generated from the parser's own table, so the mapping is checked against the doc.
"""

from __future__ import annotations

FULL_SPANISH_HEADER: list[str] = [
    "Año", "Comunidad Autónoma", "Provincia", "Fecha de nacimiento", "Sexo",
    "CCAA Residencia", "Provincia Residencia", "Fecha de Ingreso", "Fecha de Fin Contacto",
    "Fecha de Intervención", "Tipo Alta", "Régimen Financiación", "Circunstancia de Contacto",
    "Estancia Días", "Diagnóstico Principal", "Capitulo Diagnóstico Principal",
    "Sección Diagnóstico Principal", "Categoría Diagnóstico Principal",
    "Subcategoría Diagnóstico Principal",
    *[f"Diagnóstico {i}" for i in range(2, 21)],
    *[f"Procedimiento {i}" for i in range(1, 21)],
    *[f"Procedimiento Externo {i}" for i in range(1, 7)],
    *[f"Morfología {i}" for i in range(1, 7)],
    "GRD APR", "Tipo GRD APR", "Nivel Severidad APR", "Riesgo Mortalidad APR",
    "Peso Español APR", "Coste APR",
]  # fmt: skip

# A pruned extract: the columns analysts keep, Spanish headers, three discharges.
SPANISH_EXTRACT = """\
Año,Comunidad Autónoma,Provincia,Fecha de nacimiento,Sexo,Fecha de Ingreso,Fecha de Fin Contacto,Estancia Días,Diagnóstico Principal,Diagnóstico 2,Diagnóstico 3,Procedimiento 1,Peso Español APR,Coste APR
2018,13,28,07112001,2,29032018 0000,02042018 1230,4,F12.288,F10.10,,GZ3ZZZZ,"0,709993","3230,218750"
2019,1,4,1012003,1,15012019 0900,20012019 0000,5,F29,f12.20 ,Z63.8,,"1,000000","1000,5"
2020,9,8,20022005,2,01032020 0000,05032020 0000,4,F32.9,,,,,
"""

# The same three discharges with the English names of an analyst's pruned copy.
ENGLISH_EXTRACT = """\
Year,AutonomousCommunity,Province,DateOfBirth,Sex,AdmissionDate,ContactEndDate,DaysOfStay,PrincipalDiagnosis,Diagnosis2,Diagnosis3,Procedure1,APRSpanishWeight,APRCost
2018,13,28,07112001,2,29032018 0000,02042018 1230,4,F12.288,F10.10,,GZ3ZZZZ,"0,709993","3230,218750"
2019,1,4,1012003,1,15012019 0900,20012019 0000,5,F29,f12.20 ,Z63.8,,"1,000000","1000,5"
2020,9,8,20022005,2,01032020 0000,05032020 0000,4,F32.9,,,,,
"""

# Minimal header for row-level tests: the required columns plus two diagnoses.
MINIMAL_HEADER = (
    "Año,Fecha de nacimiento,Sexo,Fecha de Ingreso,Fecha de Fin Contacto,"
    "Diagnóstico Principal,Diagnóstico 2,Diagnóstico 7"
)


def minimal_extract(*rows: str) -> str:
    """The minimal header followed by the given comma-separated rows."""
    return "\n".join([MINIMAL_HEADER, *rows]) + "\n"

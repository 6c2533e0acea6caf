"""Column names shared by the stages: the contract between core modules.

The registry's Spanish headers are mapped to these English names (the ones analysts
use in their "pruned" copies), so every later stage speaks one schema.
"""

from __future__ import annotations

SEXES: tuple[str, ...] = ("female", "male")
SEX_CODES: dict[int, str] = {1: "male", 2: "female"}
SEX_LABEL_PREFIX: dict[str, str] = {"female": "F", "male": "M"}

N_DIAGNOSES = 20
PRINCIPAL = "PrincipalDiagnosis"
SECONDARY = tuple(f"Diagnosis{i}" for i in range(2, N_DIAGNOSES + 1))
DIAGNOSIS_COLUMNS: tuple[str, ...] = (PRINCIPAL, *SECONDARY)

# Added by the parser: the 1-based position of the data row in the file, and the
# row-level problems found while parsing (empty list when none).
RECORD_NUMBER = "record_number"
ROW_ISSUES = "row_issues"
# Secondary codes the parser dropped as not ICD-10-shaped: "<field>: <shape>" labels,
# where the shape writes letters as A and digits as 9 (so no code value is kept).
DROPPED_CODES = "dropped_codes"

# Added by the cohort selection.
PATIENT_ID = "patient_id"
SEX = "sex"  # "female" / "male"
AGE = "age_at_admission"
QUALITY_FLAGS = "quality_flags"
EXCLUSION_REASONS = "exclusion_reasons"

# Descriptor corpus (one row per patient).
CODES = "codes"  # list[str], normalised (no dot, upper-case), field order, principal first
N_CODES = "n_codes"
DESCRIPTORS = "descriptors"  # list[str], one descriptor per code
RESOLUTION = "resolution"  # list[str]: "exact" | "ancestor" | "unresolved"
RESOLVED_CODES = "resolved_codes"  # list[str]: the code whose descriptor was used
TEXT = "text"
DESCRIPTOR_SEPARATOR = " ; "

# Embeddings / clusters.
EMBEDDING = "embedding"
CLUSTER = "cluster"  # 0-based, 0 = largest
CLUSTER_LABEL = "cluster_label"  # "F1".."Fk" / "M1".."Mk"

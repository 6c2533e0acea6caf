"""The artifacts tree: every path under ``MH_ARTIFACTS_DIR``, written once.

Stages, the report, lineage and the tests name files through these functions, so
the layout in the README is this module and nothing else spells a path. Paths are
relative to the artifacts root (the store resolves them), with ``/`` separators so
they are the same on object storage.

* ``restricted/`` -- patient-level data, owner-only (directories 0700, files 0600);
* ``models/`` -- checkpoints trained on patient texts (a model can memorise them) and
  their ``.state/`` training state, owner-only like ``restricted/``;
* ``reference/`` -- public reference data (the ICD-10 descriptor table);
* ``tables/``, ``figures/``, ``report/`` -- publishable, small-cell suppressed;
* ``provenance/`` -- one JSON record per run.
"""

from __future__ import annotations

from pathlib import PurePosixPath

RESTRICTED = "restricted"
MODELS = "models"
REFERENCE = "reference"
TABLES = "tables"
FIGURES = "figures"
REPORT_DIR = "report"
PROVENANCE = "provenance"
#: What ``make clean-artifacts`` removes: everything materialized.
MATERIALIZED = (RESTRICTED, MODELS, REFERENCE, TABLES, FIGURES, REPORT_DIR, PROVENANCE)

# ------------------------------------------------------------------ ingest and cohort
EXTRACT = f"{RESTRICTED}/extract.parquet"
EXTRACT_INFO = f"{RESTRICTED}/extract_info.json"
#: The files the parsed extract was built from: name, sha256, rows, duplicates dropped.
EXTRACT_FILES = f"{RESTRICTED}/extract_files.json"
#: Whether the extract was generated (its ground-truth file sat beside it at ingest).
EXTRACT_ORIGIN = f"{RESTRICTED}/extract_origin.json"
COHORT = f"{RESTRICTED}/cohort.parquet"
EXCLUDED_RECORDS = f"{RESTRICTED}/excluded_records.parquet"
COHORT_FLOW = f"{RESTRICTED}/cohort_flow.csv"
DESCRIPTORS = f"{REFERENCE}/icd_descriptors.parquet"
DESCRIPTORS_INFO = f"{REFERENCE}/icd_descriptors.json"

def rejected(relative: str) -> str:
    """Where an output whose blocking check failed is written instead of ``relative``:
    the last good version stays readable in place, the rejected one beside it (still
    under restricted/, since it holds the same kind of data)."""
    return f"{RESTRICTED}/rejected/{relative.removeprefix(RESTRICTED + '/')}"


# ------------------------------------------------------------------ per sex
def corpus(sex: str) -> str:
    return f"{RESTRICTED}/corpus/{sex}.parquet"


def model_dir(sex: str, stage: str) -> str:
    """A finished checkpoint (``stage`` = ``mlm`` or ``contrastive``)."""
    return f"{MODELS}/{sex}/{stage}"


def training_state(sex: str, stage: str) -> str:
    """Per-epoch training state beside the checkpoint, so a crashed run resumes."""
    return f"{MODELS}/{sex}/.state/{stage}"


def coverage(sex: str) -> str:
    """The published descriptor coverage of a sex (occurrence shares, masked counts)."""
    return f"{TABLES}/descriptor_coverage_{sex}.json"


def embeddings(sex: str) -> str:
    return f"{RESTRICTED}/embeddings/{sex}.parquet"


def cluster_dir(sex: str) -> str:
    return f"{RESTRICTED}/clusters/{sex}"


def k_choice(sex: str) -> str:
    return f"{cluster_dir(sex)}/k_selection.json"


def assignments(sex: str) -> str:
    return f"{cluster_dir(sex)}/assignments.parquet"


def cluster_names(sex: str) -> str:
    return f"{cluster_dir(sex)}/names.json"


def cluster_display_names(sex: str) -> str:
    """{label: descriptive name} ("F3" -> "F3 · conduct disorder + cannabis abuse")."""
    return f"{cluster_dir(sex)}/display_names.json"


def stability(sex: str) -> str:
    """The unsuppressed per-cluster stability table (the published one is a table)."""
    return f"{cluster_dir(sex)}/stability.csv"


def stability_jaccard(sex: str) -> str:
    return f"{cluster_dir(sex)}/stability_jaccard.npy"


def profile(sex: str, part: str) -> str:
    """``part`` = codes, terms, summary or histogram."""
    return f"{cluster_dir(sex)}/profile_{part}.parquet"


def baseline_labels(sex: str, method: str) -> str:
    slug = method.replace(" ", "_").replace("-", "_")
    return f"{cluster_dir(sex)}/baseline_{slug}.parquet"


# ------------------------------------------------------------------ publishable
def table(stem: str, suffix: str = ".csv") -> str:
    """A published table, e.g. ``table("sud_by_sex", ".docx")``."""
    return f"{TABLES}/{stem}{suffix}"


def table_stem(stem: str) -> str:
    """The stem the table writer completes with ``.csv``, ``.xlsx`` and ``.docx``."""
    return f"{TABLES}/{stem}"


def restricted_table(stem: str, suffix: str = ".csv") -> str:
    """The unsuppressed copy of a published table (exact counts, full precision)."""
    return f"{RESTRICTED}/{TABLES}/{stem}{suffix}"


def verdict(sex: str) -> str:
    """The published "are there subtypes?" verdict of a sex (aggregates only)."""
    return f"{TABLES}/subtypes_verdict_{sex}.json"


def recommendation(sex: str) -> str:
    """The published "which representation?" finding of a sex (aggregates only)."""
    return f"{TABLES}/representation_recommendation_{sex}.json"


def figure(stem: str, suffix: str = ".png") -> str:
    return f"{FIGURES}/{stem}{suffix}"


REPORT = f"{REPORT_DIR}/index.html"
REPORT_DOCX = f"{REPORT_DIR}/study_report.docx"  # the same report, editable in Word


def provenance(run_id: str) -> str:
    return f"{PROVENANCE}/{run_id}.json"


# ------------------------------------------------------------------ kinds of path
def _top(relative: str) -> str:
    parts = PurePosixPath(relative).parts
    return parts[0] if parts else ""


def is_restricted(relative: str) -> bool:
    """Patient-level: files 0600 and directories 0700 under ``restricted/``."""
    return _top(relative) == RESTRICTED


def is_model(relative: str) -> bool:
    """A checkpoint or its training state: trained on patient texts, so owner-only too
    (directories 0700, files 0600)."""
    return _top(relative) == MODELS

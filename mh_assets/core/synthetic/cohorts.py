"""A synthetic extract taken through the ingest stages in one call, with its answer key.

Tests, benchmarks and the validity study need each sex's descriptor corpus of a
synthetic cohort and, row for row, what was planted (subtype, complexity). This runs
exactly the stages the assets run -- parse, cohort selection, descriptor lookup,
corpus -- with the study's default rules, and joins the ground truth to the corpus
order.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mh_assets.core import icd, schema
from mh_assets.core.cohort import CohortRules, select_cohort
from mh_assets.core.corpus import build_corpus
from mh_assets.core.registry import read_extract
from mh_assets.core.synthetic.extract import SyntheticSpec, write_synthetic_extract


@dataclass(frozen=True)
class SyntheticCorpus:
    """One sex's corpus and, in the same row order, the planted truth: ``subtype``
    (null in the null scenario), ``subtype_name``, ``complexity`` (null in subtypes)."""

    sex: str
    corpus: pl.DataFrame
    truth: pl.DataFrame


def synthetic_corpora(spec: SyntheticSpec, workdir: Path | None = None
                      ) -> dict[str, SyntheticCorpus]:
    """Write ``spec``'s extract (in ``workdir`` or a temporary folder) and return each
    sex's corpus with its truth."""
    with tempfile.TemporaryDirectory() as scratch:
        result = write_synthetic_extract(spec, Path(workdir or scratch))
        frame, info = read_extract(result.extract_path)
        truth = pl.read_parquet(result.truth_path)
    selection = select_cohort(frame, CohortRules(), id_key=info.sha256)
    table = icd.load_descriptors()
    ids = selection.cohort.select(schema.PATIENT_ID, schema.RECORD_NUMBER)
    out = {}
    for sex in schema.SEXES:
        corpus = build_corpus(selection.cohort, table, sex)
        planted = (corpus.select(schema.PATIENT_ID)
                   .join(ids, on=schema.PATIENT_ID, how="left", maintain_order="left")
                   .join(truth.select("record_number", "subtype", "subtype_name", "complexity"),
                         left_on=schema.RECORD_NUMBER, right_on="record_number", how="left",
                         maintain_order="left"))
        out[sex] = SyntheticCorpus(sex, corpus, planted)
    return out

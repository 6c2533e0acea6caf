"""What a representation is asked to predict: outcomes it never saw, and masked diagnoses.

Two kinds of task, in three groups that the tables keep apart:

* **Outcomes** the registry records and no representation reads. *Independent of the
  coding*: length of stay above the partition's median, and a discharge other than home
  (``Tipo Alta`` other than 1, "domicilio"). *Derived from the codes*: APR severity
  level >= 3, APR mortality risk >= 3 and APR cost in the top quartile -- the APR-DRG
  grouper computes them from the same diagnoses, so predicting them partly re-reads
  the input (in the study's cohort the share with severity >= 2 rises from about 24 %
  with 1-3 codes to 63 % with 7 or more).
* **Masked diagnoses**: the presence of a clinically meaningful block, predicted from a
  representation built *without* that block's codes (:func:`mask_block` removes them
  from every list column and from the text). A representation that knows what goes
  with psychosis predicts it from the rest of the record; code count alone cannot.

A target is a float array with NaN where it is unknown (a missing outcome), so each
task scores only the patients it has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mh_assets.core import schema
from mh_assets.core.corpus import (
    APR_COST,
    APR_MORTALITY,
    APR_SEVERITY,
    DAYS_OF_STAY,
    DISCHARGE_TYPE,
)

INDEPENDENT, DERIVED, MASKED = (
    "independent of the coding", "derived from the codes", "masked diagnosis")
GROUPS = (INDEPENDENT, DERIVED, MASKED)
HOME_DISCHARGE = "1"  # RAE-CMBD Tipo Alta 1: domicilio

#: Masked blocks: name -> code prefixes (normalised codes, no dot).
BLOCKS: dict[str, tuple[str, ...]] = {
    "psychotic disorders (F20-F29)": ("F2",),
    "depressive episode (F32-F33)": ("F32", "F33"),
    "personality disorders (F60)": ("F60",),
    "self-harm (X60-X84, Z91.5)": ("X6", "X7", "X80", "X81", "X82", "X83", "X84", "Z915"),
}


@dataclass(frozen=True)
class Task:
    """One binary prediction task: its name, group, and target (1/0, NaN = unknown).
    ``block`` names the masked block (None for an outcome)."""

    name: str
    group: str
    target: np.ndarray
    block: str | None = None


def outcome_tasks(corpus: pl.DataFrame) -> list[Task]:
    """The five outcomes, coding-independent first; NaN where the registry has no value."""
    stay = pl.col(DAYS_OF_STAY).cast(pl.Float64)
    cost = pl.col(APR_COST).cast(pl.Float64)
    definitions = [
        ("length of stay above the median", INDEPENDENT, stay > stay.median()),
        ("discharge other than home", INDEPENDENT,
         pl.col(DISCHARGE_TYPE).cast(pl.Utf8).str.strip_chars() != HOME_DISCHARGE),
        ("APR severity >= 3", DERIVED, pl.col(APR_SEVERITY).cast(pl.Float64) >= 3),
        ("APR mortality risk >= 3", DERIVED, pl.col(APR_MORTALITY).cast(pl.Float64) >= 3),
        ("APR cost in the top quartile", DERIVED, cost >= cost.quantile(0.75, "linear")),
    ]
    targets = corpus.select(
        expr.cast(pl.Float64).alias(name) for name, _, expr in definitions)
    return [Task(name, group, targets[name].fill_null(np.nan).to_numpy())
            for name, group, _ in definitions]


def in_block(prefixes: tuple[str, ...]) -> pl.Expr:
    """Per list element of ``codes``: does the code belong to the block?"""
    return pl.element().str.starts_with(prefixes[0]).or_(
        *[pl.element().str.starts_with(p) for p in prefixes[1:]])


def block_task(corpus: pl.DataFrame, block: str) -> Task:
    """Does the patient have any code of ``block``? (on the unmasked corpus)"""
    present = corpus.select(
        pl.col(schema.CODES).list.eval(in_block(BLOCKS[block])).list.any()).to_series()
    return Task(block, MASKED, present.cast(pl.Float64).to_numpy(), block)


def mask_block(corpus: pl.DataFrame, block: str) -> pl.DataFrame:
    """The corpus without ``block``'s codes: removed from ``codes`` and the lists aligned
    with it (descriptors, resolved codes, resolution), ``n_codes`` and ``text`` rebuilt."""
    keep = pl.col(schema.CODES).list.eval(~in_block(BLOCKS[block])).alias("_keep")
    aligned = [c for c in (schema.CODES, schema.DESCRIPTORS, schema.RESOLVED_CODES,
                           schema.RESOLUTION) if c in corpus.columns]
    masked = corpus.with_columns(keep).with_columns(
        pl.col(c).list.gather(pl.col("_keep").list.eval(pl.element().arg_true()))
        for c in aligned)
    return masked.drop("_keep").with_columns(
        pl.col(schema.CODES).list.len().cast(pl.Int32).alias(schema.N_CODES),
        pl.col(schema.DESCRIPTORS).list.join(schema.DESCRIPTOR_SEPARATOR).alias(schema.TEXT),
    )

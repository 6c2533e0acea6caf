"""A small synthetic descriptor corpus with planted code-set patterns.

Tests and the training benchmark need a corpus with the real schema and realistic
text lengths, but must not depend on the registry stages. Each patient draws one of
a few clinical patterns (a principal diagnosis plus typical companions, real
ICD-10-CM descriptors) and a little noise, so a model that learns anything should
separate the patterns. Generated with numpy in one pass (no per-patient loop).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .. import schema

DESCRIPTORS: dict[str, str] = {
    "F1020": "Alcohol dependence, uncomplicated",
    "F1120": "Opioid dependence, uncomplicated",
    "F1220": "Cannabis dependence, uncomplicated",
    "F12159": "Cannabis abuse with psychotic disorder, unspecified",
    "F1420": "Cocaine dependence, uncomplicated",
    "F1920": "Other psychoactive substance dependence, uncomplicated",
    "F209": "Schizophrenia, unspecified",
    "F319": "Bipolar disorder, unspecified",
    "F329": "Major depressive disorder, single episode, unspecified",
    "F411": "Generalized anxiety disorder",
    "F4310": "Post-traumatic stress disorder, unspecified",
    "F5000": "Anorexia nervosa, unspecified",
    "F603": "Borderline personality disorder",
    "F900": "Attention-deficit hyperactivity disorder, predominantly inattentive type",
    "F913": "Oppositional defiant disorder",
    "R45851": "Suicidal ideations",
    "Z638": "Other specified problems related to primary support group",
    "Z915": "Personal history of self-harm",
}

# Planted patterns: the first code is the principal diagnosis.
PATTERNS: tuple[tuple[str, ...], ...] = (
    ("F913", "F900", "F1220", "Z638"),  # externalising with cannabis use
    ("F329", "F411", "F4310", "R45851", "Z915", "F603"),  # internalising with self-harm
    ("F209", "F12159", "F319", "F1220"),  # psychosis with cannabis
    ("F1920", "F1020", "F1120", "F1420"),  # polysubstance dependence
)


def toy_corpus(
    n_patients: int, seed: int = 0, companion_p: float = 0.6, noise_p: float = 0.04
) -> pl.DataFrame:
    """A descriptor corpus (schema of ``descriptor_corpus``) with a ``pattern`` column."""
    rng = np.random.default_rng(seed)
    codes = np.array(list(DESCRIPTORS))
    index = {code: i for i, code in enumerate(codes)}
    membership = np.zeros((len(PATTERNS), len(codes)), dtype=bool)
    principal = np.array([index[p[0]] for p in PATTERNS])
    for k, pattern in enumerate(PATTERNS):  # loop over patterns, not patients
        membership[k, [index[c] for c in pattern]] = True
    pattern = rng.integers(0, len(PATTERNS), size=n_patients)
    rows = np.arange(n_patients)
    draw = rng.random((n_patients, len(codes)))
    chosen = np.where(membership[pattern], draw < companion_p, draw < noise_p)
    chosen[rows, principal[pattern]] = True
    # Principal first, the rest in random order: sort keys per row, unchosen last.
    keys = rng.random((n_patients, len(codes)))
    keys[rows, principal[pattern]] = -1.0
    keys[~chosen] = np.inf
    order = np.argsort(keys, axis=1)
    counts = chosen.sum(axis=1)
    take = np.arange(len(codes))[None, :] < counts[:, None]
    patient_rows = np.repeat(rows, counts)
    code_idx = order[take]
    long = pl.DataFrame({"row": patient_rows, schema.CODES: codes[code_idx]}).with_columns(
        pl.col(schema.CODES).replace_strict(DESCRIPTORS).alias(schema.DESCRIPTORS)
    )
    lists = long.group_by("row", maintain_order=True).agg(schema.CODES, schema.DESCRIPTORS)
    return lists.select(
        pl.format("T{}", pl.col("row").cast(pl.Utf8).str.zfill(6)).alias(schema.PATIENT_ID),
        schema.CODES,
        schema.DESCRIPTORS,
        pl.col(schema.DESCRIPTORS).list.join(schema.DESCRIPTOR_SEPARATOR).alias(schema.TEXT),
        pl.col(schema.CODES).list.len().cast(pl.Int32).alias(schema.N_CODES),
        pl.Series("pattern", pattern[lists["row"].to_numpy()]),
    )

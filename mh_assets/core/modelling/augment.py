"""Positive pairs for contrastive fine-tuning: two views of one patient.

A patient's diagnoses are a *set*: the order of the fields in a discharge record is
administrative, and a record missing one secondary code describes almost the same
patient. So ``code_set`` drops up to ``max_dropped_codes`` codes -- never all of
them -- and shuffles the order of the rest, and ``code_subset`` keeps a random share
(between ``min_kept_share`` and all) of them, so the two views of one patient differ in
how many codes they carry and code count stops being what identifies a patient;
whole descriptors move, never single words, so every view is still a list of
real diagnoses. The alternatives exist for ablation: ``dropout_only`` (SimCSE: both
views are the unchanged text and only dropout differs) and ``word_shuffle`` (the
study's augmentation: the words of the text in random order).

Views are drawn for all patients at once with polars (explode, random keys, rank
within patient, regroup) from a generator seeded by (seed, epoch, view), so each
epoch sees fresh pairs and a resumed run sees the pairs it would have seen.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .. import schema

_ROW = "__row"
_KEY = "__key"
_ITEM = "__item"


def code_set_view(descriptors: pl.Series, max_dropped: int, rng: np.random.Generator) -> pl.Series:
    """Per patient: drop U{0..max_dropped} descriptors (keeping >= 1), shuffle the rest."""
    n = len(descriptors)
    long = _explode(descriptors, rng)
    n_codes = descriptors.list.len().fill_null(0).to_numpy()
    drop = np.minimum(rng.integers(0, max_dropped + 1, size=n), np.maximum(n_codes - 1, 0))
    kept = long.with_columns(
        pl.col(_KEY).rank("ordinal").over(_ROW).alias("__rank"),
        pl.Series("__drop", drop[long[_ROW].to_numpy()]),
    ).filter(pl.col("__rank") > pl.col("__drop"))
    return _regroup(kept, n, descriptors.name)


def code_subset_view(descriptors: pl.Series, min_share: float,
                     rng: np.random.Generator) -> pl.Series:
    """Per patient: keep a random subset of ``ceil(f * n)`` descriptors, f ~ U[min_share, 1]
    (at least one), shuffled. Two views of one patient then differ in *how many* codes
    they carry, so the encoder learns that code count is not what identifies a patient."""
    n = len(descriptors)
    long = _explode(descriptors, rng)
    n_codes = descriptors.list.len().fill_null(0).to_numpy()
    share = min_share + (1.0 - min_share) * rng.random(n)
    keep = np.maximum(np.ceil(share * n_codes), np.minimum(n_codes, 1)).astype(np.int64)
    kept = long.with_columns(
        pl.col(_KEY).rank("ordinal").over(_ROW).alias("__rank"),
        pl.Series("__keep", keep[long[_ROW].to_numpy()]),
    ).filter(pl.col("__rank") <= pl.col("__keep"))
    return _regroup(kept, n, descriptors.name)


def word_shuffle_view(texts: pl.Series, rng: np.random.Generator) -> pl.Series:
    """The study's augmentation: the text's words (split at spaces) in random order."""
    words = texts.str.split(" ")
    shuffled = _regroup(_explode(words, rng), len(texts), texts.name)
    return shuffled.list.join(" ")


def make_views(
    corpus: pl.DataFrame, augmentation: str, max_dropped: int, seed: int, epoch: int,
    min_share: float = 0.3,
) -> tuple[list[str], list[str]]:
    """The two texts per patient for one epoch, in corpus order."""
    if augmentation == "dropout_only":
        texts = corpus[schema.TEXT].to_list()
        return texts, texts
    views = []
    for view in (0, 1):
        rng = np.random.default_rng([seed, epoch, view])
        if augmentation == "code_set":
            lists = code_set_view(corpus[schema.DESCRIPTORS], max_dropped, rng)
            views.append(lists.list.join(schema.DESCRIPTOR_SEPARATOR).to_list())
        elif augmentation == "code_subset":
            lists = code_subset_view(corpus[schema.DESCRIPTORS], min_share, rng)
            views.append(lists.list.join(schema.DESCRIPTOR_SEPARATOR).to_list())
        elif augmentation == "word_shuffle":
            views.append(word_shuffle_view(corpus[schema.TEXT], rng).to_list())
        else:
            raise ValueError(f"unknown augmentation {augmentation!r}")
    return views[0], views[1]


def _explode(lists: pl.Series, rng: np.random.Generator) -> pl.DataFrame:
    """One row per list element with its patient row and a uniform random key."""
    long = (
        pl.DataFrame({_ITEM: lists})
        .with_row_index(_ROW)
        .explode(_ITEM)
        .drop_nulls(_ITEM)
    )
    return long.with_columns(pl.Series(_KEY, rng.random(long.height)))


def _regroup(long: pl.DataFrame, n: int, name: str) -> pl.Series:
    """Back to one list per patient, elements ordered by their random key."""
    grouped = long.sort(_ROW, _KEY).group_by(_ROW, maintain_order=True).agg(pl.col(_ITEM))
    rows = pl.DataFrame({_ROW: np.arange(n, dtype=np.uint32)})
    out = rows.join(grouped, on=_ROW, how="left").sort(_ROW)[_ITEM]
    return out.fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).rename(name)

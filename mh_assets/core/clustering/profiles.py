"""What each cluster is made of: codes (c-DF-IPF, prevalence, lift), descriptor terms
(class-based TF-IDF) and the distributions of n_codes and age.

c-DF-IPF, as the study defines it: over the N patients of the partition,
``IPF(c) = ln(N / patients with c)``; cluster K's score for code c is IPF(c) summed over
K's members who have c, divided by |K| -- i.e. prevalence of c in K times IPF(c). A code
scores high when it is common in the cluster and rare overall. Alongside it: prevalence
in K and outside K, and lift = prevalence in K / prevalence in the partition.

Class-based TF-IDF (BERTopic's c-TF-IDF, Grootendorst 2022) with each whole descriptor
as one term: ``W(t, K) = tf(t, K) * ln(1 + A / f(t))`` where tf(t, K) is the number of
occurrences of t among K's members divided by the total occurrences of all terms in K
(L1-normalised per cluster), f(t) the occurrences of t over all clusters and A the mean
number of term occurrences per cluster (BERTopic truncates A to an integer; we do not).

Everything is one pass over the exploded (patient, code) pairs into a sparse patient x
code matrix and ``bincount``-style cluster sums: 1,000,000 patients take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.icd import display_expr


@dataclass(frozen=True)
class CodeMatrix:
    """Binary patients x codes (CSR), the sorted distinct codes and one descriptor each
    (the most common pairing in the corpus itself, ties to the first in sort order)."""

    matrix: sp.csr_matrix
    codes: pl.Series
    descriptors: pl.Series


def vocabulary_ids(values: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """Sorted distinct values and each value's position among them (vectorised)."""
    vocab = values.unique().sort()
    return vocab, vocab.search_sorted(values).to_numpy().astype(np.int64)


def explode_list(corpus: pl.DataFrame, column: str) -> tuple[np.ndarray, pl.Series]:
    """(row index of every list element, the elements) for a list column."""
    lists = corpus[column]
    rows = np.repeat(np.arange(corpus.height), lists.list.len().fill_null(0).to_numpy())
    flat = lists.explode(empty_as_null=True).drop_nulls()
    if len(flat) != len(rows):
        raise ValueError(f"column {column!r} holds null elements inside its lists")
    return rows, flat


def code_matrix(corpus: pl.DataFrame) -> CodeMatrix:
    """The partition's patients x codes incidence matrix, from ``codes``/``descriptors``."""
    rows, codes = explode_list(corpus, schema.CODES)
    vocab, ids = vocabulary_ids(codes)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, ids)),
                           shape=(corpus.height, len(vocab)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a code listed twice for a patient is still one patient with it
    # Descriptors pair with codes position by position; without them, the code stands in.
    aligned = schema.DESCRIPTORS in corpus.columns and bool(
        (corpus[schema.CODES].list.len() == corpus[schema.DESCRIPTORS].list.len()).all()
    )
    if not aligned:
        descriptors = vocab.alias("descriptor")
    else:
        _, flat = explode_list(corpus, schema.DESCRIPTORS)
        descriptors = (
            pl.DataFrame({"id": ids, "descriptor": flat})
            .group_by("id", "descriptor").len()
            .sort(["id", "len", "descriptor"], descending=[False, True, False])
            .unique(subset="id", keep="first", maintain_order=True)
            .sort("id")["descriptor"]
        )
    return CodeMatrix(matrix=matrix, codes=vocab.alias("code"), descriptors=descriptors)


def _onehot(labels: np.ndarray, k: int) -> sp.csr_matrix:
    n = len(labels)
    return sp.csr_matrix((np.ones(n, dtype=np.float32), (labels, np.arange(n))), shape=(k, n))


def code_profiles(corpus: pl.DataFrame, labels: np.ndarray, names: list[str]) -> pl.DataFrame:
    """One row per (cluster, code present in the cluster), ranked by c-DF-IPF.

    Columns: cluster (Int32), cluster_label, code, code_display, descriptor,
    patients_with_code (Int64, members of the cluster with the code), cluster_size
    (Int64), prevalence_in, prevalence_out (NaN when k = 1), prevalence_overall, lift,
    ipf, c_df_ipf (Float64), rank (Int32, 1 = highest c-DF-IPF in the cluster; ties by
    code). Counts are aggregates but may be small: suppress before publishing.
    """
    labels = np.asarray(labels, dtype=np.int64)
    k, n = len(names), corpus.height
    if len(labels) != n:
        raise ValueError(f"{len(labels)} cluster labels for {n} corpus rows")
    cm = code_matrix(corpus)
    counts = np.asarray((_onehot(labels, k) @ cm.matrix).todense(), dtype=np.float64)  # k x C
    with_code = counts.sum(axis=0)
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    ipf = np.log(n / with_code)
    with np.errstate(divide="ignore", invalid="ignore"):
        prevalence_in = counts / sizes[:, None]
        prevalence_out = (with_code[None, :] - counts) / (n - sizes)[:, None]
    overall = with_code / n
    cluster, code = np.nonzero(counts)
    frame = pl.DataFrame({
        schema.CLUSTER: pl.Series(cluster, dtype=pl.Int32),
        schema.CLUSTER_LABEL: pl.Series(np.asarray(names)[cluster], dtype=pl.Utf8),
        "code": cm.codes.gather(code),
        "descriptor": cm.descriptors.gather(code),
        "patients_with_code": pl.Series(counts[cluster, code], dtype=pl.Int64),
        "cluster_size": pl.Series(sizes[cluster], dtype=pl.Int64),
        "prevalence_in": prevalence_in[cluster, code],
        "prevalence_out": prevalence_out[cluster, code],
        "prevalence_overall": overall[code],
        "lift": prevalence_in[cluster, code] / overall[code],
        "ipf": ipf[code],
        "c_df_ipf": prevalence_in[cluster, code] * ipf[code],
    })
    return (
        frame.sort([schema.CLUSTER, "c_df_ipf", "code"], descending=[False, True, False])
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(schema.CLUSTER).alias("rank"),
            display_expr(pl.col("code")).alias("code_display"),
        )
        .select(schema.CLUSTER, schema.CLUSTER_LABEL, "code", "code_display", "descriptor",
                "patients_with_code", "cluster_size", "prevalence_in", "prevalence_out",
                "prevalence_overall", "lift", "ipf", "c_df_ipf", "rank")
    )


def term_profiles(corpus: pl.DataFrame, labels: np.ndarray, names: list[str]) -> pl.DataFrame:
    """Class-based TF-IDF of whole descriptors per cluster (formula in the module doc).

    Columns: cluster (Int32), cluster_label, term, count (Int64, occurrences among the
    cluster's members), tf, idf, c_tf_idf (Float64), rank (Int32, 1 = highest).
    """
    labels = np.asarray(labels, dtype=np.int64)
    k = len(names)
    rows, terms = explode_list(corpus, schema.DESCRIPTORS)
    vocab, ids = vocabulary_ids(terms)
    counts = np.bincount(labels[rows] * len(vocab) + ids, minlength=k * len(vocab))
    counts = counts.reshape(k, len(vocab)).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = np.where(totals > 0, counts / totals, 0.0)
    frequency = counts.sum(axis=0)
    average = counts.sum() / k
    idf = np.log(1.0 + average / frequency)
    cluster, term = np.nonzero(counts)
    frame = pl.DataFrame({
        schema.CLUSTER: pl.Series(cluster, dtype=pl.Int32),
        schema.CLUSTER_LABEL: pl.Series(np.asarray(names)[cluster], dtype=pl.Utf8),
        "term": vocab.gather(term),
        "count": pl.Series(counts[cluster, term], dtype=pl.Int64),
        "tf": tf[cluster, term],
        "idf": idf[term],
        "c_tf_idf": tf[cluster, term] * idf[term],
    })
    ordered = frame.sort([schema.CLUSTER, "c_tf_idf", "term"], descending=[False, True, False])
    return ordered.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(schema.CLUSTER).alias("rank")
    )


def distributions(corpus: pl.DataFrame, labels: np.ndarray,
                  names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(summary, histogram) of n_codes and age per cluster.

    summary: cluster, cluster_label, variable ("n_codes" / "age_at_admission"), n, mean,
    sd, min, q25, median, q75, max. histogram: cluster, cluster_label, variable, value
    (Int64; age floored to whole years), n_patients (Int64).
    """
    variables = [c for c in (schema.N_CODES, schema.AGE) if c in corpus.columns]
    frame = corpus.select(
        pl.Series(schema.CLUSTER, np.asarray(labels), dtype=pl.Int32),
        *[pl.col(c).cast(pl.Float64) for c in variables],
    ).with_columns(
        pl.col(schema.CLUSTER).replace_strict(list(range(len(names))), names, return_dtype=pl.Utf8)
        .alias(schema.CLUSTER_LABEL)
    ).unpivot(index=[schema.CLUSTER, schema.CLUSTER_LABEL], on=variables, variable_name="variable")
    frame = frame.drop_nulls("value")
    keys = [schema.CLUSTER, schema.CLUSTER_LABEL, "variable"]
    v = pl.col("value")
    summary = frame.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("n"), v.mean().alias("mean"), v.std().alias("sd"),
        v.min().alias("min"), v.quantile(0.25, "linear").alias("q25"), v.median().alias("median"),
        v.quantile(0.75, "linear").alias("q75"), v.max().alias("max"),
    ).sort(["variable", schema.CLUSTER])
    histogram = (
        frame.with_columns(v.floor().cast(pl.Int64))
        .group_by([*keys, "value"]).len(name="n_patients")
        .with_columns(pl.col("n_patients").cast(pl.Int64))
        .sort(["variable", schema.CLUSTER, "value"])
    )
    return summary, histogram


@dataclass(frozen=True)
class ClusterProfiles:
    codes: pl.DataFrame  # all (cluster, code) rows: see code_profiles
    top_codes: pl.DataFrame  # codes with rank <= config.top_codes
    terms: pl.DataFrame  # terms with rank <= config.top_terms: see term_profiles
    summary: pl.DataFrame  # see distributions
    histogram: pl.DataFrame


def profile_clusters(corpus: pl.DataFrame, labels: np.ndarray, names: list[str],
                     config: ClusterConfig = ClusterConfig()) -> ClusterProfiles:
    """All profiles of one partition's clustering (``labels`` aligned with ``corpus``)."""
    codes = code_profiles(corpus, labels, names)
    summary, histogram = distributions(corpus, labels, names)
    return ClusterProfiles(
        codes=codes,
        top_codes=codes.filter(pl.col("rank") <= config.top_codes),
        terms=term_profiles(corpus, labels, names).filter(pl.col("rank") <= config.top_terms),
        summary=summary,
        histogram=histogram,
    )

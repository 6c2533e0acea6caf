"""The final clustering: K-Means with many starts, clusters named by size.

K-Means numbers clusters arbitrarily, so a rerun (or another machine) could call the
same group "cluster 3" or "cluster 5". Clusters are therefore renumbered by size,
largest first (ties: the cluster whose first member comes earlier in the input), and
labelled ``F1..Fk`` / ``M1..Mk`` (``schema.SEX_LABEL_PREFIX``), so names stay attached
to the same groups and read the same in every table and figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.geometry import (
    child_seeds,
    indices,
    kmeans_labels,
    normalise_rows,
    thread_limit,
)

FINAL_FIT_STAGE = 2


def cluster_names(sex: str, k: int) -> list[str]:
    """``["F1", ..., "Fk"]`` for female, ``["M1", ...]`` for male."""
    if sex not in schema.SEX_LABEL_PREFIX:
        raise ValueError(f"sex must be one of {tuple(schema.SEX_LABEL_PREFIX)}, got {sex!r}")
    return [f"{schema.SEX_LABEL_PREFIX[sex]}{i + 1}" for i in range(k)]


def order_by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel so 0 is the largest cluster; equal sizes keep first-appearance order."""
    labels = np.asarray(labels, dtype=np.int64)
    ids, first, sizes = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -sizes))  # primary: size desc; secondary: first index
    mapping = np.empty(ids.max() + 1, dtype=np.int64)
    mapping[ids[order]] = np.arange(len(ids))
    return mapping[labels]


@dataclass(frozen=True)
class ClusterFit:
    """``labels``: 0-based cluster per input row (0 = largest). ``sizes``: per cluster.
    ``silhouette`` / ``macro_silhouette``: exact cosine silhouettes on all rows."""

    labels: np.ndarray
    names: list[str]
    sizes: np.ndarray
    silhouette: float
    macro_silhouette: float
    per_cluster_silhouette: np.ndarray

    @property
    def k(self) -> int:
        return len(self.names)

    def as_metadata(self) -> dict[str, object]:
        """Cluster sizes and silhouettes: counts and scores only."""
        return {
            "k": self.k,
            "sizes": {name: int(size) for name, size in zip(self.names, self.sizes)},
            "silhouette": round(self.silhouette, 4),
            "macro_silhouette": round(self.macro_silhouette, 4),
        }


def fit_clusters(X: np.ndarray, k: int, sex: str,
                 config: ClusterConfig = ClusterConfig()) -> ClusterFit:
    """K-Means (``config.n_init`` k-means++ starts, seeded) on the L2-normalised rows of
    ``X``, renumbered by size."""
    with thread_limit(config.threads):
        return _fit_clusters(X, k, sex, config)


def _fit_clusters(X: np.ndarray, k: int, sex: str, config: ClusterConfig) -> ClusterFit:
    if not 2 <= k < X.shape[0]:
        raise ValueError(f"k must be in [2, n_patients), got k={k} for {X.shape[0]} rows")
    Xn = normalise_rows(X)
    (seed,) = child_seeds(config.seed, FINAL_FIT_STAGE, 1)
    labels = order_by_size(kmeans_labels(Xn, k, config.n_init, seed, config.max_iter, config.tol))
    ix = indices(Xn, labels, k)
    return ClusterFit(
        labels=labels,
        names=cluster_names(sex, k),
        sizes=np.bincount(labels, minlength=k),
        silhouette=ix.silhouette,
        macro_silhouette=ix.macro_silhouette,
        per_cluster_silhouette=ix.per_cluster_silhouette,
    )


def assignments(patient_ids: pl.Series, fit: ClusterFit) -> pl.DataFrame:
    """Restricted table: ``patient_id``, ``cluster`` (Int32, 0 = largest),
    ``cluster_label`` (Utf8, e.g. "F1"), in input order."""
    if len(patient_ids) != len(fit.labels):
        raise ValueError(f"{len(patient_ids)} patient ids for {len(fit.labels)} cluster labels")
    return pl.DataFrame({
        schema.PATIENT_ID: patient_ids,
        schema.CLUSTER: pl.Series(fit.labels, dtype=pl.Int32),
        schema.CLUSTER_LABEL: pl.Series(np.asarray(fit.names)[fit.labels], dtype=pl.Utf8),
    })

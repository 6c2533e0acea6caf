"""Cluster stability by resampling (Hennig 2007, the method of R's ``fpc::clusterboot``).

A cluster that is real should reappear when the data are perturbed. For each resample
the points are reclustered with the same K-Means and the same k; each original cluster
``C``, restricted to the distinct points that were drawn, is compared with every new
cluster ``D`` by Jaccard similarity ``|C n D| / |C u D|`` and matched to its best ``D``.
Per cluster we report the mean best-match Jaccard over resamples, and how often it
*dissolved* (best match < 0.5) or was *recovered* (>= 0.75) -- Hennig's thresholds.
Clusters absent from a resample are skipped for that resample.

Resampling is a setting: "bootstrap" (with replacement; duplicates are collapsed to
one point, as in clusterboot) or "subsample" (without replacement). The resample size
is ``ClusterConfig.stability_size``: by default the k-selection rule, min(n, max(500,
20% of n)) -- an m-out-of-n bootstrap, so 100 resamples of 100,000 patients take about
half a minute on one core; ``stability_sample_size=1.0`` gives the classical
n-out-of-n bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.geometry import (
    Matrix,
    child_seeds,
    kmeans_labels,
    normalise_rows,
    parallel_map,
    resample,
    thread_limit,
)

STABILITY_STAGE = 3


def best_match_jaccard(original: np.ndarray, new: np.ndarray, k: int) -> np.ndarray:
    """For each original cluster 0..k-1: the max over new clusters D of
    Jaccard(C, D), both evaluated on the same (distinct) points. NaN where C is empty."""
    original = np.asarray(original, dtype=np.int64)
    new_ids, new = np.unique(np.asarray(new), return_inverse=True)
    table = sp.coo_matrix(
        (np.ones(len(original)), (original, new)), shape=(k, len(new_ids))
    ).toarray()
    size_c = table.sum(axis=1, keepdims=True)
    size_d = table.sum(axis=0, keepdims=True)
    # Every new cluster has at least one point, so the denominator is never 0.
    jaccard = table / (size_c + size_d - table)
    best = jaccard.max(axis=1) if jaccard.shape[1] else np.zeros(k)
    best[size_c.ravel() == 0] = np.nan
    return best


def _resample_jaccard(Xn: Matrix, labels: np.ndarray, k: int, seed: int, size: int,
                      config: ClusterConfig) -> np.ndarray:
    """Best-match Jaccard of every original cluster in one resample (a worker's task)."""
    rng = np.random.default_rng(seed)
    idx = resample(rng, Xn.shape[0], size, config.stability_resampling)
    with thread_limit(config.threads):
        new = kmeans_labels(Xn[idx], k, config.stability_n_init, int(rng.integers(2**31 - 1)),
                            config.resample_max_iter, config.tol)
    # Duplicates of a point get the same label; keep one copy of each point.
    distinct, first = np.unique(idx, return_index=True)
    return best_match_jaccard(labels[distinct], new[first], k)


@dataclass(frozen=True)
class Stability:
    """``table``: cluster (Int32), cluster_label, size (Int64), n_resamples (resamples
    that contained the cluster, Int32), mean_jaccard, sd_jaccard, dissolved_rate,
    recovered_rate (Float64), unstable (Boolean: mean_jaccard < stability_warn).
    ``jaccard``: resamples x k matrix of best-match Jaccards (NaN = absent)."""

    table: pl.DataFrame
    jaccard: np.ndarray
    warn_below: float

    @property
    def mean_jaccard(self) -> float:
        """Mean over clusters of the per-cluster mean Jaccard."""
        return float(self.table["mean_jaccard"].mean())

    @property
    def unstable(self) -> list[str]:
        return self.table.filter(pl.col("unstable"))[schema.CLUSTER_LABEL].to_list()

    def as_metadata(self) -> dict[str, object]:
        return {
            "mean_jaccard": round(self.mean_jaccard, 4),
            "per_cluster_mean_jaccard": {
                label: round(float(v), 4)
                for label, v in zip(self.table[schema.CLUSTER_LABEL], self.table["mean_jaccard"])
            },
            "unstable_clusters": self.unstable,
            "warn_below": self.warn_below,
            "n_resamples": int(self.jaccard.shape[0]),
        }


def cluster_stability(X: Matrix, labels: np.ndarray, names: list[str],
                      config: ClusterConfig = ClusterConfig()) -> Stability:
    """Hennig's bootstrap stability of the clustering ``labels`` (0..k-1) of ``X``
    (dense embeddings or a sparse feature matrix); ``names`` label the k clusters."""
    with thread_limit(config.threads):
        return _cluster_stability(X, labels, names, config)


def _cluster_stability(X: Matrix, labels: np.ndarray, names: list[str],
                       config: ClusterConfig) -> Stability:
    labels = np.asarray(labels, dtype=np.int64)
    k = len(names)
    n = X.shape[0]
    size = config.stability_size(n)
    Xn = normalise_rows(X)
    seeds = child_seeds(config.seed, STABILITY_STAGE, config.stability_resamples)
    jaccard = np.array(parallel_map(
        _resample_jaccard, [(Xn, labels, k, seed, size, config) for seed in seeds], config.n_jobs
    )).reshape(len(seeds), k)
    # numpy, not a polars group_by: a fixed summation order keeps reruns bit-identical.
    present = ~np.isnan(jaccard)
    counts = present.sum(axis=0)
    filled = np.where(present, jaccard, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = filled.sum(axis=0) / counts
        sd = np.sqrt((np.where(present, jaccard - mean, 0.0) ** 2).sum(axis=0) / (counts - 1))
        dissolved = (present & (filled < config.dissolved_below)).sum(axis=0) / counts
        recovered = (present & (filled >= config.recovered_from)).sum(axis=0) / counts
    table = (
        pl.DataFrame({
            schema.CLUSTER: pl.Series(np.arange(k), dtype=pl.Int32),
            schema.CLUSTER_LABEL: pl.Series(names, dtype=pl.Utf8),
            "size": pl.Series(np.bincount(labels, minlength=k), dtype=pl.Int64),
            "n_resamples": pl.Series(counts, dtype=pl.Int32),
            "mean_jaccard": mean,
            "sd_jaccard": np.where(counts > 1, sd, np.nan),
            "dissolved_rate": dissolved,
            "recovered_rate": recovered,
        })
        .fill_nan(None)
        .with_columns(
            (pl.col("mean_jaccard") < config.stability_warn).fill_null(True).alias("unstable")
        )
    )
    return Stability(table=table, jaccard=jaccard, warn_below=config.stability_warn)

"""Cluster-quality indices computed from cluster sums instead of pairwise distances.

Why: the silhouette is quadratic in the number of points if computed from a distance
matrix, which is what made the study evaluate k on ~24 patients per resample. For the
cosine metric on L2-normalised rows it is not: the summed cosine distance from a point
``x`` to all members of cluster ``C`` is ``|C| - x . S_C`` (``S_C`` = sum of C's rows; the
point itself contributes ``1 - x . x = 0``). So every point's mean distance to every
cluster comes from one ``n x d`` by ``d x k`` product, and the *exact* silhouette of all
points costs O(n d k). Calinski-Harabasz and Davies-Bouldin (Euclidean, in the same
normalised space K-Means works in) come from the same product and sums, so one product
per clustering gives all four indices.

Rows are L2-normalised once (:func:`normalise_rows`); dense inputs stay float32 with
float64 accumulation of the cluster sums; sparse inputs (the baselines) stay sparse.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

Matrix = np.ndarray | sp.csr_matrix
T = TypeVar("T")


def normalise_rows(X: Matrix) -> Matrix:
    """Unit-length rows, so cosine similarity is a dot product and squared Euclidean
    distance is ``2 - 2 cos``: K-Means on these rows optimises the cosine geometry the
    silhouette is measured in. All-zero rows stay zero (they have no direction)."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ X)
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(X / norms, dtype=np.float32)


def thread_limit(threads: int | None) -> contextlib.AbstractContextManager:
    """Cap BLAS/OpenMP threads for a block (no-op for None).

    Through one controller per process (:func:`thread_controller`): building one
    (``threadpool_limits`` does, on every call) rescans the process's loaded libraries,
    which cost ~20% of a null cohort's reduced pipeline, called thousands of times."""
    return thread_controller().limit(limits=threads) if threads else contextlib.nullcontext()


_controller: tuple[int, ThreadpoolController] | None = None


def thread_controller() -> ThreadpoolController:
    """The process's ``ThreadpoolController``, rebuilt whenever ``sys.modules`` changed
    size since it was built: an import may have loaded a new BLAS or OpenMP library (as
    torch's does), which a stale controller would leave uncapped."""
    global _controller
    modules = len(sys.modules)
    if _controller is None or _controller[0] != modules:
        _controller = (modules, ThreadpoolController())
    return _controller[1]


def parallel_map(fn: Callable[..., T], tasks: list[tuple], n_jobs: int) -> list[T]:
    """``[fn(*task) for task in tasks]``, in worker processes when ``n_jobs`` > 1.

    Processes, not threads: each resample is independent, so two single-threaded workers
    use two cores fully, and unlike OpenMP threads they do not spin-wait on a busy machine.
    Results come back in task order and each task carries its own seed, so the output is
    identical for any ``n_jobs``. Large arrays reach the workers memory-mapped (joblib).
    ``n_jobs`` is capped at the cores this process may use: a sex partition's process
    given one core of two (``mh-assets run``) runs the tasks in-process."""
    n_jobs = min(n_jobs, usable_cores())
    if n_jobs <= 1 or len(tasks) <= 1:
        return [fn(*task) for task in tasks]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(fn)(*task) for task in tasks)


def usable_core_ids() -> list[int]:
    """The cores this process may run on, sorted (its CPU affinity where the OS has
    one, else every core)."""
    import os

    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def usable_cores() -> int:
    """How many cores this process may run on."""
    return max(1, len(usable_core_ids()))


def release_workers() -> None:
    """Stop the worker processes :func:`parallel_map` keeps for reuse.

    joblib keeps them alive for 300 s after their last task, and a process cannot exit
    before its children do: without this, a run's process sat idle for up to five
    minutes after its last step. Call when no more parallel work follows.
    """
    import sys

    reusable = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(reusable, "_executor", None) if reusable else None
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def kmeans_labels(X: Matrix, k: int, n_init: int, seed: int, max_iter: int,
                  tol: float) -> np.ndarray:
    """Lloyd K-Means with k-means++ starts: the one algorithm used everywhere (final fit,
    k-selection resamples, stability resamples, baselines), so the k chosen is the k of
    the method that is finally applied."""
    from sklearn.cluster import KMeans  # here: scikit-learn costs ~1 s of the code location's load

    model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=max_iter,
                   tol=tol, random_state=seed, algorithm="lloyd")
    return model.fit_predict(X).astype(np.int64)


def cluster_sums(X: Matrix, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(k x d float64 sums of rows per cluster, k counts); one pass over X."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    if sp.issparse(X):
        onehot = sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))),
                               shape=(k, len(labels)))
        return np.asarray((onehot @ X).todense(), dtype=np.float64), counts
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(k))
    sums = np.zeros((k, X.shape[1]), dtype=np.float64)
    present = counts > 0
    if present.any():
        sums[present] = np.add.reduceat(X[order], starts[present], axis=0, dtype=np.float64)
    return sums, counts


@dataclass(frozen=True)
class Indices:
    silhouette: float  # mean over points (cosine)
    macro_silhouette: float  # mean over clusters of the clusters' mean silhouette
    calinski_harabasz: float
    davies_bouldin: float
    per_cluster_silhouette: np.ndarray  # (k,), NaN for empty clusters


def silhouette_samples_cosine(Xn: Matrix, labels: np.ndarray, k: int) -> np.ndarray:
    """Exact per-point cosine silhouette of unit-norm rows (sklearn's convention:
    0 for points in singleton clusters)."""
    return _indices(Xn, labels, k, per_point=True)[0]


def indices(Xn: Matrix, labels: np.ndarray, k: int) -> Indices:
    """All four indices of one clustering of unit-norm rows ``Xn``."""
    return _indices(Xn, labels, k, per_point=False)[1]


def _indices(Xn: Matrix, labels: np.ndarray, k: int, per_point: bool) -> tuple[np.ndarray, Indices]:
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    sums, counts = cluster_sums(Xn, labels, k)
    present = counts > 0
    means = np.zeros_like(sums)
    means[present] = sums[present] / counts[present, None]
    # dots[i, c] = x_i . mean_c : the one O(n d k) product everything else derives from.
    if sp.issparse(Xn):
        dots = np.asarray(Xn @ means.T, dtype=np.float64)
    else:
        dots = (Xn @ means.T.astype(np.float32)).astype(np.float64)
    sq_norms = np.asarray(Xn.multiply(Xn).sum(axis=1)).ravel() if sp.issparse(Xn) else \
        np.einsum("ij,ij->i", Xn, Xn, dtype=np.float64)
    rows = np.arange(n)
    own_count = counts[labels]

    # Silhouette: mean cosine distance to each cluster = 1 - x . mean_c (own cluster:
    # rescaled to exclude the point itself, whose distance to itself is 0).
    mean_dist = 1.0 - dots
    mean_dist[:, ~present] = np.inf
    own = mean_dist[rows, labels].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(own_count > 1, own * own_count / (own_count - 1), 0.0)
    mean_dist[rows, labels] = np.inf
    b = mean_dist.min(axis=1) if k > 1 else np.full(n, np.inf)
    a = np.maximum(a, 0.0)
    b = np.maximum(b, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where((own_count > 1) & np.isfinite(b), (b - a) / np.maximum(a, b), 0.0)
    s = np.nan_to_num(s, nan=0.0)
    per_cluster = np.full(k, np.nan)
    per_cluster[present] = np.bincount(labels, weights=s, minlength=k)[present] / counts[present]

    # Calinski-Harabasz from sums: W = sum ||x||^2 - sum_c ||S_c||^2 / n_c.
    k_eff = int(present.sum())
    between_c = (sums[present] ** 2).sum(axis=1) / counts[present]
    total_sum = sums.sum(axis=0)
    within = float(sq_norms.sum() - between_c.sum())
    between = float(between_c.sum() - total_sum @ total_sum / n)
    if k_eff < 2 or n <= k_eff:
        ch = np.nan
    elif within <= 0:
        ch = 1.0
    else:
        ch = between * (n - k_eff) / (within * (k_eff - 1))

    # Davies-Bouldin: ||x - m_c||^2 = ||x||^2 - 2 x.m_c + ||m_c||^2.
    mean_sq = (means**2).sum(axis=1)
    d_own = np.sqrt(np.maximum(sq_norms - 2 * dots[rows, labels] + mean_sq[labels], 0.0))
    scatter = np.zeros(k)
    scatter[present] = np.bincount(labels, weights=d_own, minlength=k)[present] / counts[present]
    m = means[present]
    m_sq = mean_sq[present]
    gaps = np.sqrt(np.maximum(m_sq[:, None] + m_sq[None, :] - 2 * m @ m.T, 0.0))
    if k_eff < 2:
        db = np.nan
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (scatter[present][:, None] + scatter[present][None, :]) / gaps
        ratio[np.isinf(ratio) | np.isnan(ratio)] = 0.0
        np.fill_diagonal(ratio, -np.inf)
        db = float(ratio.max(axis=1).mean())

    result = Indices(
        silhouette=float(s.mean()),
        macro_silhouette=float(np.nanmean(per_cluster)),
        calinski_harabasz=float(ch),
        davies_bouldin=db,
        per_cluster_silhouette=per_cluster,
    )
    return (s if per_point else np.empty(0)), result


def resample(rng: np.random.Generator, n: int, size: int, method: str) -> np.ndarray:
    """Row indices of one resample: with replacement ("bootstrap") or without
    ("subsample"). Sorted, so the resample keeps the input's order."""
    if method == "bootstrap":
        return np.sort(rng.integers(0, n, size=size))
    return np.sort(rng.choice(n, size=size, replace=False))


def child_seeds(seed: int, stage: int, count: int) -> list[int]:
    """``count`` independent 32-bit seeds for one stage (k selection, stability, ...),
    derived from the run seed so stages never share a random stream."""
    seq = np.random.SeedSequence([seed, stage])
    return [int(s.generate_state(1)[0]) for s in seq.spawn(count)]

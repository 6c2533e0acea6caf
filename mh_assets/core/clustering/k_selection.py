"""Choosing k: resampled internal validity, with the final algorithm, per k.

The study chose k from 5 resamples of about 24 patients each, using a different
algorithm inside the bootstrap than for the final fit. Here every resample is
clustered with the same K-Means as the final fit, for every k in ``min_k..max_k``, and
scored with the silhouette (cosine; mean over points and macro-averaged over clusters),
Calinski-Harabasz and Davies-Bouldin. All k are fitted on the *same* resamples (a paired
design: differences between k are not resampling noise), and the indices are exact on
the whole resample because they come from cluster sums (see ``geometry``), not from a
distance matrix on a small evaluation subset.

Speed choices (documented in ``ClusterConfig``): rows L2-normalised once, float32; each
resample K-Means uses ``resample_n_init`` k-means++ starts (2 by default; at most
``resample_max_iter`` = 50 Lloyd iterations) while the final
fit uses ``n_init`` (10); resamples have ``min(n, max(500, 20% of n))`` points.

Rule: by default the smallest k whose mean macro-silhouette is within one standard
error (sd / sqrt(B)) of the best k's mean -- more clusters must be clearly better, not
better within resampling noise, to be chosen. A pinned k overrides the rule.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.geometry import (
    child_seeds,
    indices,
    kmeans_labels,
    normalise_rows,
    parallel_map,
    resample,
    thread_limit,
)

K_SELECTION_STAGE = 1
METRICS = ("silhouette", "macro_silhouette", "calinski_harabasz", "davies_bouldin")
PINNED_RULE = "pinned by setting"


@dataclass(frozen=True)
class KSelection:
    """Per-k summary (``table``), the per-resample scores (``resamples``) and the choice.

    ``table`` columns: k (Int32), n_resamples (Int32), then ``<metric>_mean`` and
    ``<metric>_sd`` (Float64) for silhouette, macro_silhouette, calinski_harabasz,
    davies_bouldin, and chosen (Boolean). ``resamples``: resample (Int32), k (Int32) and
    the four metrics. Both are aggregates over clusterings: no patient-level values.
    """

    table: pl.DataFrame
    resamples: pl.DataFrame
    chosen_k: int
    rule: str
    at_edge: bool
    metric: str
    sample_size: int
    n_resamples: int
    min_k: int
    max_k: int

    def as_metadata(self) -> dict[str, object]:
        row = self.table.filter(pl.col("k") == self.chosen_k)
        score = row[f"{self.metric}_mean"][0] if row.height else None
        return {
            "chosen_k": self.chosen_k,
            "rule": self.rule,
            "at_edge": self.at_edge,
            "k_range": f"{self.min_k}..{self.max_k}",
            "metric": self.metric,
            "chosen_k_score": None if score is None else round(float(score), 4),
            "n_resamples": self.n_resamples,
            "sample_size": self.sample_size,
        }


def select_k(X: np.ndarray, config: ClusterConfig = ClusterConfig()) -> KSelection:
    """Score K-Means for each k in ``config.min_k..config.max_k`` on
    ``config.n_bootstrap`` resamples of ``X`` (n x d embeddings) and choose k."""
    with thread_limit(config.threads):
        return _select_k(X, config)


def _select_k(X: np.ndarray, config: ClusterConfig) -> KSelection:
    n = X.shape[0]
    size = config.resample_size(n)
    ks = [k for k in range(config.min_k, config.max_k + 1) if k < size]
    if not ks:
        raise ValueError(
            f"resamples of {size} points are too small for k >= {config.min_k}; "
            "lower min_k or raise sample_size"
        )
    Xn = normalise_rows(X)
    seeds = child_seeds(config.seed, K_SELECTION_STAGE, config.n_bootstrap)
    scored = parallel_map(_score_resample, [(Xn, seed, ks, size, config) for seed in seeds],
                          config.n_jobs)
    rows = [(b, *row) for b, resample_rows in enumerate(scored) for row in resample_rows]
    per_resample = pl.DataFrame(
        rows, schema={"resample": pl.Int32, "k": pl.Int32, **{m: pl.Float64 for m in METRICS}},
        orient="row",
    )
    # numpy, not a polars group_by: a fixed summation order keeps reruns bit-identical.
    scores = np.array([r[2:] for r in rows], dtype=np.float64)
    scores = scores.reshape(config.n_bootstrap, len(ks), len(METRICS))
    columns: dict[str, object] = {
        "k": pl.Series(ks, dtype=pl.Int32),
        "n_resamples": pl.Series([config.n_bootstrap] * len(ks), dtype=pl.Int32),
    }
    with warnings.catch_warnings():  # CH / DB are NaN where K-Means found < 2 clusters
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, metric in enumerate(METRICS):
            columns[f"{metric}_mean"] = np.nanmean(scores[:, :, j], axis=0)
            columns[f"{metric}_sd"] = (np.nanstd(scores[:, :, j], axis=0, ddof=1)
                                       if config.n_bootstrap > 1 else np.zeros(len(ks)))
    table = pl.DataFrame(columns)
    if config.k is not None:
        chosen, rule, at_edge = config.k, PINNED_RULE, False
    else:
        chosen, rule = _choose(table, config)
        at_edge = chosen in (ks[0], ks[-1])
    return KSelection(
        table=table.with_columns((pl.col("k") == chosen).alias("chosen")),
        resamples=per_resample,
        chosen_k=int(chosen),
        rule=rule,
        at_edge=bool(at_edge),
        metric=config.k_metric,
        sample_size=size,
        n_resamples=config.n_bootstrap,
        min_k=config.min_k,
        max_k=config.max_k,
    )


def _score_resample(Xn: np.ndarray, seed: int, ks: list[int], size: int,
                    config: ClusterConfig) -> list[tuple]:
    """(k, silhouette, macro, CH, DB) for every k on one resample (runs in a worker when
    ``n_jobs`` > 1; the seed alone fixes the result, so workers change nothing)."""
    rng = np.random.default_rng(seed)
    Xb = Xn[resample(rng, Xn.shape[0], size, config.k_resampling)]
    rows = []
    with thread_limit(config.threads):
        for k in ks:
            labels = kmeans_labels(Xb, k, config.resample_n_init, int(rng.integers(2**31 - 1)),
                                   config.resample_max_iter, config.tol)
            ix = indices(Xb, labels, k)
            rows.append((k, ix.silhouette, ix.macro_silhouette, ix.calinski_harabasz,
                         ix.davies_bouldin))
    return rows


def _choose(table: pl.DataFrame, config: ClusterConfig) -> tuple[int, str]:
    ks = table["k"].to_numpy()
    mean = table[f"{config.k_metric}_mean"].to_numpy()
    se = table[f"{config.k_metric}_sd"].to_numpy() / np.sqrt(table["n_resamples"].to_numpy())
    name = config.k_metric.replace("_", "-")
    best = int(np.argmax(mean))  # first maximum: ties go to the smaller k
    if config.k_rule == "max":
        return int(ks[best]), f"max mean {name}; ties -> smaller k"
    within = np.flatnonzero(mean >= mean[best] - se[best])
    return int(ks[within[0]]), f"smallest k with mean {name} within 1 SE of the max (1-SE rule)"

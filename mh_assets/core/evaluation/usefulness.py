"""Cluster usefulness: how much each representation's clusters separate the outcomes.

A clustering that finds subtypes should sort patients into groups that differ in how
their admissions went, and by more than code count explains. For each
representation's clustering at its *own* chosen k (the clusterability test's choice,
fitted on the whole partition like the baselines): eta^2 of length of stay and APR cost
(log scale: both are right-skewed), Cramer's V of each binary outcome, and -- next to
them, for reading them against -- eta^2 of ``n_codes``. Patients with a missing value
are left out of that outcome's figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from mh_assets.core import schema
from mh_assets.core.clustering.audit import eta_squared
from mh_assets.core.clustering.baselines import fit_labels
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.geometry import Matrix, child_seeds, thread_limit
from mh_assets.core.corpus import APR_COST, DAYS_OF_STAY
from mh_assets.core.evaluation.tasks import outcome_tasks

USEFULNESS_STAGE = 8
#: Continuous outcomes, log1p-transformed before eta^2.
CONTINUOUS = {"eta2_stay": DAYS_OF_STAY, "eta2_cost": APR_COST}


def cramers_v(labels: np.ndarray, target: np.ndarray) -> float:
    """Cramer's V of a clustering and a binary target (NaN: no variation in either)."""
    labels = np.unique(np.asarray(labels), return_inverse=True)[1]
    target = np.asarray(target, dtype=np.int64)
    table = np.zeros((labels.max() + 1, 2))
    np.add.at(table, (labels, target), 1)
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum((table - expected) ** 2 / expected)
    dof = min(table.shape[0] - 1, int((table.sum(0) > 0).sum()) - 1)
    return float(np.sqrt(chi2 / (n * dof))) if dof > 0 else float("nan")


def _known(labels: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = ~np.isnan(values)
    return labels[keep], values[keep]


def _eta(labels: np.ndarray, values: np.ndarray) -> float:
    labels, values = _known(labels, values)
    return eta_squared(labels, values) if len(values) else float("nan")


def _v(labels: np.ndarray, target: np.ndarray) -> float:
    labels, target = _known(labels, target)
    return cramers_v(labels, target) if len(target) else float("nan")


def usefulness_row(corpus: pl.DataFrame, labels: np.ndarray) -> dict[str, float]:
    """eta^2(n_codes), eta^2 of log stay and cost, and V of each binary outcome."""
    labels = np.asarray(labels)
    row = {"eta2_n_codes": _eta(
        labels, corpus.get_column(schema.N_CODES).cast(pl.Float64).to_numpy())}
    for key, column in CONTINUOUS.items():
        values = np.log1p(corpus.get_column(column).cast(pl.Float64).fill_null(np.nan)
                          .to_numpy())
        row[key] = _eta(labels, values)
    for task in outcome_tasks(corpus):
        row[f"v: {task.name}"] = _v(labels, task.target)
    return row


def cluster_usefulness(corpus: pl.DataFrame, clusterings: Mapping[str, tuple[int, np.ndarray]]
                       ) -> pl.DataFrame:
    """One row per representation: its own k, then :func:`usefulness_row`'s figures.
    ``clusterings``: representation -> (k, labels in corpus order)."""
    rows = [{"representation": name, "own_k": k, **usefulness_row(corpus, labels)}
            for name, (k, labels) in clusterings.items()]
    return pl.DataFrame(rows).with_columns(pl.col("own_k").cast(pl.Int32))


def own_k_clusterings(features: Mapping[str, Matrix], ks: Mapping[str, int],
                      config: ClusterConfig = ClusterConfig()) -> dict[str, tuple[int, np.ndarray]]:
    """Each representation clustered at its own k like the baselines (rows L2-normalised,
    K-Means with ``n_init`` starts, clusters by size); representations without a k in
    ``ks`` are left out."""
    names = [name for name in features if name in ks]
    seeds = child_seeds(config.seed, USEFULNESS_STAGE, len(names))
    with thread_limit(config.threads):
        return {name: (int(ks[name]), fit_labels(features[name], int(ks[name]), seed, config))
                for name, seed in zip(names, seeds, strict=True)}

"""Hennig bootstrap stability separates real clusters from partitions of noise."""

from dataclasses import replace

import numpy as np
import polars as pl

from mh_assets.core.clustering import ClusterConfig, cluster_stability, fit_clusters

CONFIG = ClusterConfig(stability_resamples=20, sample_size=0.5, n_init=3, seed=11)


def test_stability_is_high_for_well_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.eye(10)[:4] * 5
    X = (centres[np.repeat(np.arange(4), 60)] + 0.3 * rng.normal(size=(240, 10))).astype(np.float32)
    fit = fit_clusters(X, 4, "female", CONFIG)
    result = cluster_stability(X, fit.labels, fit.names, CONFIG)
    assert result.table["mean_jaccard"].min() > 0.95
    assert result.table["recovered_rate"].to_list() == [1.0] * 4
    assert result.unstable == []
    assert result.table.columns == [
        "cluster", "cluster_label", "size", "n_resamples", "mean_jaccard",
        "sd_jaccard", "dissolved_rate", "recovered_rate", "unstable",
    ]


def test_stability_is_low_for_partitions_of_isotropic_noise():
    X = np.random.default_rng(1).normal(size=(300, 20)).astype(np.float32)
    fit = fit_clusters(X, 5, "male", CONFIG)
    result = cluster_stability(X, fit.labels, fit.names, CONFIG)
    assert result.mean_jaccard < 0.6
    assert result.table["dissolved_rate"].mean() > 0.3
    low = result.table.filter(pl.col("mean_jaccard") < 0.6)["cluster_label"]
    assert set(result.unstable) == set(low)


def test_stability_is_deterministic_for_a_seed():
    X = np.random.default_rng(2).normal(size=(120, 5)).astype(np.float32)
    labels = np.arange(120) % 3
    a = cluster_stability(X, labels, ["F1", "F2", "F3"], CONFIG)
    b = cluster_stability(X, labels, ["F1", "F2", "F3"], CONFIG)
    assert a.table.equals(b.table)


def test_worker_processes_give_the_same_stability():
    X = np.random.default_rng(2).normal(size=(120, 5)).astype(np.float32)
    labels = np.arange(120) % 3
    serial = cluster_stability(X, labels, ["F1", "F2", "F3"], CONFIG)
    parallel = cluster_stability(X, labels, ["F1", "F2", "F3"],
                                 replace(CONFIG, n_jobs=2))
    assert np.array_equal(serial.jaccard, parallel.jaccard, equal_nan=True)

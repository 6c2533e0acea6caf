"""Final K-Means naming, k selection and determinism on planted blobs."""

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering import (
    ClusterConfig,
    assignments,
    cluster_names,
    fit_clusters,
    order_by_size,
    select_k,
)


def blobs(n_per: list[int], d: int = 12, spread: float = 0.15,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters around random directions (well separated in cosine terms)."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(d, d)))[0][: len(n_per)] * 5  # orthogonal directions
    truth = np.repeat(np.arange(len(n_per)), n_per)
    X = centres[truth] + spread * 5 * rng.normal(size=(len(truth), d)) / np.sqrt(d)
    return X.astype(np.float32), truth


FAST = ClusterConfig(min_k=2, max_k=6, n_bootstrap=8, sample_size=0.5, n_init=3, seed=7)


def test_clusters_are_numbered_by_size_largest_first():
    assert order_by_size(np.array([5, 5, 2, 2, 2, 9])).tolist() == [1, 1, 0, 0, 0, 2]
    # Equal sizes: the cluster seen first keeps the smaller number.
    assert order_by_size(np.array([1, 0, 1, 0])).tolist() == [0, 1, 0, 1]


def test_labels_carry_the_sex_prefix():
    assert cluster_names("female", 3) == ["F1", "F2", "F3"]
    assert cluster_names("male", 2) == ["M1", "M2"]
    with pytest.raises(ValueError):
        cluster_names("unknown", 2)


def test_final_fit_recovers_blobs_with_largest_first_and_named_rows():
    X, truth = blobs([40, 100, 70])
    fit = fit_clusters(X, 3, "male", FAST)
    assert fit.sizes.tolist() == [100, 70, 40]
    # Cluster 0 is the 100-point blob (truth 1), and so on.
    assert (fit.labels == np.array([2, 0, 1])[truth]).all()
    table = assignments(pl.Series("patient_id", [f"P{i}" for i in range(len(X))]), fit)
    assert table.columns == ["patient_id", "cluster", "cluster_label"]
    assert table.filter(pl.col("cluster_label") == "M1").height == 100


def test_k_selection_finds_the_planted_k_inside_the_range():
    X, _ = blobs([80, 60, 70, 90])
    selection = select_k(X, FAST)
    assert selection.chosen_k == 4
    assert not selection.at_edge
    assert selection.table["k"].to_list() == [2, 3, 4, 5, 6]
    assert selection.table.filter(pl.col("chosen"))["k"].to_list() == [4]
    assert {"silhouette_mean", "macro_silhouette_sd", "calinski_harabasz_mean",
            "davies_bouldin_mean"} <= set(selection.table.columns)
    assert selection.resamples.height == 5 * FAST.n_bootstrap
    assert selection.as_metadata()["chosen_k"] == 4


def test_k_selection_flags_a_choice_at_the_edge_of_the_range():
    X, _ = blobs([50, 60, 70, 55, 65, 45], d=16)
    selection = select_k(X, FAST)
    assert selection.chosen_k == 6
    assert selection.at_edge


def test_pinned_k_overrides_the_rule():
    X, _ = blobs([80, 60, 70, 90])
    selection = select_k(X, ClusterConfig(min_k=2, max_k=4, n_bootstrap=2, k=3))
    assert (selection.chosen_k, selection.rule) == (3, "pinned by setting")


def test_same_seed_gives_identical_labels_and_tables():
    X, _ = blobs([30, 50, 40], spread=0.6)
    first, second = select_k(X, FAST), select_k(X, FAST)
    assert first.table.equals(second.table)
    assert first.resamples.equals(second.resamples)
    labels = [fit_clusters(X, 3, "female", FAST).labels for _ in range(2)]
    assert np.array_equal(*labels)


def test_worker_processes_do_not_change_the_result():
    X, _ = blobs([30, 50, 40], spread=0.6)
    config = ClusterConfig(min_k=2, max_k=4, n_bootstrap=4, sample_size=0.5, seed=7)
    serial = select_k(X, config)
    parallel = select_k(X, replace(config, n_jobs=2))
    assert serial.table.equals(parallel.table)

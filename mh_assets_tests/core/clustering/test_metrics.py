"""Cluster-quality indices, Jaccard matching and eta^2 against hand computations."""

import numpy as np
import pytest
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_samples

from mh_assets.core.clustering.audit import eta_squared
from mh_assets.core.clustering.geometry import indices, normalise_rows, silhouette_samples_cosine
from mh_assets.core.clustering.stability import best_match_jaccard

R = 1 / np.sqrt(2)
# Cluster A: (1,0), (0,1). Cluster B: (-1,0), (0,-1), (-1,-1)/sqrt2 (angle 225 deg).
POINTS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [-R, -R]], dtype=np.float32)
LABELS = np.array([0, 0, 1, 1, 1])


def hand_silhouettes() -> np.ndarray:
    # Cosine distances: A1-A2 1; A-B1/B2 are 2 and 1; A-B3 1 + r; B1-B2 1; B1/B2-B3 1 - r.
    s_a = 1 - 1 / ((2 + 1 + (1 + R)) / 3)  # a = 1, b = mean distance to B
    s_b12 = 1 - ((1 + (1 - R)) / 2) / ((2 + 1) / 2)  # a = mean to other B's, b = mean to A
    s_b3 = 1 - (1 - R) / (1 + R)
    return np.array([s_a, s_a, s_b12, s_b12, s_b3])


def test_cosine_silhouette_matches_the_hand_computation():
    got = silhouette_samples_cosine(normalise_rows(POINTS), LABELS, 2)
    np.testing.assert_allclose(got, hand_silhouettes(), atol=1e-6)


def test_macro_silhouette_averages_cluster_means_not_points():
    s = hand_silhouettes()
    ix = indices(normalise_rows(POINTS), LABELS, 2)
    macro = (s[:2].mean() + s[2:].mean()) / 2
    assert ix.macro_silhouette == pytest.approx(macro, abs=1e-6)
    assert ix.silhouette == pytest.approx(s.mean(), abs=1e-6)
    assert ix.macro_silhouette != pytest.approx(ix.silhouette, abs=1e-3)  # unequal sizes differ


def test_indices_from_cluster_sums_equal_sklearn_on_random_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 7)).astype(np.float32)
    X[:70] += 2.5
    labels = rng.integers(0, 4, size=200)
    labels[:70] = 0
    Xn = normalise_rows(X)
    ix = indices(Xn, labels, 4)
    np.testing.assert_allclose(silhouette_samples_cosine(Xn, labels, 4),
                               silhouette_samples(Xn, labels, metric="cosine"), atol=1e-5)
    assert ix.calinski_harabasz == pytest.approx(calinski_harabasz_score(Xn, labels), rel=1e-5)
    assert ix.davies_bouldin == pytest.approx(davies_bouldin_score(Xn, labels), rel=1e-5)


def test_best_match_jaccard_on_a_constructed_case():
    original = np.array([0, 0, 0, 1, 1, 1])
    new = np.array([7, 7, 3, 3, 3, 3])  # new cluster ids are arbitrary
    # C0={0,1,2}: vs {0,1} 2/3, vs {2,3,4,5} 1/6. C1={3,4,5}: vs {2,3,4,5} 3/4. C2 absent.
    got = best_match_jaccard(original, new, 3)
    np.testing.assert_allclose(got[:2], [2 / 3, 3 / 4])
    assert np.isnan(got[2])


def test_eta_squared_matches_the_hand_computation():
    # grand mean 4; group means 2 and 6: between 2*4 + 2*4 = 16; total 9+1+1+9 = 20.
    assert eta_squared(np.array([0, 0, 1, 1]), np.array([1.0, 3.0, 5.0, 7.0])) == pytest.approx(0.8)
    assert eta_squared(np.array([0, 1, 0, 1]), np.array([2.0, 2.0, 2.0, 2.0])) == 0.0


def test_thread_limit_builds_one_controller_and_still_caps_threads(monkeypatch):
    """Repeated blocks reuse one controller (no rescan of the loaded libraries per
    call), each block still caps every BLAS/OpenMP pool at 1 thread, and an import
    (a library may have loaded) makes the next block rebuild it."""
    import sys
    import types

    import threadpoolctl

    from mh_assets.core.clustering import geometry

    built = []

    class Counting(threadpoolctl.ThreadpoolController):
        def __init__(self):
            super().__init__()
            built.append(self)

    monkeypatch.setattr(geometry, "ThreadpoolController", Counting)
    monkeypatch.setattr(geometry, "_controller", None)
    for _ in range(5):
        with geometry.thread_limit(1):
            pools = threadpoolctl.threadpool_info()
            assert pools and all(pool["num_threads"] == 1 for pool in pools)
    assert len(built) == 1
    monkeypatch.setitem(sys.modules, "mh_assets_tests_fake_blas", types.ModuleType("fake"))
    with geometry.thread_limit(1):
        assert all(pool["num_threads"] == 1 for pool in threadpoolctl.threadpool_info())
    assert len(built) == 2
    with geometry.thread_limit(None):
        pass
    assert len(built) == 2

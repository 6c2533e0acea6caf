"""Cluster usefulness: eta^2 and Cramer's V of each representation's own clusters."""

import numpy as np
import polars as pl
import pytest
from scipy.stats.contingency import association

from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.evaluation.usefulness import (
    cluster_usefulness,
    cramers_v,
    own_k_clusterings,
)
from mh_assets.core.synthetic import SyntheticSpec
from mh_assets.core.synthetic.cohorts import synthetic_corpora


def test_cramers_v_equals_scipys():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 600)
    target = (rng.random(600) < 0.2 + 0.15 * labels).astype(float)
    table = np.zeros((4, 2), dtype=int)
    np.add.at(table, (labels, target.astype(int)), 1)
    assert cramers_v(labels, target) == pytest.approx(association(table, method="cramer"))


def test_clusters_on_code_count_separate_code_count_and_planted_ones_the_outcomes():
    item = synthetic_corpora(SyntheticSpec(patients=2000, seed=3, scenario="confounded"))["male"]
    n_codes = item.corpus["n_codes"].to_numpy()
    by_count = np.searchsorted(np.quantile(n_codes, [0.33, 0.66]), n_codes, side="right")
    planted = np.unique(item.truth["subtype"].to_numpy(), return_inverse=True)[1]
    table = cluster_usefulness(item.corpus, {"by count": (3, by_count),
                                             "planted": (5, planted)})
    rows = {r["representation"]: r for r in table.iter_rows(named=True)}
    assert rows["by count"]["eta2_n_codes"] > 0.5 > 0.1 > rows["planted"]["eta2_n_codes"]
    assert rows["planted"]["eta2_stay"] > 0.01  # planted subtypes shift the stay
    assert table["own_k"].to_list() == [3, 5]
    assert {c for c in table.columns if c.startswith("v: ")} >= {"v: discharge other than home"}


def test_own_k_clusterings_fit_each_representation_at_its_own_k():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(c, 0.1, (50, 3)) for c in np.eye(3)])
    found = own_k_clusterings({"a": X, "b": X, "c": X}, {"a": 2, "b": 3}, ClusterConfig())
    assert set(found) == {"a", "b"}
    assert found["a"][0] == 2 and len(np.unique(found["a"][1])) == 2
    assert len(np.unique(found["b"][1])) == 3
    assert isinstance(pl.Series(found["b"][1]), pl.Series)

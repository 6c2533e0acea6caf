"""Baselines: the multi-hot categories recover planted code-set groups."""

import numpy as np
import polars as pl

from mh_assets.core.clustering import (
    ClusterConfig,
    compare_baselines,
    fit_clusters,
    multi_hot_categories,
)

# Three planted subtypes, each drawing its codes from its own ICD-10 categories.
POOLS = [
    {"F1020": "Alcohol dependence, uncomplicated", "F1010": "Alcohol abuse, uncomplicated",
     "F1120": "Opioid dependence, uncomplicated"},
    {"F1210": "Cannabis abuse, uncomplicated", "F1220": "Cannabis dependence, uncomplicated",
     "F1510": "Other stimulant abuse, uncomplicated"},
    {"F329": "Major depressive disorder, single episode", "F411": "Generalized anxiety disorder",
     "F431": "Post-traumatic stress disorder"},
]


def planted_corpus(n: int = 240, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=n)
    codes = []
    for group in truth:
        pool = list(POOLS[group])
        codes.append(sorted(rng.choice(pool, size=rng.integers(1, 4), replace=False).tolist()))
    descriptors = [[POOLS[g][c] for c in cs] for g, cs in zip(truth, codes)]
    corpus = pl.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "codes": codes,
                           "descriptors": descriptors}).with_columns(
        pl.col("codes").list.len().cast(pl.Int32).alias("n_codes"))
    return corpus, truth


def test_multi_hot_uses_three_character_categories():
    corpus = pl.DataFrame({"codes": [["F1210", "F1220"], ["F329"]]})
    matrix = multi_hot_categories(corpus)
    assert matrix.shape == (2, 2)  # F12, F32
    assert matrix.toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_multi_hot_baseline_recovers_planted_groups_and_table_has_three_methods():
    corpus, truth = planted_corpus()
    X = np.random.default_rng(1).normal(size=(corpus.height, 8)).astype(np.float32)  # no signal
    config = ClusterConfig(stability_resamples=5, n_init=3, svd_components=5, seed=3)
    fit = fit_clusters(X, 3, "female", config)
    result = compare_baselines(X, corpus, fit.labels, fit.names, config, truth=truth)
    table = result.table
    assert table["method"].to_list() == ["transformer", "multi-hot categories", "tfidf-svd"]
    assert table.columns == ["method", "k", "silhouette", "macro_silhouette", "mean_stability",
                             "ari_vs_transformer", "ari_vs_truth"]
    by_method = {r["method"]: r for r in table.iter_rows(named=True)}
    # Each group owns distinct categories (F10/F11, F12/F15, F32/F41); ARI >= 0.8 means
    # the baseline finds them, while random embeddings do not.
    assert by_method["multi-hot categories"]["ari_vs_truth"] >= 0.8
    assert by_method["transformer"]["ari_vs_truth"] < 0.2
    assert by_method["transformer"]["ari_vs_transformer"] == 1.0
    assert set(result.labels) == set(table["method"])

"""The confounder audit fires when clusters follow n_codes, and only then."""

import numpy as np
import polars as pl

from mh_assets.core.clustering import ClusterConfig, confounder_audit


def cohort(n: int = 600, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "n_codes": pl.Series(rng.integers(1, 7, size=n), dtype=pl.Int32),
        "year": rng.integers(2016, 2021, size=n),
        "days_of_stay": [None, *rng.integers(1, 40, size=n - 1).tolist()],
    })


def test_audit_warns_when_clusters_follow_n_codes():
    corpus = cohort()
    labels = np.minimum(corpus["n_codes"].to_numpy(), 4) - 1  # "clusters" = bins of n_codes
    audit = confounder_audit(corpus, labels, ClusterConfig())
    n_codes = audit.table.filter(pl.col("variable") == "n_codes").row(0, named=True)
    assert audit.warn
    assert n_codes["ami"] > 0.3 and n_codes["eta_squared"] > 0.5
    assert audit.table["variable"].to_list() == ["n_codes", "year", "days_of_stay"]
    stay = audit.table.filter(pl.col("variable") == "days_of_stay")
    assert stay["n_patients"][0] == 599  # the null is left out
    assert audit.as_metadata()["warn"] is True


def test_audit_is_quiet_when_clusters_are_independent_of_n_codes():
    corpus = cohort()
    labels = np.random.default_rng(5).integers(0, 4, size=corpus.height)
    audit = confounder_audit(corpus, labels, ClusterConfig())
    assert not audit.warn
    assert abs(audit.table["ami"][0]) < 0.05

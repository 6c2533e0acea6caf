"""The confounder audit fires when clusters follow n_codes, at any k, and only then."""

import numpy as np
import polars as pl
from sklearn.metrics import adjusted_mutual_info_score

from mh_assets.core.clustering import ClusterConfig, confounder_audit
from mh_assets.core.clustering.audit import quantile_bins


def cohort(n: int = 600, seed: int = 0, max_codes: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "n_codes": pl.Series(rng.integers(1, max_codes, size=n), dtype=pl.Int32),
        "year": rng.integers(2016, 2021, size=n),
        "days_of_stay": [None, *rng.integers(1, 40, size=n - 1).tolist()],
        "apr_severity": rng.integers(1, 5, size=n),
    })


def test_audit_warns_when_clusters_follow_n_codes():
    corpus = cohort()
    labels = np.minimum(corpus["n_codes"].to_numpy(), 4) - 1  # "clusters" = bins of n_codes
    audit = confounder_audit(corpus, labels, ClusterConfig())
    n_codes = audit.table.filter(pl.col("variable") == "n_codes").row(0, named=True)
    assert audit.warn
    assert n_codes["ami_binned"] > 0.3 and n_codes["eta_squared"] > 0.5
    assert audit.table["variable"].to_list() == ["n_codes", "year", "days_of_stay",
                                                 "apr_severity"]
    stay = audit.table.filter(pl.col("variable") == "days_of_stay")
    assert stay["n_patients"][0] == 599  # the null is left out
    assert audit.as_metadata()["warn"] is True


def test_audit_fires_for_a_two_way_split_by_code_count_that_unbinned_ami_passes():
    """The case measured on the real cohort: k = 2, clusters = few vs many codes."""
    rng = np.random.default_rng(1)
    n_codes = np.clip(rng.poisson(5.5, size=2400) + 1, 1, 19)
    corpus = pl.DataFrame({"n_codes": n_codes})
    noisy = n_codes + rng.normal(0, 2.0, size=n_codes.size)
    labels = (noisy > np.median(noisy)).astype(int)
    assert adjusted_mutual_info_score(labels, n_codes) < 0.3  # what the old check read
    audit = confounder_audit(corpus, labels, ClusterConfig())
    assert audit.warn and audit.value("n_codes") > 0.3
    assert "eta^2(n_codes | cluster)" in audit.reasons[0]


def test_audit_warns_on_an_excess_over_the_baseline_below_the_absolute_threshold():
    rng = np.random.default_rng(2)
    corpus = cohort(n=3000, seed=2, max_codes=12)
    n_codes = corpus["n_codes"].to_numpy()
    follows = rng.random(n_codes.size) < 0.42  # some patients split by code count
    labels = np.where(follows, n_codes > 6, rng.integers(0, 2, size=n_codes.size))
    baseline = rng.integers(0, 2, size=n_codes.size)
    audit = confounder_audit(corpus, labels.astype(int), ClusterConfig(), baseline)
    eta = audit.value("n_codes")
    assert 0.10 < eta < 0.15 and audit.value("n_codes", "baseline_eta_squared") < 0.01
    assert audit.warn and "baseline" in audit.reasons[-1]
    quiet = confounder_audit(corpus, labels.astype(int), ClusterConfig(), labels.astype(int))
    assert not quiet.warn  # the baseline finds the same code-count split: no excess


def test_outcomes_are_reported_but_never_warned_on():
    corpus = cohort()
    stay = corpus["days_of_stay"].fill_null(1).to_numpy()
    labels = (stay > np.median(stay)).astype(int)
    audit = confounder_audit(corpus, labels, ClusterConfig())
    assert audit.value("days_of_stay") > 0.5
    assert audit.table.filter(pl.col("variable") == "days_of_stay")["role"][0] == "outcome"
    assert not audit.warn


def test_audit_is_quiet_when_clusters_are_independent_of_n_codes():
    corpus = cohort()
    labels = np.random.default_rng(5).integers(0, 4, size=corpus.height)
    audit = confounder_audit(corpus, labels, ClusterConfig())
    assert not audit.warn
    assert abs(audit.table["ami_binned"][0]) < 0.05


def test_quantile_bins_make_k_groups_and_keep_ties_together():
    values = np.array([1, 1, 1, 2, 3, 4, 5, 6, 7, 8])
    bins = quantile_bins(values, 2)
    assert set(bins) == {0, 1} and len(set(bins[:3])) == 1
    assert len(set(quantile_bins(np.arange(100), 4))) == 4

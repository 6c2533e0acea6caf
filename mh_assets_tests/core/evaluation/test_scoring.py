"""Outcome scoring: tie-aware AUROC, vectorised bootstrap CI, out-of-fold fits and R²."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mh_assets.core.evaluation import scoring
from mh_assets.core.evaluation.scoring import (
    OutcomeScore,
    ScoringConfig,
    auroc,
    bootstrap_auroc_ci,
    out_of_fold_probabilities,
    out_of_fold_r2,
    score_outcome,
)

FAST = ScoringConfig(bootstrap=200)


def noisy_scores(n: int, seed: int, prevalence: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Scores one SD higher for positives: a true AUROC of about 0.76."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int64)
    return rng.normal(size=n) + y, y


def signal_cohort(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense features whose first column drives a ~30% outcome; the rest is noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (2 * X[:, 0] + rng.normal(size=n) > 1).astype(np.float64)
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_equals_sklearn_with_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.4).astype(int)
    integer_scores = rng.integers(0, 4, size=300) + y  # four distinct values: ties everywhere
    continuous, _ = noisy_scores(300, seed)
    assert auroc(integer_scores, y) == pytest.approx(roc_auc_score(y, integer_scores), abs=1e-12)
    assert auroc(continuous, y) == pytest.approx(roc_auc_score(y, continuous), abs=1e-12)
    assert auroc(np.zeros(300), y) == 0.5


def test_auroc_refuses_a_single_class() -> None:
    with pytest.raises(ValueError, match="positive and one negative"):
        auroc(np.arange(5.0), np.ones(5))


@pytest.mark.parametrize("chunk", [scoring._DRAWS_PER_CHUNK, 1000])
def test_resampled_aurocs_equal_sklearn_on_the_same_resamples(
        monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """The vectorised statistic, chunked or not, is the AUROC of the drawn resamples."""
    monkeypatch.setattr(scoring, "_DRAWS_PER_CHUNK", chunk)
    rng = np.random.default_rng(5)
    y = (rng.random(200) < 0.3).astype(np.int64)
    scores = np.round(rng.normal(size=200) + y, 1)  # ties within and across classes
    values = scoring._resampled_aurocs(scores, y, 12, np.random.default_rng(9))
    draws = np.random.default_rng(9).integers(0, 200, size=(12, 200))
    expected = [roc_auc_score(y[rows], scores[rows]) for rows in draws]
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)


def test_resamples_without_both_classes_are_dropped() -> None:
    y = np.zeros(40, dtype=np.int64)
    y[0] = 1  # one positive: most resamples of 40 miss it (P = 0.36)
    scores = np.arange(40.0)
    values = scoring._resampled_aurocs(scores, y, 200, np.random.default_rng(0))
    assert np.isnan(values).any() and not np.isnan(values).all()
    low, high = bootstrap_auroc_ci(scores, y, FAST)
    assert np.isfinite([low, high]).all()


def test_bootstrap_ci_brackets_the_point_auroc_and_narrows_with_n() -> None:
    widths = []
    for n in (200, 2000):
        scores, y = noisy_scores(n, seed=3)
        low, high = bootstrap_auroc_ci(scores, y, ScoringConfig())
        assert low < auroc(scores, y) < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # ~ 1/sqrt(n): a tenfold n about triples precision


def test_bootstrap_ci_is_deterministic_per_seed_and_differs_with_another() -> None:
    scores, y = noisy_scores(500, seed=4)
    first = bootstrap_auroc_ci(scores, y, FAST)
    assert bootstrap_auroc_ci(scores, y, FAST) == first
    assert bootstrap_auroc_ci(scores, y, ScoringConfig(bootstrap=200, seed=7)) != first


def test_informative_feature_scores_high_and_noise_ci_contains_half() -> None:
    X, y = signal_cohort(600, 4, seed=0)
    informative = score_outcome(X, y, FAST)
    assert not informative.too_rare and informative.auroc > 0.8
    assert informative.ci_low < informative.auroc < informative.ci_high
    noise = score_outcome(np.random.default_rng(1).normal(size=(600, 4)), y, FAST)
    assert noise.ci_low < 0.5 < noise.ci_high


def test_too_rare_outcome_is_not_scored(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fit(*args: object) -> np.ndarray:
        raise AssertionError("a too-rare outcome must not be fitted")

    monkeypatch.setattr(scoring, "out_of_fold_probabilities", no_fit)
    y = np.zeros(200)
    y[:9] = 1  # one short of min_class
    result = score_outcome(np.random.default_rng(0).normal(size=(200, 3)), y, FAST)
    assert result == OutcomeScore(n=200, positives=9, prevalence=0.045, auroc=None,
                                  ci_low=None, ci_high=None, too_rare=True)


def test_rare_negatives_are_too_rare_as_well() -> None:
    y = np.ones(200)
    y[:9] = 0
    assert score_outcome(np.random.default_rng(0).normal(size=(200, 3)), y, FAST).too_rare


def test_nan_targets_are_dropped_and_n_counts_only_scored_rows() -> None:
    X, y = signal_cohort(400, 3, seed=2)
    y_missing = y.copy()
    y_missing[::4] = np.nan
    result = score_outcome(X, y_missing, FAST)
    kept = ~np.isnan(y_missing)
    assert result.n == 300
    assert result.positives == int(y[kept].sum())
    assert result.prevalence == pytest.approx(y[kept].mean())
    assert result == score_outcome(X[kept], y[kept], FAST)  # the NaN rows leave no trace


def test_sparse_input_is_scored_and_informative() -> None:
    rng = np.random.default_rng(3)
    codes = (rng.random((800, 40)) < 0.1).astype(np.float64)
    y = (codes[:, :3].sum(axis=1) + 0.25 * rng.normal(size=800) > 0.5).astype(np.float64)
    sparse = score_outcome(sp.csr_matrix(codes), y, FAST)
    dense = score_outcome(codes, y, FAST)
    assert not sparse.too_rare and sparse.auroc > 0.8
    assert sparse.auroc == pytest.approx(dense.auroc, abs=0.03)  # unscaled vs scaled fit
    probabilities = out_of_fold_probabilities(sp.csr_matrix(codes), y, FAST)
    assert probabilities.shape == (800,) and np.isfinite(probabilities).all()


def test_out_of_fold_probabilities_are_one_per_row_and_deterministic() -> None:
    X, y = signal_cohort(300, 5, seed=4)
    first = out_of_fold_probabilities(X, y, FAST)
    assert first.shape == (300,)
    assert ((first > 0) & (first < 1)).all()
    np.testing.assert_array_equal(out_of_fold_probabilities(X, y, FAST), first)
    assert not np.allclose(out_of_fold_probabilities(X, y, ScoringConfig(seed=1)), first)


SOLVER = dict(solver=FAST.solver, C=FAST.C, max_iter=FAST.max_iter)


def test_dense_standardisation_is_fitted_within_folds() -> None:
    """Equal to a scaler + logistic pipeline refitted per fold, so the held-out rows never
    inform the scaling; a scaler fitted on all rows gives measurably different output."""
    X, y = signal_cohort(300, 5, seed=5)
    X = X * np.array([1, 10, 0.1, 5, 2]) + 3  # scaling matters
    ours = out_of_fold_probabilities(X, y, FAST)
    within, leaky = np.empty(300), np.empty(300)
    X_all = StandardScaler().fit_transform(X)
    splits = StratifiedKFold(5, shuffle=True, random_state=FAST.seed).split(X, y)
    for train, test in splits:
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(**SOLVER))
        within[test] = pipeline.fit(X[train], y[train]).predict_proba(X[test])[:, 1]
        model = LogisticRegression(**SOLVER).fit(X_all[train], y[train])
        leaky[test] = model.predict_proba(X_all[test])[:, 1]
    np.testing.assert_allclose(ours, within, atol=1e-6)
    assert np.abs(ours - leaky).max() > 1e-4


def test_dense_scoring_ignores_column_scale_and_constant_columns() -> None:
    X, y = signal_cohort(300, 3, seed=6)
    base = out_of_fold_probabilities(X, y, FAST)
    rescaled = np.column_stack([X * [1000, 0.001, 7] - 50, np.full(300, 4.2)])
    np.testing.assert_allclose(out_of_fold_probabilities(rescaled, y, FAST), base, atol=1e-5)


def test_non_convergence_is_not_reported_as_a_warning() -> None:
    X, y = signal_cohort(300, 20, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out_of_fold_probabilities(X, y, ScoringConfig(max_iter=1))


def test_r2_near_one_for_target_linear_features_and_not_positive_for_noise() -> None:
    rng = np.random.default_rng(8)
    counts = rng.poisson(6, size=500).astype(np.float64)
    linear = np.column_stack([2 * counts + 1, rng.normal(size=500), -counts])
    assert out_of_fold_r2(linear, counts, FAST) > 0.99
    assert out_of_fold_r2(sp.csr_matrix(linear), counts, FAST) > 0.99
    assert out_of_fold_r2(rng.normal(size=(500, 10)), counts, FAST) < 0.02


def test_r2_drops_rows_with_a_missing_target() -> None:
    rng = np.random.default_rng(9)
    counts = rng.poisson(6, size=200).astype(np.float64)
    X = np.column_stack([counts, rng.normal(size=200)])
    with_missing = counts.copy()
    with_missing[:10] = np.nan
    expected = out_of_fold_r2(X[10:], counts[10:], FAST)
    assert out_of_fold_r2(X, with_missing, FAST) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [dict(folds=1), dict(bootstrap=0), dict(ci=1.0),
                                 dict(min_class=0), dict(C=0.0), dict(threads=0)])
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        ScoringConfig(**bad)


def test_config_lists_every_problem_at_once() -> None:
    with pytest.raises(ValueError, match="folds.*bootstrap.*ci"):
        ScoringConfig(folds=1, bootstrap=0, ci=2.0)

"""Every setting of the clustering stage, in one frozen object.

The defaults are the issue's (k in 2..10, 50 resamples for k selection, 100 for
stability, n_init 10 for the final fit, an eta-squared warning above 0.15, 20 null
cohorts) plus the few choices
that make 100,000 patients fit in minutes on two cores (fewer K-Means starts inside
resamples, resamples of a bounded size). Each choice is a field so a reviewer can
undo it, and ``as_metadata`` puts all of them next to the results they produced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

Resampling = Literal["subsample", "bootstrap"]


@dataclass(frozen=True)
class ClusterConfig:
    # --- k selection -------------------------------------------------------------
    min_k: int = 2
    max_k: int = 10
    n_bootstrap: int = 50
    # Points per resample: None = min(n, max(500, 20% of n)); an int is a count, a
    # float in (0, 1] a fraction of n. Used by k selection and by stability.
    sample_size: int | float | None = None
    # Subsampling (without replacement) keeps duplicate points out of the silhouette,
    # where a point's copy would sit at distance 0 and inflate it.
    k_resampling: Resampling = "subsample"
    # "macro_silhouette" weights every cluster equally, so one big cluster cannot carry
    # a solution whose small clusters are poorly separated; "silhouette" is the usual mean.
    k_metric: Literal["macro_silhouette", "silhouette"] = "macro_silhouette"
    # "one_se": smallest k whose mean is within one standard error of the best mean
    # (parsimony unless more clusters are clearly better); "max": the best mean, ties
    # to the smaller k.
    k_rule: Literal["one_se", "max"] = "one_se"
    k: int | None = None  # pinned k: overrides the selection rule
    # --- K-Means -----------------------------------------------------------------
    n_init: int = 10  # final fit (and the baselines' fits)
    max_iter: int = 300
    # Inside every k-selection resample: 2 k-means++ starts. With 1, a start that seeds
    # two centres in one true cluster (measured: 3 of 10 resamples at the planted k of
    # the benchmark) drags the planted k's score down and the rule picks k - 1; 2
    # starts remove most of that for twice the cost. Lloyd iterations are capped at
    # 50: on structureless 384-d data (where fits otherwise run 60-200 iterations) the
    # silhouette of a capped fit equals the converged one to 4 decimals, and data with
    # structure converges in fewer (3-45 measured).
    resample_n_init: int = 2
    resample_max_iter: int = 50
    tol: float = 1e-4
    # --- stability (Hennig 2007) -------------------------------------------------
    stability_resamples: int = 100
    stability_resampling: Resampling = "bootstrap"
    stability_n_init: int = 2  # same starts and iteration cap as the k-selection resamples
    # Points per stability resample: None = the k-selection rule (``sample_size``); 1.0 =
    # n, Hennig's classical n-out-of-n bootstrap (about 5x slower at 100,000 patients).
    stability_sample_size: int | float | None = None
    dissolved_below: float = 0.5
    recovered_from: float = 0.75
    stability_warn: float = 0.6
    # --- profiles ----------------------------------------------------------------
    top_codes: int = 10
    top_terms: int = 10
    # --- confounder audit --------------------------------------------------------
    # Warn when eta^2(n_codes | cluster) exceeds ``eta_threshold``, or exceeds the
    # multi-hot baseline's at the same k by more than ``eta_excess``. Both statistics
    # keep their meaning at any k (AMI against a 19-level variable shrinks with k, so a
    # k = 2 split by code count passed an AMI threshold).
    eta_threshold: float = 0.15
    eta_excess: float = 0.10
    # --- clusterability: the same pipeline on degree-preserving null cohorts -------
    null_cohorts: int = 20  # B null cohorts per representation
    null_sample_size: int = 300  # patients per cohort that are embedded and clustered
    null_resamples: int = 5  # resamples of k selection and stability inside each cohort
    null_swaps_per_code: int = 5  # edge swaps per code occurrence when permuting
    # Worker processes for the cohorts' statistics (features, e.g. the transformer's
    # embeddings, are built in the calling process). 2: the CLI runs one sex at a time,
    # so the second core is free; measured 5.9 s -> 3.0 s for 20 multi-hot cohorts.
    null_jobs: int = 2
    # --- verdict -------------------------------------------------------------------
    # "supported": the clustering beats the null clearly (z >= supported_z and
    # empirical p <= supported_p, silhouette and stability) and every cluster is stable
    # (mean Jaccard >= stable_jaccard); "weak": beats the null on one, or unstable;
    # "not supported": the null does as well.
    supported_z: float = 3.0
    supported_p: float = 0.05
    stable_jaccard: float = 0.75
    # --- male/female pairs --------------------------------------------------------
    # The Hungarian assignment pairs every cluster of the smaller sex with one of the
    # other; a pair is reported as matched only when the cosine similarity of the two
    # c-DF-IPF profiles is at least ``pair_min_similarity`` (below it the row says
    # "closest, not matched"). Profiles are non-negative, so the cosine is in [0, 1];
    # 0.5 is a reading convention, not a test: counterparts in the demo cohort score
    # 0.8-0.96, clusters that share only background codes 0.2-0.3.
    pair_min_similarity: float = 0.5
    # A code is "shared" by a pair when its smaller c-DF-IPF weight is at least
    # (1 - pair_shared_gap) of its larger one (the relative gap is at most this), and
    # "differing" when the relative gap is larger; no code is both.
    pair_shared_gap: float = 0.5
    # --- baselines ---------------------------------------------------------------
    category_length: int = 3  # multi-hot at the ICD-10 3-character category
    svd_components: int = 100
    # --- compute ----------------------------------------------------------------
    # BLAS/OpenMP threads for K-Means and the indices; None = the libraries' default
    # (all cores). 1 by default: the two sex partitions run in parallel processes, and on
    # a busy 2-core machine oversubscribed OpenMP threads spin -- measured 50x slower
    # for 500-point resamples, and slower than 1 thread at 100,000 x 384.
    threads: int | None = 1
    # Worker processes for the resample loops (k selection, stability). 1 by default (the
    # partitions already run in parallel); 2 on a dedicated 2-core machine halves them.
    n_jobs: int = 1
    # --- reproducibility ---------------------------------------------------------
    seed: int = 42

    def __post_init__(self) -> None:
        if not 2 <= self.min_k <= self.max_k:
            raise ValueError(
                f"need 2 <= min_k <= max_k, got min_k={self.min_k}, max_k={self.max_k}"
            )
        if self.k is not None and self.k < 2:
            raise ValueError(f"a pinned k must be at least 2, got k={self.k}")
        for name in ("n_bootstrap", "stability_resamples", "n_init", "resample_n_init",
                     "stability_n_init", "max_iter", "resample_max_iter", "top_codes", "n_jobs",
                     "top_terms", "svd_components", "null_cohorts", "null_resamples",
                     "null_swaps_per_code", "null_jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("sample_size", "stability_sample_size"):
            value = getattr(self, name)
            if isinstance(value, float) and not 0 < value <= 1:
                raise ValueError(f"a fractional {name} must be in (0, 1], got {value}")
            if isinstance(value, int) and value < 2:
                raise ValueError(f"{name} must be at least 2, got {value}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1 (or None), got {self.threads}")
        for name in ("k_resampling", "stability_resampling"):
            if getattr(self, name) not in ("subsample", "bootstrap"):
                raise ValueError(f"{name} must be 'subsample' or 'bootstrap'")
        if self.k_metric not in ("macro_silhouette", "silhouette"):
            raise ValueError(
                f"k_metric must be 'macro_silhouette' or 'silhouette', got {self.k_metric!r}"
            )
        if not (isinstance(self.pair_min_similarity, (int, float))
                and 0 <= self.pair_min_similarity <= 1):
            raise ValueError(
                f"pair_min_similarity must be in [0, 1], got {self.pair_min_similarity!r}")
        if not (isinstance(self.pair_shared_gap, (int, float)) and 0 < self.pair_shared_gap < 1):
            raise ValueError(f"pair_shared_gap must be in (0, 1), got {self.pair_shared_gap!r}")
        if self.k_rule not in ("one_se", "max"):
            raise ValueError(f"k_rule must be 'one_se' or 'max', got {self.k_rule!r}")

    def resample_size(self, n: int) -> int:
        """Points per k-selection resample for ``n`` patients (the issue's default rule)."""
        return _size(self.sample_size, n)

    def stability_size(self, n: int) -> int:
        """Points per stability resample for ``n`` patients."""
        return _size(self.sample_size if self.stability_sample_size is None
                     else self.stability_sample_size, n)

    def as_metadata(self) -> dict[str, str]:
        """Flat string description of the settings (no data), for provenance."""
        return {f"clustering.{f.name}": str(getattr(self, f.name)) for f in fields(self)}


def _size(setting: int | float | None, n: int) -> int:
    if setting is None:
        size = max(500, math.ceil(0.2 * n))
    elif isinstance(setting, float):
        size = math.ceil(setting * n)
    else:
        size = setting
    return max(2, min(n, size))

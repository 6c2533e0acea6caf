"""Clustering of patient embeddings, and the checks that make the clusters defensible.

Pipeline per sex partition (the Dagster wiring in ``mh_assets.defs`` calls these):

    selection = select_k(X, config)                         # k_selection[sex]
    fit = fit_clusters(X, selection.chosen_k, sex, config)  # cluster_assignments[sex]
    table = assignments(corpus["patient_id"], fit)
    stab = cluster_stability(X, fit.labels, fit.names, config)   # cluster_stability[sex]
    prof = profile_clusters(corpus, fit.labels, fit.names, config)  # cluster_profiles[sex]
    names = naming.display_names(prof.codes, fit.names)  # {"F3": "F3 · conduct disorder + ..."}
    audit = confounder_audit(corpus, fit.labels, config)
    base = compare_baselines(X, corpus, fit.labels, fit.names, config, stab)  # baseline_clusters
    null = clusterability(corpus, {"multi-hot": multi_hot_features(config)}, config)  # vs nulls
    # plots live in ``mh_assets.core.clustering.plots`` (not imported here: matplotlib and
    # plotly cost ~1 s, so import them inside the asset body):
    png, html = plots.k_selection_png(selection, sex), plots.k_selection_html(selection, sex)

The names below are loaded on first use (PEP 562): the Dagster code location imports
this package for :class:`ClusterConfig` and must not pay scikit-learn's and scipy's
~1.2 s import on every load (target: the definitions load in under 2 s). Using a
name -- ``from mh_assets.core.clustering import select_k`` -- imports its module then.
"""

from __future__ import annotations

import importlib

#: module (step of the method) -> the names it provides, in pipeline order
_EXPORTS = {
    "config": ("ClusterConfig",),
    "k_selection": ("KSelection", "select_k"),
    "kmeans": ("ClusterFit", "assignments", "cluster_names", "fit_clusters", "order_by_size"),
    "stability": ("Stability", "best_match_jaccard", "cluster_stability"),
    "profiles": ("ClusterProfiles", "code_matrix", "code_profiles", "distributions",
                 "profile_clusters", "term_profiles"),
    "audit": ("Audit", "confounder_audit", "eta_squared"),
    "baselines": ("Baselines", "compare_baselines", "multi_hot_categories", "tfidf_svd"),
    "null": ("Clusterability", "cluster_statistics", "clusterability",
             "degree_preserving_null", "multi_hot_features", "tfidf_features"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:  # a submodule (``from ... import pairs``) is imported by Python itself
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


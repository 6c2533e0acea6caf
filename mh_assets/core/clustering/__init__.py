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
"""

from mh_assets.core.clustering.audit import Audit, confounder_audit, eta_squared
from mh_assets.core.clustering.baselines import (
    Baselines,
    compare_baselines,
    multi_hot_categories,
    tfidf_svd,
)
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.k_selection import KSelection, select_k
from mh_assets.core.clustering.kmeans import (
    ClusterFit,
    assignments,
    cluster_names,
    fit_clusters,
    order_by_size,
)
from mh_assets.core.clustering.null import (
    Clusterability,
    cluster_statistics,
    clusterability,
    degree_preserving_null,
    multi_hot_features,
    tfidf_features,
)
from mh_assets.core.clustering.profiles import (
    ClusterProfiles,
    code_matrix,
    code_profiles,
    distributions,
    profile_clusters,
    term_profiles,
)
from mh_assets.core.clustering.stability import Stability, best_match_jaccard, cluster_stability

__all__ = [
    "Audit", "Baselines", "ClusterConfig", "ClusterFit", "ClusterProfiles", "KSelection",
    "Stability",
    "assignments", "best_match_jaccard", "cluster_names", "cluster_stability", "code_matrix",
    "code_profiles", "compare_baselines", "confounder_audit", "distributions", "eta_squared",
    "fit_clusters", "multi_hot_categories", "order_by_size",
    "profile_clusters", "select_k", "term_profiles", "tfidf_svd",
    "Clusterability", "cluster_statistics", "clusterability", "degree_preserving_null",
    "multi_hot_features", "tfidf_features",
]

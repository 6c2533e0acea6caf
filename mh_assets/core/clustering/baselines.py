"""Does the transformer add anything? The same k on two simple feature spaces.

* "multi-hot categories": one binary column per ICD-10 3-character category (``F12``
  for ``F1210``) -- what a clinician grouping by diagnosis block would use;
* "tfidf-svd": TF-IDF over the word tokens of each patient's descriptors (unigrams,
  sklearn defaults: smoothed idf, l2 rows), reduced to ``svd_components`` dimensions
  with TruncatedSVD (LSA) -- the bag-of-words counterpart of the text the transformer
  reads, where related codes share words ("cannabis", "dependence").

Each is clustered exactly like the embeddings (rows L2-normalised, K-Means with
``n_init`` starts, clusters ordered by size), and scored the same way: cosine
silhouette and macro-silhouette in its own feature space, Hennig stability, and the
adjusted Rand index against the transformer's clusters. If a baseline matches the
transformer's ARI, silhouette and stability, the language model bought nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.geometry import (
    Matrix,
    child_seeds,
    indices,
    kmeans_labels,
    normalise_rows,
    thread_limit,
)
from mh_assets.core.clustering.kmeans import order_by_size
from mh_assets.core.clustering.profiles import explode_list, vocabulary_ids
from mh_assets.core.clustering.stability import Stability, cluster_stability
from mh_assets.core.modelling.config import TRANSFORMER

MULTI_HOT, TFIDF_SVD = "multi-hot categories", "tfidf-svd"
BASELINE_STAGE = 4


def multi_hot_categories(corpus: pl.DataFrame, length: int = 3) -> sp.csr_matrix:
    """Binary patients x categories (first ``length`` characters of each code)."""
    rows, codes = explode_list(corpus, schema.CODES)
    vocab, ids = vocabulary_ids(codes.str.slice(0, length))
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, ids)), shape=(corpus.height, len(vocab)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def tfidf_svd(corpus: pl.DataFrame, components: int = 100, seed: int = 42) -> np.ndarray:
    """LSA features (float32) of the descriptor words; fewer components when the
    vocabulary or the partition is smaller than ``components``."""
    texts = corpus[schema.DESCRIPTORS].list.join(" ").fill_null("").to_list()
    tfidf = TfidfVectorizer().fit_transform(texts)
    r = min(components, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    if r < 1:
        return tfidf.toarray().astype(np.float32)
    return TruncatedSVD(n_components=r, random_state=seed).fit_transform(tfidf).astype(np.float32)


def multi_hot_clusters(corpus: pl.DataFrame, k: int,
                       config: ClusterConfig = ClusterConfig()) -> np.ndarray:
    """The multi-hot baseline's K-Means labels at ``k`` (0 = largest) -- the same fit
    :func:`compare_baselines` makes, so the audit and the baseline table agree."""
    seed = child_seeds(config.seed, BASELINE_STAGE, 2)[0]
    with thread_limit(config.threads):
        return fit_labels(multi_hot_categories(corpus, config.category_length), k, seed, config)


def fit_labels(features: Matrix, k: int, seed: int, config: ClusterConfig) -> np.ndarray:
    """A baseline's clustering: rows L2-normalised, K-Means, clusters ordered by size."""
    return order_by_size(kmeans_labels(normalise_rows(features), k, config.n_init, seed,
                                       config.max_iter, config.tol))


@dataclass(frozen=True)
class Baselines:
    """``table``: method, k (Int32), silhouette, macro_silhouette, mean_stability,
    ari_vs_transformer (Float64) [, ari_vs_truth when a truth was given]; one row per
    method, transformer first. ``labels``: method -> 0-based labels (0 = largest)."""

    table: pl.DataFrame
    labels: dict[str, np.ndarray]

    def as_metadata(self) -> dict[str, object]:
        return {
            row["method"]: {key: (round(v, 4) if isinstance(v, float) else v)
                            for key, v in row.items() if key != "method"}
            for row in self.table.iter_rows(named=True)
        }


def _score(method: str, features: Matrix, labels: np.ndarray, names: list[str],
           config: ClusterConfig, stability: Stability | None) -> dict[str, object]:
    Xn = normalise_rows(features)
    ix = indices(Xn, labels, len(names))
    if stability is None:
        stability = cluster_stability(features, labels, names, config)
    return {"method": method, "k": len(names), "silhouette": ix.silhouette,
            "macro_silhouette": ix.macro_silhouette, "mean_stability": stability.mean_jaccard}


def baseline_features(corpus: pl.DataFrame,
                      config: ClusterConfig = ClusterConfig()) -> dict[str, Matrix]:
    """The two baselines' feature matrices, as :func:`compare_baselines` builds them."""
    seeds = child_seeds(config.seed, BASELINE_STAGE, 2)
    return {MULTI_HOT: multi_hot_categories(corpus, config.category_length),
            TFIDF_SVD: tfidf_svd(corpus, config.svd_components, seeds[1])}


def compare_baselines(X: np.ndarray, corpus: pl.DataFrame, labels: np.ndarray, names: list[str],
                      config: ClusterConfig = ClusterConfig(),
                      stability: Stability | None = None,
                      truth: np.ndarray | None = None, run: str = TRANSFORMER,
                      features: Mapping[str, Matrix] | None = None) -> Baselines:
    """Cluster each baseline's ``features`` (default :func:`baseline_features`; a caller
    may add others, e.g. the descriptor representation) with the run's k
    (``len(names)``) and tabulate every method, the run's first under the name ``run``.
    ``stability``: the run's, if already computed (else it is computed here);
    ``truth``: planted labels, to add an ``ari_vs_truth`` column."""
    with thread_limit(config.threads):
        if features is None:
            features = baseline_features(corpus, config)
        return _compare_baselines(X, corpus, labels, names, config, stability, truth, run,
                                  dict(features))


def _compare_baselines(X: np.ndarray, corpus: pl.DataFrame, labels: np.ndarray, names: list[str],
                       config: ClusterConfig, stability: Stability | None,
                       truth: np.ndarray | None, run: str,
                       features: dict[str, Matrix]) -> Baselines:
    labels = np.asarray(labels, dtype=np.int64)
    if not (X.shape[0] == corpus.height == len(labels)):
        raise ValueError(
            f"{X.shape[0]} embeddings, {corpus.height} corpus rows, {len(labels)} labels"
        )
    k = len(names)
    # Spawned seeds do not depend on how many are spawned: adding a representation after
    # the two baselines changes neither baseline's fit.
    seeds = child_seeds(config.seed, BASELINE_STAGE, len(features))
    all_labels = {run: labels}
    rows = [_score(run, X, labels, names, config, stability)]
    for seed, (method, F) in zip(seeds, features.items()):
        found = fit_labels(F, k, seed, config)
        all_labels[method] = found
        rows.append(_score(method, F, found, names, config, None))
    table = pl.DataFrame(rows).with_columns(
        pl.col("k").cast(pl.Int32),
        pl.Series("ari_vs_transformer",
                  [adjusted_rand_score(labels, all_labels[m]) for m in all_labels]),
    )
    if truth is not None:
        table = table.with_columns(
            pl.Series("ari_vs_truth",
                      [adjusted_rand_score(truth, all_labels[m]) for m in all_labels])
        )
    return Baselines(table=table, labels=all_labels)

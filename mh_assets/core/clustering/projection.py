"""2-D projections for the cluster maps: PCA or seeded UMAP, and patient samples."""

from __future__ import annotations

import numpy as np

from mh_assets.core.clustering.geometry import resample


def project(matrix: np.ndarray, method: str, seed: int) -> np.ndarray:
    """2-D coordinates of the rows of ``matrix`` by PCA or UMAP (seeded)."""
    n = matrix.shape[0]
    if n < 3:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(matrix)
    if method == "umap":
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(15, n - 1)),
                            init="random" if n < 10 else "spectral", random_state=seed,
                            metric="cosine", n_jobs=1)
        return reducer.fit_transform(matrix)
    raise ValueError(f"unknown projection {method!r}: expected 'pca' or 'umap'")


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A seeded, sorted sample of at most ``size`` of ``n`` row indices (a map of every
    patient would be slow to draw and no easier to read)."""
    return resample(np.random.default_rng(seed), n, min(size, n), "subsample")

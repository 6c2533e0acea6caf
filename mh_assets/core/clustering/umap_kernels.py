"""Compiled helpers of the UMAP maps (imports numba and umap: import it only through
:func:`mh_assets.core.clustering.projection.umap_layout`, which points numba's cache at
its folder first)."""

import numba
import numpy as np
from umap.distances import cosine


@numba.njit(cache=True)
def cosine_distances(data):
    """The square matrix of umap's own cosine distance between the rows of ``data``
    (float32, C order), as umap-learn's small-data path computes it: each pair once,
    mirrored, and each row with itself."""
    n = data.shape[0]
    out = np.zeros((n, n), dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            d = cosine(data[i], data[j])
            out[i, j] = d
            out[j, i] = d
    for i in range(n):
        out[i, i] = cosine(data[i], data[i])
    return out

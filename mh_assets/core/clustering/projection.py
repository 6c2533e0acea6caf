"""2-D projections for the cluster maps: PCA or seeded UMAP, and patient samples.

Why UMAP is set up with care here: umap-learn is compiled by numba when first used, and
most of its functions are not compiled with ``cache=True`` -- a fresh process paid ~10 s
of JIT before drawing a single map, every run, whatever the input's size. So:

* below :data:`UMAP_MIN_POINTS` points UMAP is not run at all (its 15-neighbour graph
  of a few dozen points joins every point to a large share of the others: the picture is
  the initialisation's, and the PCA map of the same points says as much) -- ``project``
  gives PCA there, and umap is never imported;
* numba's on-disk cache is pointed at :func:`numba_cache_dir` (outside the project and
  the artifacts) *before* umap -- hence numba and pynndescent -- is imported, and the
  umap functions a map calls that umap-learn leaves uncached are switched to caching
  (:data:`UMAP_UNCACHED`), so a second run loads machine code instead of compiling it;
* the cosine distances are computed by one compiled loop (:mod:`.umap_kernels`, the same
  ``umap.distances.cosine``) and handed to UMAP as its exact k-nearest neighbours: for
  under 4,096 points umap-learn otherwise has scikit-learn call its numba metric from
  Python once per pair (4 million calls for a 2,000-patient map, ~5 s). The neighbours
  are umap's own choice (all pairs, a stable sort); the distances agree with umap's to
  float32 rounding (its ``fastmath`` sum is reordered once compiled into the loop), so
  where two neighbours are that close the order -- hence the seeded layout -- may differ
  from umap-learn's own path (measured on the demo: the female map byte-identical, the
  male map not: 58 of 30,000 neighbour slots). Same seed, same input: same map.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from mh_assets.core.clustering.geometry import resample

#: Fewer points than this get no UMAP (``project`` returns PCA).
UMAP_MIN_POINTS = 100
#: Neighbours of a point in UMAP's graph (umap-learn's default).
UMAP_NEIGHBORS = 15
#: UMAP epochs for a map: umap-learn's default for large inputs. For under 10,000 points
#: it would run 500, and the layout of a 2,000-patient sample has long settled by 200
#: (measured: the same picture in about half the time).
UMAP_EPOCHS = 200
#: umap-learn functions a map compiles that umap-learn does not cache (module, name).
UMAP_UNCACHED = (
    ("umap.umap_", "smooth_knn_dist"),
    ("umap.umap_", "compute_membership_strengths"),
    ("umap.layouts", "_nb_optimize_layout_euclidean_single_epoch"),
)
#: umap-learn's disconnection distance for the cosine metric (farther: no edge).
COSINE_DISCONNECTION = 2.0


def project(matrix: np.ndarray, method: str, seed: int) -> np.ndarray:
    """2-D coordinates of the rows of ``matrix`` by PCA or UMAP (seeded). UMAP of fewer
    than :data:`UMAP_MIN_POINTS` rows is PCA (see the module docstring)."""
    if method not in ("pca", "umap"):
        raise ValueError(f"unknown projection {method!r}: expected 'pca' or 'umap'")
    n = matrix.shape[0]
    if n < 3:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    if method == "umap" and umap_applies(n):
        return umap_layout(matrix, seed)
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(matrix)


def umap_applies(n_points: int) -> bool:
    """Whether a UMAP of ``n_points`` points is drawn (else the PCA map stands for it)."""
    return n_points >= UMAP_MIN_POINTS


def umap_layout(matrix: np.ndarray, seed: int) -> np.ndarray:
    """Seeded, single-threaded UMAP (cosine, :data:`UMAP_EPOCHS` epochs) of ``matrix``,
    on its exact cosine neighbours (umap-learn's own choice below 4,096 points)."""
    umap = import_umap()
    from mh_assets.core.clustering.umap_kernels import cosine_distances

    data = np.ascontiguousarray(matrix, dtype=np.float32)  # what umap itself fits on
    k = min(UMAP_NEIGHBORS, len(data) - 1)
    distances = cosine_distances(data)
    distances[distances >= COSINE_DISCONNECTION] = np.inf
    # umap sorts each row with a stable (merge) sort: ties between duplicate patients
    # are broken the same way here
    neighbours = np.argsort(distances, axis=1, kind="stable")[:, :k].astype(np.int32)
    reducer = umap.UMAP(
        n_components=2, n_neighbors=k, metric="cosine", random_state=seed, n_jobs=1,
        n_epochs=UMAP_EPOCHS,
        precomputed_knn=(neighbours, np.take_along_axis(distances, neighbours, axis=1)))
    with warnings.catch_warnings():  # "no NNDescent index: transform unavailable" -- a
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")  # map never transforms
        return reducer.fit_transform(data)


def numba_cache_dir(env: os._Environ | dict[str, str] | None = None) -> Path:
    """Where numba keeps compiled code: ``NUMBA_CACHE_DIR`` if set, else the user's cache
    folder (``$XDG_CACHE_HOME`` or ``~/.cache``)/mh-assets/numba -- shared by every run
    and instance of the user, independent of the project and its artifacts."""
    env = os.environ if env is None else env
    if env.get("NUMBA_CACHE_DIR"):
        return Path(env["NUMBA_CACHE_DIR"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mh-assets" / "numba"


def configure_numba_cache() -> Path:
    """Point numba's on-disk cache at :func:`numba_cache_dir` (created; a temporary
    folder where it cannot be) and return it. Call before numba is imported: numba reads
    ``NUMBA_CACHE_DIR`` when it loads, and pynndescent fixes its caches on import."""
    path = numba_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"mh-assets-numba-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    if "numba" in sys.modules:  # loaded earlier: caches made from now on use the folder
        from numba.core import config

        config.CACHE_DIR = str(path)
    return path


_UMAP_CACHED = False


def import_umap():
    """umap, imported after :func:`configure_numba_cache`, with :data:`UMAP_UNCACHED`
    switched to numba's on-disk cache."""
    global _UMAP_CACHED
    if "umap" not in sys.modules:
        configure_numba_cache()
    import importlib

    import umap

    if not _UMAP_CACHED:
        for module, name in UMAP_UNCACHED:
            try:
                dispatcher = getattr(importlib.import_module(module), name, None)
            except ImportError:  # another umap-learn layout: compiled, just not cached
                continue
            if hasattr(dispatcher, "enable_caching"):
                dispatcher.enable_caching()
        _UMAP_CACHED = True
    return umap


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A seeded, sorted sample of at most ``size`` of ``n`` row indices (a map of every
    patient would be slow to draw and no easier to read)."""
    return resample(np.random.default_rng(seed), n, min(size, n), "subsample")


def warm_numba_cache(seed: int = 0) -> Path:
    """Compile (or load) everything a UMAP map uses, into :func:`numba_cache_dir`.

    ``make install`` runs this once (``python -m mh_assets.core.clustering.projection``),
    so the first ``make demo`` on a new machine loads machine code instead of paying
    ~30 s of numba compiling pynndescent and umap in its publish stage.
    """
    rng = np.random.default_rng(seed)
    umap_layout(rng.normal(size=(UMAP_MIN_POINTS, 8)).astype(np.float32), seed)
    return numba_cache_dir()


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    folder = warm_numba_cache()
    print(f"numba cache for the UMAP maps ready in {folder} "
          f"({time.perf_counter() - started:.1f} s)")

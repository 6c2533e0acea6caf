"""A partition's embeddings, cluster assignments and stability in the artifact store.

Every clustering asset after ``cluster_assignments`` (and the cross-sex maps) needs
the same inputs; they are read (and the stability written) here, at the paths
:mod:`mh_assets.core.layout` names, so no stage re-learns the file formats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mh_assets.core import layout
from mh_assets.core.schema import CLUSTER, EMBEDDING
from mh_assets.core.storage import ArtifactStore

if TYPE_CHECKING:  # imported where used: stability pulls in scikit-learn (code-location load)
    from mh_assets.core.clustering.stability import Stability


def read_embeddings(store: ArtifactStore, sex: str) -> np.ndarray:
    """The partition's patient embeddings as a float32 matrix, in corpus order."""
    frame = store.read_parquet(layout.embeddings(sex))
    return frame.get_column(EMBEDDING).to_numpy().astype(np.float32, copy=False)


def read_assignments(store: ArtifactStore, sex: str) -> tuple[np.ndarray, list[str]]:
    """Cluster numbers (0 = largest) and the cluster names, e.g. ``["F1", "F2"]``."""
    labels = store.read_parquet(layout.assignments(sex)).get_column(CLUSTER)
    names = json.loads(store.path(layout.cluster_names(sex)).read_text())
    return labels.to_numpy(), names


def write_display_names(store: ArtifactStore, sex: str, names: Mapping[str, str]) -> None:
    """The {label: descriptive name} map of :mod:`mh_assets.core.clustering.naming`."""
    store.write_text(layout.cluster_display_names(sex),
                     json.dumps(dict(names), ensure_ascii=False, indent=1))


def read_display_names(store: ArtifactStore, sex: str) -> dict[str, str]:
    """{label: descriptive name}; each bare label (``{"F1": "F1"}``) when the names have
    not been written (profiles from before names existed), empty when neither exists."""
    path = store.path(layout.cluster_display_names(sex))
    if path.is_file():
        return {str(k): str(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    labels = store.path(layout.cluster_names(sex))
    return {name: name for name in json.loads(labels.read_text())} if labels.is_file() else {}


def write_stability(store: ArtifactStore, sex: str, stability: Stability) -> None:
    """The unsuppressed per-cluster table and the resamples x clusters Jaccard matrix."""
    store.write_csv(layout.stability(sex), stability.table)
    with store.atomic_file(layout.stability_jaccard(sex)) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, stability.jaccard)


def read_stability(store: ArtifactStore, sex: str, warn_below: float) -> Stability:
    """The stability :func:`write_stability` wrote, with the run's warning threshold."""
    from mh_assets.core.clustering.stability import Stability

    return Stability(
        table=pl.read_csv(store.path(layout.stability(sex))),
        jaccard=np.load(store.path(layout.stability_jaccard(sex))),
        warn_below=warn_below,
    )

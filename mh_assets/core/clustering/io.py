"""Reading a partition's embeddings and cluster assignments back from the artifact store.

Every clustering asset after ``cluster_assignments`` (and the cross-sex maps) needs
the same two inputs; they are read here, at the paths :mod:`mh_assets.core.layout`
names, so no stage re-learns the file formats.
"""

from __future__ import annotations

import json

import numpy as np

from mh_assets.core import layout
from mh_assets.core.schema import CLUSTER, EMBEDDING
from mh_assets.core.storage import ArtifactStore


def read_embeddings(store: ArtifactStore, sex: str) -> np.ndarray:
    """The partition's patient embeddings as a float32 matrix, in corpus order."""
    frame = store.read_parquet(layout.embeddings(sex))
    return frame.get_column(EMBEDDING).to_numpy().astype(np.float32, copy=False)


def read_assignments(store: ArtifactStore, sex: str) -> tuple[np.ndarray, list[str]]:
    """Cluster numbers (0 = largest) and the cluster names, e.g. ``["F1", "F2"]``."""
    labels = store.read_parquet(layout.assignments(sex)).get_column(CLUSTER)
    names = json.loads(store.path(layout.cluster_names(sex)).read_text())
    return labels.to_numpy(), names

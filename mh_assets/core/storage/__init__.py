"""Where artifacts are written: atomically, owner-only where patient-level, locally or
mirrored from object storage.

    store = open_store(settings.artifacts_dir)   # a directory, or s3://bucket/prefix
    store.write_parquet(layout.COHORT, frame)    # temporary sibling, then rename
    with store.atomic_dir(layout.model_dir("female", "mlm")) as tmp: ...

Paths are the ones :mod:`mh_assets.core.layout` names.
"""

from __future__ import annotations

import os

from mh_assets.core.storage.local import (
    OWNER_DIR,
    OWNER_FILE,
    ArtifactStore,
    sha256_dir,
    sha256_file,
)
from mh_assets.core.storage.mirrored import MirroredArtifactStore, is_remote


def open_store(root: str | os.PathLike[str]) -> ArtifactStore:
    """The store for ``root``: a local directory, or a local mirror of an fsspec URL."""
    return MirroredArtifactStore(root) if is_remote(root) else ArtifactStore(root)


__all__ = [
    "OWNER_DIR", "OWNER_FILE", "ArtifactStore", "MirroredArtifactStore", "is_remote",
    "open_store", "sha256_dir", "sha256_file",
]

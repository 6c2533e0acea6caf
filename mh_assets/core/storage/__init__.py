"""Where artifacts are written: atomically, owner-only where patient-level, locally or
mirrored from object storage.

    store = open_store(settings.artifacts_dir)   # a directory, or s3://bucket/prefix
    store.write_parquet(layout.COHORT, frame)    # temporary sibling, then rename
    with store.atomic_dir(layout.model_dir("female", "mlm")) as tmp: ...
    # a read-only or full disk: ArtifactStorageError("cannot write ...: ...; point ...")

Paths are the ones :mod:`mh_assets.core.layout` names.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from mh_assets.core.storage.local import (
    OWNER_DIR,
    OWNER_FILE,
    ArtifactStorageError,
    ArtifactStore,
    make_owner_only,
    sha256_dir,
    sha256_file,
)
from mh_assets.core.storage.mirrored import MirroredArtifactStore, is_remote


def open_store(
    root: str | os.PathLike[str],
    *,
    raise_as: Callable[[ArtifactStorageError], BaseException] | None = None,
) -> ArtifactStore:
    """The store for ``root``: a local directory, or a local mirror of an fsspec URL.

    A write the environment refuses raises :class:`ArtifactStorageError` (one sentence:
    the path and what to do), or what ``raise_as`` makes of it.
    """
    if is_remote(root):
        return MirroredArtifactStore(root, raise_as=raise_as)
    return ArtifactStore(root, raise_as=raise_as)


__all__ = [
    "OWNER_DIR", "OWNER_FILE", "ArtifactStorageError", "ArtifactStore",
    "MirroredArtifactStore", "is_remote", "make_owner_only", "open_store", "sha256_dir",
    "sha256_file",
]

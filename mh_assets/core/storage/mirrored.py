"""Artifacts on object storage (``MH_ARTIFACTS_DIR=s3://bucket/prefix``, any fsspec URL).

On Kubernetes every step runs in its own pod, so outputs must outlive the pod. The
stages read and write local files (polars, transformers and plotly all want paths), so
the store keeps a local mirror:

* ``path(relative)`` returns the mirror's path after fetching the object -- a file, or
  every file under a prefix for a checkpoint directory -- if the remote holds it;
* the atomic writers of :class:`~mh_assets.core.storage.local.ArtifactStore` work on the
  mirror exactly as on a local root (temporary sibling, rename, owner-only
  ``restricted/``), and only a completed write is uploaded; a directory replaces the
  remote prefix whole. A failed materialization therefore uploads nothing.

The mirror lives in ``MH_ARTIFACTS_CACHE`` (default: a per-URL folder in the system's
temporary directory), owner-only. Access control on the bucket itself (``restricted/``
holds patient-level data) is the deployment's job: a private bucket, encryption at rest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from mh_assets.core.storage.local import (
    OWNER_DIR,
    OWNER_FILE,
    ArtifactStorageError,
    ArtifactStore,
)


def is_remote(root: object) -> bool:
    """True for fsspec URLs other than local files (``s3://``, ``gs://``, ``memory://``)."""
    protocol = getattr(root, "protocol", None)
    if protocol is not None:
        return protocol not in ("", "file", "local")
    text = os.fspath(root) if isinstance(root, os.PathLike) else str(root)
    return "://" in text and not text.startswith(("file://", "local://"))


def default_cache(url: str) -> Path:
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mh-artifacts-{os.getuid()}" / key


class MirroredArtifactStore(ArtifactStore):
    """An :class:`ArtifactStore` whose root is a remote URL, mirrored locally."""

    #: The local mirror is what a read-only or full disk refuses (see the module).
    ROOT_VARIABLE = "MH_ARTIFACTS_CACHE"

    def __init__(
        self,
        root: object,
        cache: str | os.PathLike[str] | None = None,
        *,
        raise_as: Callable[[ArtifactStorageError], BaseException] | None = None,
    ):
        from upath import UPath

        self.remote = UPath(str(root))
        local = cache or os.environ.get("MH_ARTIFACTS_CACHE") or default_cache(str(root))
        super().__init__(local, raise_as=raise_as)
        with self._translated(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, OWNER_DIR)
        self._fresh: set[str] = set()  # relative paths already in sync in this process

    def __repr__(self) -> str:
        return f"MirroredArtifactStore({str(self.remote)!r}, cache={str(self.root)!r})"

    def path(self, relative: str) -> Path:
        if relative not in self._fresh:
            self._fetch(relative)
        return self.root / relative

    def _fetch(self, relative: str) -> None:
        source = self.remote / relative
        if source.is_file():
            with self.atomic_file(relative, upload=False) as tmp:
                source.fs.get_file(source.path, str(tmp))
        elif source.is_dir():
            with self.atomic_dir(relative, upload=False) as tmp:
                for item in source.rglob("*"):
                    if item.is_file():
                        local = tmp / item.relative_to(source).as_posix()
                        local.parent.mkdir(parents=True, exist_ok=True)
                        item.fs.get_file(item.path, str(local))
                        if self.is_owner_only(relative):
                            os.chmod(local, OWNER_FILE)
        else:
            return  # not written yet: the caller is about to write it, or will fail clearly
        self._fresh.add(relative)

    def _published(self, relative: str, target: Path) -> None:
        """Upload a completed write (the hook the base class calls after its rename)."""
        destination = self.remote / relative
        if target.is_dir():
            if destination.exists():
                destination.fs.rm(destination.path, recursive=True)
            for file in sorted(p for p in target.rglob("*") if p.is_file()):
                remote_file = destination / file.relative_to(target).as_posix()
                remote_file.fs.makedirs(remote_file.parent.path, exist_ok=True)
                remote_file.fs.put_file(str(file), remote_file.path)
        else:
            destination.fs.makedirs(destination.parent.path, exist_ok=True)
            destination.fs.put_file(str(target), destination.path)
        self._fresh.add(relative)

    def clear_cache(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self._fresh.clear()

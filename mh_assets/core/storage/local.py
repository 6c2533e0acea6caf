"""The artifacts tree: where every materialized output lives, and how it is written.

Two rules are enforced here rather than in each stage:

* a failed materialization never leaves a half-written file or checkpoint behind --
  everything is written to a temporary sibling and renamed into place;
* patient-level outputs live under ``restricted/`` with owner-only permissions
  (directories 0700, files 0600); everything else is publishable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from mh_assets.core import layout

OWNER_DIR = 0o700
OWNER_FILE = 0o600


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so a multi-GB extract never sits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_dir(path: str | os.PathLike[str]) -> str:
    """A content hash of a directory (relative names and file bytes, sorted)."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()


class ArtifactStore:
    """Atomic, permission-aware file access below one root directory.

    For a root that is an fsspec URL (``s3://bucket/prefix``) use
    :func:`mh_assets.core.storage.open_store`, which gives a
    :class:`~mh_assets.core.storage.mirrored.MirroredArtifactStore`: the same API on a
    local mirror, with completed writes uploaded.
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def is_restricted(self, relative: str) -> bool:
        return layout.is_restricted(relative)

    def _ensure_parent(self, target: Path, restricted: bool) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if restricted:
            restricted_root = self.root / layout.RESTRICTED
            for directory in [target.parent, *target.parent.parents]:
                if directory == restricted_root or restricted_root in directory.parents:
                    os.chmod(directory, OWNER_DIR)
                if directory == restricted_root:
                    break

    @contextlib.contextmanager
    def atomic_file(self, relative: str, upload: bool = True) -> Iterator[Path]:
        """Yield a temporary path; on success rename it to ``relative``, else delete it."""
        target = self.root / relative
        restricted = self.is_restricted(relative)
        self._ensure_parent(target, restricted)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            os.chmod(tmp, OWNER_FILE if restricted else 0o644)
            os.replace(tmp, target)
            if upload:
                self._published(relative, target)
        finally:
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def atomic_dir(self, relative: str, upload: bool = True) -> Iterator[Path]:
        """Yield a temporary directory; on success it replaces ``relative`` whole."""
        target = self.root / relative
        restricted = self.is_restricted(relative) or layout.is_model(relative)
        self._ensure_parent(target, restricted)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            yield tmp
            if restricted:
                os.chmod(tmp, OWNER_DIR)
            old = target.with_name(f".{target.name}.old")
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
            if upload:
                self._published(relative, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _published(self, relative: str, target: Path) -> None:
        """Called after a completed write; a remote store uploads it (local: nothing)."""

    def write_parquet(self, relative: str, frame: pl.DataFrame) -> Path:
        with self.atomic_file(relative) as tmp:
            frame.write_parquet(tmp)
        return self.path(relative)

    def read_parquet(self, relative: str) -> pl.DataFrame:
        target = self.path(relative)
        if not target.exists():
            raise FileNotFoundError(
                f"{target} does not exist: materialize the upstream asset that writes it first"
            )
        return pl.read_parquet(target)

    def write_csv(self, relative: str, frame: pl.DataFrame) -> Path:
        with self.atomic_file(relative) as tmp:
            frame.write_csv(tmp)
        return self.path(relative)

    def write_text(self, relative: str, text: str) -> Path:
        with self.atomic_file(relative) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return self.path(relative)

    def write_bytes(self, relative: str, data: bytes) -> Path:
        with self.atomic_file(relative) as tmp:
            tmp.write_bytes(data)
        return self.path(relative)

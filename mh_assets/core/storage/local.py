"""The artifacts tree: where every materialized output lives, and how it is written.

Two rules are enforced here rather than in each stage:

* a failed materialization never leaves a half-written file or checkpoint behind --
  everything is written to a temporary sibling and renamed into place;
* patient-level outputs live under ``restricted/`` with owner-only permissions
  (directories 0700, files 0600), and so do checkpoints under ``models/`` (with their
  training state): a language model can memorise the texts it was trained on;
  everything else is publishable.

And one more: a write the environment refuses -- a read-only or full disk, a file
where a folder should be -- raises :class:`ArtifactStorageError`, one sentence
naming the path and what to do, never the operating system's bare errno; the
previous output stays in place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from mh_assets.core import layout

OWNER_DIR = 0o700
OWNER_FILE = 0o600

_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST}  # EEXIST: mkdir where a file is
# Libraries that write for us (polars, safetensors) report the OS error in their text.
_FULL_TEXT = re.compile(r"os error (28|122)\b|No space left on device|Disk quota exceeded", re.I)
_READ_ONLY_TEXT = re.compile(r"os error 30\b|Read-only file system", re.I)
#: A write that failed for no stated reason on a disk with less room than this: disk full.
NEARLY_FULL_BYTES = 8 << 20


class ArtifactStorageError(OSError):
    """The environment refused a write: one sentence with the path and what to do.

    ``kind`` is ``read-only``, ``full``, ``not-a-folder`` or ``folder-in-the-way``;
    ``path`` is the file or directory that was being written. The message holds paths
    only (never data), so it is safe for logs and Dagster metadata.
    """

    def __init__(self, kind: str, path: Path, message: str, code: int | None = None):
        super().__init__(code, message)
        self.kind, self.path, self.message = kind, path, message

    def __str__(self) -> str:
        return self.message


def make_owner_only(path: str | os.PathLike[str]) -> None:
    """Directories 0700 and files 0600, from ``path`` down (``path`` itself included)."""
    root = Path(path)
    if not root.exists():
        return
    os.chmod(root, OWNER_DIR if root.is_dir() else OWNER_FILE)
    for directory, subdirs, files in os.walk(root):
        for name in subdirs:
            os.chmod(os.path.join(directory, name), OWNER_DIR)
        for name in files:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                os.chmod(full, OWNER_FILE)


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

    #: What a user changes to send the artifacts elsewhere (the mirror names its own).
    ROOT_VARIABLE = "MH_ARTIFACTS_DIR"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        raise_as: Callable[[ArtifactStorageError], BaseException] | None = None,
    ):
        """``raise_as`` turns a storage error into what the caller raises instead
        (the Dagster layer makes it a ``dg.Failure`` with the same sentence)."""
        self.root = Path(root)
        self.raise_as = raise_as

    def path(self, relative: str) -> Path:
        return self.root / relative

    def is_restricted(self, relative: str) -> bool:
        return layout.is_restricted(relative)

    def is_owner_only(self, relative: str) -> bool:
        """Patient-level data and checkpoints: directories 0700, files 0600."""
        return layout.is_restricted(relative) or layout.is_model(relative)

    def _ensure_parent(self, target: Path, owner_only: bool) -> None:
        self._ensure_dir(target.parent, owner_only)

    def _ensure_dir(self, directory: Path, owner_only: bool) -> None:
        """Create ``directory``; owner-only from its top-level folder (``restricted/``,
        ``models/``) down when ``owner_only``."""
        directory.mkdir(parents=True, exist_ok=True)
        if not owner_only:
            return
        for parent in [directory, *directory.parents]:
            if parent == self.root:
                break
            if self.root in parent.parents:
                os.chmod(parent, OWNER_DIR)

    def private_dir(self, relative: str) -> Path:
        """A directory that stays in place (a checkpoint's training state), created
        owner-only with every folder above it below the artifacts root."""
        target = self.root / relative
        with self._translated(target):
            self._ensure_dir(target, owner_only=True)
        return target

    @contextlib.contextmanager
    def atomic_file(self, relative: str, upload: bool = True) -> Iterator[Path]:
        """Yield a temporary path; on success rename it to ``relative``, else delete it."""
        target = self.root / relative
        owner_only = self.is_owner_only(relative)
        tmp: Path | None = None
        try:
            with self._translated(target, lambda: tmp):
                self._ensure_parent(target, owner_only)
                fd, tmp_name = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
                os.close(fd)
                tmp = Path(tmp_name)
                yield tmp
                os.chmod(tmp, OWNER_FILE if owner_only else 0o644)
                os.replace(tmp, target)
                if upload:
                    self._published(relative, target)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def atomic_dir(self, relative: str, upload: bool = True) -> Iterator[Path]:
        """Yield a temporary directory; on success it replaces ``relative`` whole.

        Under ``restricted/`` and ``models/`` everything in it is made owner-only
        before the rename, whatever the writer (the HF Trainer, a tokenizer) set.
        """
        target = self.root / relative
        owner_only = self.is_owner_only(relative)
        tmp: Path | None = None
        try:
            with self._translated(target, lambda: tmp):
                self._ensure_parent(target, owner_only)
                tmp = Path(tempfile.mkdtemp(
                    prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
                yield tmp
                if owner_only:
                    make_owner_only(tmp)
                self._swap_in(tmp, target)
                if upload:
                    self._published(relative, target)
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _swap_in(tmp: Path, target: Path) -> None:
        """Rename ``tmp`` to ``target``; the old ``target`` comes back if that fails."""
        old = target.with_name(f".{target.name}.old")
        _remove(old)
        moved = False
        if target.exists() or target.is_symlink():
            os.replace(target, old)
            moved = True
        try:
            os.replace(tmp, target)
        except BaseException:
            if moved:
                os.replace(old, target)
            raise
        _remove(old)

    # ------------------------------------------------------------------ errors
    def _inside(self, exc: BaseException) -> bool:
        """Whether an OS error names a path below the artifacts root (or none)."""
        names = [getattr(exc, "filename", None), getattr(exc, "filename2", None)]
        names = [os.fspath(n) for n in names if n is not None]
        if not names:
            return True
        root = os.path.abspath(self.root)
        return any(os.path.abspath(n) == root or os.path.abspath(n).startswith(root + os.sep)
                   for n in names if isinstance(n, str))

    @contextlib.contextmanager
    def _translated(
        self, target: Path, staging: Callable[[], Path | None] = lambda: None
    ) -> Iterator[None]:
        """Raise an environment fault met while writing ``target`` as one sentence."""
        try:
            yield
        except ArtifactStorageError:
            raise
        except Exception as exc:
            error = self.storage_error(exc, target, staging())
            if error is None:
                raise
            raise (self.raise_as(error) if self.raise_as else error) from None

    def storage_error(
        self, exc: BaseException, target: Path, staging: Path | None = None
    ) -> ArtifactStorageError | None:
        """The sentence for an error met writing ``target``, or None if it is not one
        of the environment's (a bug, bad data) and should surface as it is."""
        code = exc.errno if isinstance(exc, OSError) else None
        text = str(exc)
        hint = f"point {self.ROOT_VARIABLE} at"
        if code not in _FULL | {errno.EROFS, None} and not self._inside(exc):
            return None  # e.g. a file outside the artifacts that could not be read
        if code in _FULL or _FULL_TEXT.search(text) or (
            code is None and _looks_like_io(exc) and _nearly_full(staging or target.parent)
        ):
            return ArtifactStorageError("full", target, (
                f"cannot write {target}: the disk holding the artifacts directory {self.root} "
                f"is full (or over quota); free space there or {hint} a disk with room "
                "(the previous outputs are kept)"), errno.ENOSPC)
        if code in _READ_ONLY or _READ_ONLY_TEXT.search(text):
            folder = _nearest_existing(target.parent)
            where = (f"the artifacts directory {self.root}" if folder in (self.root, None)
                     or folder in self.root.parents else f"the folder {folder}")
            return ArtifactStorageError("read-only", target, (
                f"cannot write {target}: {where} is read-only (or not writable by this "
                f"user); {hint} a writable folder"), code or errno.EROFS)
        if code in _NOT_A_FOLDER or code == errno.EISDIR:
            blocker = _file_in_the_way(self.root, target.parent)
            if blocker is not None:
                return ArtifactStorageError("not-a-folder", target, (
                    f"cannot write {target}: {blocker} is a file where the artifacts need a "
                    f"folder; move that file away, or {hint} another folder"), code)
            if target.is_dir() and code in (errno.EISDIR, errno.EEXIST, errno.ENOTDIR):
                return ArtifactStorageError("folder-in-the-way", target, (
                    f"cannot write {target}: a folder is in its place; move that folder "
                    f"away, or {hint} another folder"), code)
        return None

    def _published(self, relative: str, target: Path) -> None:
        """Called after a completed write; a remote store uploads it (local: nothing)."""

    def write_parquet(self, relative: str, frame: pl.DataFrame) -> Path:
        with self.atomic_file(relative) as tmp:
            frame.write_parquet(tmp)
        return self.path(relative)

    def read_parquet(self, relative: str) -> pl.DataFrame:
        return pl.read_parquet(self._existing(relative))

    def scan_parquet(self, relative: str) -> pl.LazyFrame:
        """A lazy read: only the columns and rows a query asks for are decoded."""
        return pl.scan_parquet(self._existing(relative))

    def _existing(self, relative: str) -> Path:
        target = self.path(relative)
        if not target.exists():
            raise FileNotFoundError(
                f"{target} does not exist: materialize the upstream asset that writes it first"
            )
        return target

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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _nearest_existing(path: Path) -> Path | None:
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate
    return None


def _file_in_the_way(root: Path, directory: Path) -> Path | None:
    """The first path from ``root`` down to ``directory`` that is not a folder."""
    chain = [directory, *directory.parents]
    if root in chain:
        chain = chain[: chain.index(root) + 1]
    for candidate in reversed(chain):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


_IO_TEXT = re.compile(r"writ|unexpected pos|io ?error|i/o", re.I)


def _looks_like_io(exc: BaseException) -> bool:
    """An exception from a library's writer (torch reports a full disk as a bare
    "unexpected pos"), as opposed to any error raised while a writer ran."""
    library = type(exc).__module__.split(".")[0] in ("polars", "safetensors", "torch")
    return (library or isinstance(exc, OSError | RuntimeError)) and bool(
        _IO_TEXT.search(str(exc)))


def _nearly_full(path: Path) -> bool:
    """A write failed without saying why: is it because the disk has no room left?"""
    folder = _nearest_existing(path)
    if folder is None:
        return False
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False

"""Environment faults on demand: a read-only folder, a full disk.

Tests that the platform turns what the operating system refuses into one clear
sentence need the refusal first. A full disk is simulated by making the write raise
``OSError(ENOSPC)``; a read-only folder by ``chmod 0500`` where that binds, and, for
root (whom permissions do not stop), by refusing every write below the folder with
the errno a read-only mount gives. Either way only paths below the folder are
affected, so Dagster's own instance files and pytest's temporary files are not.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: chmod does not stop root: tests that need a real permission bit skip as root.
RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_non_root = pytest.mark.skipif(RUNNING_AS_ROOT,
                                    reason="root ignores permission bits (chmod 0500)")


def _below(path: object, folder: Path) -> bool:
    if path is None:
        return False
    resolved = Path(os.path.abspath(os.fspath(path)))
    return resolved == folder or folder in resolved.parents


@contextmanager
def chmod_read_only(folder: Path) -> Iterator[Path]:
    """``folder`` (and so everything under it) made read-only by its mode, then restored."""
    folder.mkdir(parents=True, exist_ok=True)
    mode = folder.stat().st_mode & 0o777
    folder.chmod(0o500)
    try:
        yield folder
    finally:
        folder.chmod(mode)


def refuse_writes(monkeypatch: pytest.MonkeyPatch, folder: Path,
                  code: int = errno.EROFS) -> Path:
    """Every new file or folder below ``folder`` fails with ``code`` (as on a read-only
    mount), whoever runs the test; reads still work."""
    folder = Path(os.path.abspath(folder))
    real_mkstemp, real_mkdtemp, real_mkdir = tempfile.mkstemp, tempfile.mkdtemp, os.mkdir

    def refused(path: object) -> OSError:
        return OSError(code, os.strerror(code), os.fspath(path))

    def mkstemp(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own name
        if _below(dir, folder):
            raise refused(dir)
        return real_mkstemp(*args, dir=dir, **kwargs)

    def mkdtemp(*args, dir=None, **kwargs):  # noqa: A002
        if _below(dir, folder):
            raise refused(dir)
        return real_mkdtemp(*args, dir=dir, **kwargs)

    def mkdir(path, *args, **kwargs):
        if _below(path, folder) and not os.path.isdir(path):
            raise refused(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(os, "mkdir", mkdir)
    return folder


def disk_full_error(path: object = None) -> OSError:
    """What a write raises when the disk has no room left."""
    code = errno.ENOSPC
    return OSError(code, os.strerror(code), None if path is None else os.fspath(path))

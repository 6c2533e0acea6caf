"""What code ran: installed library versions and the git commit; how a recorded value reads.

Provenance records, training summaries and the report all state these; they are
read here once (package metadata only, nothing heavy is imported). The settings'
provenance and the report's provenance table write their values as text through
:func:`provenance_text`, so a value reads the same in the UI and in the report.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = (
    "dagster", "polars", "numpy", "scikit-learn", "scipy", "torch", "transformers",
    "sentence-transformers", "tokenizers", "accelerate", "safetensors", "simple-icd-10-cm",
)


#: How an unset value (None) reads wherever provenance is shown.
NOT_SET = "not set"


def provenance_text(value: object) -> str:
    """A recorded value as text: None reads "not set", a sequence as a comma list (a
    set sorted, so the text is the same run after run), anything else as ``str``."""
    if value is None:
        return NOT_SET
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(str(v) for v in items)
    return str(value)


def library_versions() -> dict[str, str]:
    """Python, mh-assets and each library's installed version ("not installed" if absent)."""
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    found = {"python": platform.python_version(), "mh-assets": _version("mh-assets")}
    found.update({name: _version(name) for name in LIBRARIES})
    return tuple(found.items())


def _version(name: str) -> str:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def git_commit() -> str:
    """The commit of the code that ran; ``MH_GIT_COMMIT`` wins (images have no .git)."""
    if os.environ.get("MH_GIT_COMMIT"):
        return os.environ["MH_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
            text=True, timeout=5, check=True,
        )
        commit = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return f"{commit}-dirty" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"

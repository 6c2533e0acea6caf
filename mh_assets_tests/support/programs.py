"""External programs the end-to-end tests drive (Chromium, PostgreSQL, hadolint)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_program(path_or_name: str, what: str) -> str:
    """The program's path; skip where it is absent -- but fail under CI, which installs it."""
    found = shutil.which(path_or_name) or (path_or_name if os.access(path_or_name, os.X_OK)
                                           else None)
    if found:
        return found
    message = f"{what} not found ({path_or_name}); .ci/run installs it with apt-get"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set but {message}")
    pytest.skip(message)

"""Fixtures for the science tests: hand-written extracts written to a fresh folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_extract(tmp_path: Path) -> Callable[..., Path]:
    """Write text (UTF-8) or bytes to a file in a fresh directory and return its path."""

    def write(content: str | bytes, name: str = "RAECMBD_1_20240101-000000.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write

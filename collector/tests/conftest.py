"""Fixtures shared by the collector's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty output directory (the collector never creates it)."""
    directory = tmp_path / "output"
    directory.mkdir()
    return directory

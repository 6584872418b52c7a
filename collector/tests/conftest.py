"""Fixtures and Hypothesis settings shared by the collector's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# No example database: a test run writes nothing into the repository (nor into a read-only
# container file system); no deadline, since CI machines are slow and shared.
settings.register_profile("collector", database=None, deadline=None)
settings.load_profile("collector")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty output directory (the collector never creates it)."""
    directory = tmp_path / "output"
    directory.mkdir()
    return directory

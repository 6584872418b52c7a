"""Fixtures and Hypothesis settings shared by the collector's tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# No example database: a test run writes nothing into the repository (nor into a read-only
# container file system); no deadline, since CI machines are slow and shared.
settings.register_profile("collector", database=None, deadline=None)
settings.load_profile("collector")

# Hypothesis still caches the constants it finds in the code under test, in ./.hypothesis: it
# goes to a scratch directory instead, removed at exit (ipam's conftest does the same).
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    _scratch = tempfile.mkdtemp(prefix="collector-tests-hypothesis-")
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    set_hypothesis_home_dir(_scratch)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty output directory (the collector never creates it)."""
    directory = tmp_path / "output"
    directory.mkdir()
    return directory

"""Hypothesis settings for the ipam tests: nothing written into the source tree (the container's
root file system is read-only, and a test run must leave a checkout as it found it), and no
deadline (CI machines are slow and shared)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

settings.register_profile("ipam", database=None, deadline=None)
settings.load_profile("ipam")

# With no example database Hypothesis still writes a cache of the constants it finds in the
# code under test, to ./.hypothesis/constants. It goes to a scratch directory instead, removed
# at exit, unless HYPOTHESIS_STORAGE_DIRECTORY names one (coverage.sh does). The setting is
# process-wide, so it covers every suite collected in the same run.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    _scratch = tempfile.mkdtemp(prefix="ipam-tests-hypothesis-")
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    set_hypothesis_home_dir(_scratch)

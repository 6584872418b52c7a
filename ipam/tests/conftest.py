"""Hypothesis settings for the ipam tests: no example database (the container's root file
system is read-only) and no deadline (CI machines are slow and shared)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ipam", database=None, deadline=None)
settings.load_profile("ipam")

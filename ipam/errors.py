"""The one exception type a run reports as a clear one-line error (exit 1 with --once)."""

from __future__ import annotations

__all__ = ["IpamError"]


class IpamError(Exception):
    """Bad input or an unusable path: the message is meant for the operator, as is."""

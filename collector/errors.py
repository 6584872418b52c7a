"""Errors a run reports as one clear line: each one leaves every existing output untouched."""

from __future__ import annotations


class CollectorError(Exception):
    """A run cannot go on; the message is the one line shown to the operator."""


class DatabaseNotFoundError(CollectorError):
    """The database path does not name an existing file (it is never created)."""


class UnreadableDatabaseError(CollectorError):
    """The database file exists but SQLite cannot read it (not a database, locked too long)."""


class SchemaError(CollectorError):
    """The ``customers`` table or its ``job`` column is missing."""


class HeaderMismatchError(CollectorError):
    """customers.csv starts with a header other than the one this table gives."""


class MalformedCsvError(CollectorError):
    """customers.csv is damaged somewhere other than a torn last record."""


class OutputDirectoryError(CollectorError):
    """The output directory does not exist."""


class LockBusyError(CollectorError):
    """Another run holds the lock: this run writes nothing."""

"""A realistic database outage for SQLite: another connection holds the write lock (a long migration, a
backup), so every write of the gateway waits its busy timeout and fails."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold the write lock of the SQLite file at `path` while the block runs."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()

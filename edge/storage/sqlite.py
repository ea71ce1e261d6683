"""Two checks on an open SQLite connection (``isolation_level=None``) that raise sqlite3's own
errors, for the store's boundary (:func:`edge.storage.errors.storage_fault`) to translate."""

from __future__ import annotations

import sqlite3

__all__ = ["PROBE_BYTES", "probe_write", "quick_check"]

PROBE_BYTES = 16 * 1024  # a few pages: a disk that takes this takes a batch of messages


def quick_check(db: sqlite3.Connection) -> None:
    """Raise ``sqlite3.DatabaseError`` (the corrupt family) unless SQLite's ``PRAGMA
    quick_check`` finds the file sound; it reads the whole file, so only at open."""
    result = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    if result != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {result}")


def probe_write(db: sqlite3.Connection, size: int = PROBE_BYTES) -> None:
    """Commit ``size`` bytes and delete them again: raises when the disk refuses writes, so a
    store with nothing of its own to write can tell that its disk recovered."""
    db.execute("CREATE TABLE IF NOT EXISTS storage_probe (data BLOB NOT NULL)")
    with db:
        db.execute("BEGIN")
        db.execute("INSERT INTO storage_probe (data) VALUES (zeroblob(?))", (size,))
    with db:
        db.execute("BEGIN")
        db.execute("DELETE FROM storage_probe")

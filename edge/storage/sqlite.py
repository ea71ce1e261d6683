"""Opening a store's SQLite file the one way every store does, and two checks on an open
connection (``isolation_level=None``); all raise sqlite3's own errors, for the store's
boundary (:func:`edge.storage.errors.storage_fault`) to translate."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

__all__ = ["PROBE_BYTES", "open_checked", "probe_write", "quick_check"]

PROBE_BYTES = 16 * 1024  # a few pages: a disk that takes this takes a batch of messages


def open_checked(
    path: Path,
    schema: str = "",
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
    any_thread: bool = True,
) -> sqlite3.Connection:
    """Create or reopen the file at ``path`` (and its folder) in autocommit mode, WAL journal,
    ``synchronous`` as asked; check it (:func:`quick_check`) and apply ``schema`` (idempotent
    SQL). The connection is closed again when any step fails. ``any_thread``: the connection
    may be used from a worker thread (the store serialises its own use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=not any_thread)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        quick_check(db)
        if schema:
            db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db


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

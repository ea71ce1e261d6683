"""Storage errors: what a store's sqlite3 and OS errors mean, translated at one boundary.

A store (the outbox, the alarm log) catches ``sqlite3.Error`` and ``OSError`` around its disk
operations only, turns them into a :class:`StorageFaultError` with :func:`storage_fault`, and
acts on its ``kind``:

- ``corrupt``: SQLite says the file is not a database or is malformed (``SQLITE_NOTADB``,
  ``SQLITE_CORRUPT``, or a failed :func:`~edge.storage.sqlite.quick_check`): move it aside,
  start fresh;
- ``full``: no space left (``SQLITE_FULL``, ``ENOSPC``, ``EDQUOT``): keep in memory, retry;
- ``unavailable``: anything else (read-only or missing directory, I/O error): keep, retry.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Literal

__all__ = ["FaultKind", "StorageFaultError", "storage_fault"]

FaultKind = Literal["corrupt", "full", "unavailable"]

_CORRUPT_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_FULL_CODES = frozenset({"SQLITE_FULL"})
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageFaultError(Exception):
    """A store's disk refused an operation. ``store``: ``outbox`` or ``alarm_log``."""

    def __init__(self, store: str, path: Path, kind: FaultKind, detail: str) -> None:
        super().__init__(f"{store} {kind}: {detail} ({path})")
        self.store = store
        self.path = path
        self.kind: FaultKind = kind
        self.detail = detail


def storage_fault(store: str, path: Path, exc: sqlite3.Error | OSError) -> StorageFaultError:
    """The :class:`StorageFaultError` that ``exc``, raised by ``store`` on ``path``, means."""
    return StorageFaultError(store, path, _kind(exc), str(exc) or type(exc).__name__)


def _kind(exc: sqlite3.Error | OSError) -> FaultKind:
    if isinstance(exc, OSError):
        return "full" if exc.errno in _FULL_ERRNOS else "unavailable"
    name = getattr(exc, "sqlite_errorname", None)
    if name in _CORRUPT_CODES:
        return "corrupt"
    if name in _FULL_CODES:
        return "full"
    # Without an error code: a plain DatabaseError (not Operational) is the corrupt family,
    # which is also what a failed quick_check raises.
    if type(exc) is sqlite3.DatabaseError:
        return "corrupt"
    return "unavailable"

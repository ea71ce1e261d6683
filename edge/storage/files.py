"""Corrupt store files are moved aside, never deleted: an engineer may still read them."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

__all__ = ["SIDECARS", "aside_name", "set_aside"]

SIDECARS = ("", "-wal", "-shm", "-journal")  # the SQLite file and the files that go with it


def aside_name(path: Path, at: datetime) -> Path:
    """``outbox.sqlite`` -> ``outbox.sqlite.corrupt-20261206T043300Z`` (UTC ``at``), with a
    ``-2``, ``-3``... suffix when that name is taken."""
    base = path.with_name(f"{path.name}.corrupt-{at.strftime('%Y%m%dT%H%M%SZ')}")
    target, n = base, 1
    while any(Path(f"{target}{s}").exists() for s in SIDECARS):
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    return target


def set_aside(path: Path, at: datetime) -> Path:
    """Move ``path`` and its -wal/-shm/-journal files to :func:`aside_name`; the new name.
    Raises ``OSError`` when the directory refuses (read-only, gone)."""
    target = aside_name(path, at)
    for suffix in SIDECARS:
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target

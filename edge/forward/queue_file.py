"""The forwarding queue's SQLite file: WAL, ``synchronous=FULL``, bounded; one worker thread.

Two tables. ``queue``: messages waiting for the receiver, oldest first; at most
``max_messages`` rows, past that the oldest observation goes first and an alarm only when no
observation is left (every drop counted by kind and logged). ``refused``: messages the
receiver refused (HL7 AE/AR, an HTTP 4xx), with its code and text, for a biomedical engineer
to read; at most ``max_refused`` rows, oldest dropped first. Every method raises sqlite3's
and the OS's own errors; :class:`~edge.forward.queue.ForwardQueue` translates them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.storage.files import set_aside
from edge.storage.sqlite import open_checked

__all__ = ["KINDS", "NewMessage", "QueueFile", "QueuedMessage", "RefusedMessage"]

log = logging.getLogger(__name__)

KINDS = ("observation", "alarm")  # drop order past the bound: observations first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    control_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    bed TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_kind ON queue (kind, id);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    control_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    bed TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL,
    refused_at REAL NOT NULL,
    code TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store: ``control_id`` (HL7 MSH-10, or a bundle id), ``kind``
    (``observation`` or ``alarm``), the ``bed`` it concerns, the encoded ``payload``."""

    control_id: str
    kind: str
    bed: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A stored message: its row ``id`` and ``created`` (Unix s)."""

    id: int
    control_id: str
    kind: str
    bed: str
    payload: bytes
    created: float


@dataclass(frozen=True, slots=True)
class RefusedMessage:
    """A message the receiver refused at ``refused_at`` (Unix s) with ``code`` and
    ``detail`` (its own words)."""

    control_id: str
    kind: str
    bed: str
    payload: bytes
    created: float
    refused_at: float
    code: str
    detail: str


class QueueFile:
    """The file at ``path``; ``count`` rows waiting as of the last write."""

    def __init__(self, path: Path, max_messages: int, max_refused: int) -> None:
        self.path = path
        self.max_messages = max_messages
        self.max_refused = max_refused
        self.db: sqlite3.Connection | None = None
        self.count = 0
        self.oldest_created: float | None = None
        self.dropped = dict.fromkeys(KINDS, 0)

    def open(self) -> None:
        """Create or reopen the file and its folder; check it (``PRAGMA quick_check``)."""
        self.db = open_checked(self.path, _SCHEMA)
        self._recount()

    def close(self) -> None:
        """Close the connection."""
        if self.db is not None:
            self.db.close()
            self.db = None

    def set_aside(self) -> Path:
        """Close and move the (corrupt) file aside; where it went."""
        self.close()
        return set_aside(self.path, datetime.now(UTC))

    def _conn(self) -> sqlite3.Connection:
        if self.db is None:
            raise sqlite3.OperationalError("queue file is not open")
        return self.db

    def _recount(self) -> None:
        self.count = int(self._conn().execute("SELECT COUNT(*) FROM queue").fetchone()[0])
        self._recount_oldest()

    def insert(self, messages: Sequence[NewMessage], created: float) -> None:
        """Store ``messages`` in one transaction, then apply the bound."""
        db = self._conn()
        rows = [(m.control_id, m.kind, m.bed, m.payload, created) for m in messages]
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO queue (control_id, kind, bed, payload, created) VALUES (?,?,?,?,?)",
                rows,
            )
            self.count += len(rows)
            if self.count > self.max_messages:
                self._drop(self.count - self.max_messages)
        if self.oldest_created is None:
            self.oldest_created = created

    def _drop(self, excess: int) -> None:
        db = self._conn()
        for kind in KINDS:
            if excess <= 0:
                return
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM queue WHERE kind = ? ORDER BY id LIMIT ?", (kind, excess)
                )
            ]
            db.executemany("DELETE FROM queue WHERE id = ?", [(i,) for i in ids])
            if ids:
                self.dropped[kind] += len(ids)
                self.count -= len(ids)
                excess -= len(ids)
                log.warning(
                    "forwarding queue full: oldest dropped",
                    extra={"queue": self.path.name, "kind": kind, "count": len(ids)},
                )

    def head(self, count: int = 1) -> list[QueuedMessage]:
        """The ``count`` oldest waiting messages, oldest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT id, control_id, kind, bed, payload, created FROM queue ORDER BY id LIMIT ?",
                (count,),
            )
            .fetchall()
        )
        self.oldest_created = rows[0][5] if rows else None
        return [QueuedMessage(*row) for row in rows]

    def delete(self, message_id: int) -> None:
        """Remove ``message_id`` (the receiver accepted it), without a disk flush of its own:
        a power cut may undo it (a duplicate later, never a loss); the next commit with
        ``synchronous=FULL`` makes it durable."""
        db = self._conn()
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                deleted = db.execute("DELETE FROM queue WHERE id = ?", (message_id,)).rowcount
        finally:
            db.execute("PRAGMA synchronous=FULL")
        self.count -= deleted
        self._recount_oldest()

    def refuse(self, message: QueuedMessage, at: float, code: str, detail: str) -> None:
        """Move ``message`` to ``refused`` with the receiver's ``code`` and ``detail``."""
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            deleted = db.execute("DELETE FROM queue WHERE id = ?", (message.id,)).rowcount
            db.execute(
                "INSERT INTO refused (control_id, kind, bed, payload, created, refused_at, "
                "code, detail) VALUES (?,?,?,?,?,?,?,?)",
                (
                    message.control_id,
                    message.kind,
                    message.bed,
                    message.payload,
                    message.created,
                    at,
                    code,
                    detail,
                ),
            )
            db.execute(
                "DELETE FROM refused WHERE id <= (SELECT MAX(id) FROM refused) - ?",
                (self.max_refused,),
            )
        self.count -= deleted
        self._recount_oldest()

    def _recount_oldest(self) -> None:
        row = self._conn().execute("SELECT created FROM queue ORDER BY id LIMIT 1").fetchone()
        self.oldest_created = row[0] if row else None

    def refused(self, limit: int) -> list[RefusedMessage]:
        """The latest ``limit`` refused messages, newest first."""
        rows = self._conn().execute(
            "SELECT control_id, kind, bed, payload, created, refused_at, code, detail "
            "FROM refused ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [RefusedMessage(*row) for row in rows]

"""The outbox's SQLite file: WAL, ``synchronous=FULL``, bounded; used by one worker thread.

:class:`OutboxFile` is the disk tier of :class:`~edge.publish.outbox.Outbox`: every method runs
on the outbox's single worker thread and raises sqlite3's and the OS's own errors, which the
outbox translates at one boundary. A committed message survives a crash of the daemon or the
machine. Bounds: at most ``max_messages`` rows, and telemetry and state no older than
``max_age_s``; past a bound the oldest telemetry goes first, then device and session state; an
alarm is dropped only when nothing else is left to drop. Every drop is counted per class (in
the shared ``dropped``) and logged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from edge.publish.messages import MessageClass, OutboxMessage
from edge.storage.files import set_aside
from edge.storage.sqlite import open_checked, probe_write

__all__ = ["OutboxFile", "Row"]

log = logging.getLogger(__name__)
_DELETE_CHUNK = 500  # ids per DELETE statement (SQLite binds at most 999 in old builds)
AGE_CHECK_INTERVAL_S = 1.0  # the age bound is enforced on a put at most this often
Row = tuple[str, bytes, int, int, int, float, int | None]  # an INSERT's parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    class INTEGER NOT NULL,
    created REAL NOT NULL,
    expiry_s INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_class ON outbox (class, id);
CREATE INDEX IF NOT EXISTS outbox_class_created ON outbox (class, created);
"""


class OutboxFile:
    """The file at ``path``; ``count`` rows as of the last write, ``oldest_created`` (Unix s)
    of the oldest as of the last take. Call :meth:`open` first."""

    def __init__(
        self,
        path: Path,
        max_messages: int,
        max_age_s: float,
        now: Callable[[], float],
        dropped: dict[MessageClass, int],
    ) -> None:
        self.path = path
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.dropped = dropped
        self.db: sqlite3.Connection | None = None
        self.count = 0
        self.oldest_created: float | None = None
        self._now = now
        self._age_checked_at = float("-inf")

    def open(self, ids_above: int = 0) -> None:
        """Create or reopen the file (and its folder) and check it (``PRAGMA quick_check``);
        new ids start above ``ids_above`` (the last id handed out from a file set aside)."""
        db = open_checked(self.path, _SCHEMA)
        try:
            if ids_above > 0:
                _seed_ids(db, ids_above)
            count = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except BaseException:
            db.close()
            raise
        self.db, self.count = db, count

    def close(self) -> None:
        """Close the connection (a no-op when not open)."""
        db, self.db = self.db, None
        if db is not None:
            db.close()

    def set_aside(self) -> Path:
        """Close and move the (corrupt) file and its -wal/-shm aside; the new name."""
        with suppress(sqlite3.Error):
            self.close()
        self.db = None
        self.count, self.oldest_created = 0, None
        return set_aside(self.path, datetime.now(UTC))

    def require(self) -> sqlite3.Connection:
        """The open connection."""
        if self.db is None:
            raise RuntimeError("outbox is not open")
        return self.db

    def probe(self) -> None:
        """Raise unless the disk takes a write of a few pages now."""
        probe_write(self.require())

    def insert(self, rows: Sequence[Row], delivered: Sequence[int]) -> int:
        """Store ``rows`` and delete ``delivered`` in one transaction (durable on return),
        then enforce the bounds. The id of the last row stored (0 when none): the rows got
        consecutive ids up to it (one connection, AUTOINCREMENT, one transaction)."""
        if not rows and not delivered:
            return 0
        db = self.require()
        last_id = 0
        with db:
            db.execute("BEGIN")
            deleted = _delete_rows(db, delivered)
            if rows:
                db.executemany(
                    "INSERT INTO outbox (topic, payload, qos, retain, class, created, expiry_s)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                last_id = db.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
                ).fetchone()[0]
        self.count += len(rows) - deleted
        if self.oldest_created is None and rows:
            self.oldest_created = rows[0][5]
        try:
            self._enforce_bounds(db)
        except sqlite3.Error as exc:  # the rows are committed; the bounds wait for the next put
            log.warning("outbox bounds not enforced", extra={"error": str(exc)})
        return int(last_id)

    def _enforce_bounds(self, db: sqlite3.Connection) -> None:
        now = self._now()
        if now - self._age_checked_at >= AGE_CHECK_INTERVAL_S:
            self._age_checked_at = now
            cutoff = now - self.max_age_s
            for cls in (MessageClass.TELEMETRY, MessageClass.STATE):
                self._drop(db, cls, "created < ?", (cutoff,), "older than the age limit")
        for cls in MessageClass:
            excess = self.count - self.max_messages
            if excess <= 0:
                return
            self._drop(db, cls, "1 ORDER BY id LIMIT ?", (excess,), "outbox full")

    def _drop(
        self,
        db: sqlite3.Connection,
        cls: MessageClass,
        where: str,
        args: tuple[float, ...],
        reason: str,
    ) -> None:
        with db:
            # ``where`` is one of two constant fragments of this module, never outside input.
            sql = f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE class = ? AND {where})"  # noqa: S608, E501
            cursor = db.execute(sql, (int(cls), *args))
        dropped = cursor.rowcount
        if dropped > 0:
            self.count -= dropped
            self.dropped[cls] += dropped
            level = logging.ERROR if cls is MessageClass.ALARM else logging.WARNING
            log.log(
                level,
                "outbox dropped messages",
                extra={
                    "class": cls.name.lower(),
                    "count": dropped,
                    "reason": reason,
                    "dropped_total": self.dropped[cls],
                },
            )

    def take(self, limit: int, delivered: Sequence[int], after: int = 0) -> list[OutboxMessage]:
        """Delete ``delivered``, then up to ``limit`` messages with an id above ``after``,
        oldest first, skipping those deferred to a later time."""
        if delivered:
            self.delete(delivered)
        rows = self.require().execute(
            "SELECT id, topic, payload, qos, retain, class, created, expiry_s, attempts"
            " FROM outbox WHERE id > ? AND not_before <= ? ORDER BY id LIMIT ?",
            (after, self._now(), limit),
        )
        messages = [
            OutboxMessage(r[0], r[1], r[2], r[3], bool(r[4]), MessageClass(r[5]), r[6], r[7], r[8])
            for r in rows
        ]
        self.oldest_created = messages[0].created if messages else None
        return messages

    def take_unsafe(
        self, limit: int, delivered: Sequence[int]
    ) -> tuple[list[OutboxMessage], Sequence[int]]:
        """Like :meth:`take` on a disk that may refuse the deletes: then those ids are kept
        (returned) and their rows skipped."""
        try:
            if delivered:
                self.delete(delivered)
        except sqlite3.OperationalError:
            skip = set(delivered)
            messages = self.take(limit + len(skip), ())
            return [m for m in messages if m.id not in skip][:limit], delivered
        return self.take(limit, ()), ()

    def delete(self, ids: Sequence[int]) -> None:
        """Delete ``ids`` without waiting for the disk (``synchronous=NORMAL`` for these
        transactions): a power cut can only undo the latest deletes, so a message is
        published again (at-least-once; consumers drop duplicates by session + seq), never
        lost. The next ``put`` commits with a flush, which makes them durable too."""
        db = self.require()
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            with db:
                db.execute("BEGIN")
                deleted = _delete_rows(db, ids)
        finally:
            db.execute("PRAGMA synchronous=FULL")
        self.count -= deleted

    def defer(self, ids: Sequence[int], until: float) -> None:
        """Count an attempt for ``ids`` and skip them until Unix time ``until``."""
        db = self.require()
        with db:
            db.execute("BEGIN")
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ? WHERE id = ?",
                [(until, i) for i in ids],
            )

    def oldest(self) -> float | None:
        """The Unix time the oldest row was stored, or ``None`` when empty."""
        row = self.require().execute("SELECT MIN(created) FROM outbox").fetchone()
        value: float | None = row[0]
        return value


def _seed_ids(db: sqlite3.Connection, above: int) -> None:
    with db:
        db.execute("BEGIN")
        cursor = db.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'outbox'", (above,)
        )
        if cursor.rowcount == 0:
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (above,))


def _delete_rows(db: sqlite3.Connection, ids: Sequence[int]) -> int:
    """Delete ``ids`` inside the caller's transaction; how many rows went."""
    deleted = 0
    for start in range(0, len(ids), _DELETE_CHUNK):
        chunk = ids[start : start + _DELETE_CHUNK]
        marks = ",".join("?" * len(chunk))
        # only '?' marks are formatted in; the ids are bound parameters
        sql = f"DELETE FROM outbox WHERE id IN ({marks})"  # noqa: S608
        deleted += max(0, db.execute(sql, tuple(chunk)).rowcount)
    return deleted

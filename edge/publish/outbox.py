"""The outbox: every message is on disk before it is published, and leaves only when acked.

SQLite in WAL mode with ``synchronous=FULL``: a committed message survives a crash of the
daemon or of the machine. One worker thread owns the connection, so the event loop never
waits on a disk flush. Messages are taken oldest first; the publisher marks them delivered
after the broker acknowledged them, and the next outbox operation deletes them (at-least-once
delivery; consumers drop duplicates by session + seq).

Bounds: at most ``max_messages`` rows, and telemetry and state no older than ``max_age_s``.
Past a bound the oldest telemetry goes first, then device and session state; an alarm is
dropped only when nothing else is left to drop. Every drop is counted per class and logged.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TypeVar

__all__ = ["MessageClass", "NewMessage", "Outbox", "OutboxMessage"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_DELETE_CHUNK = 500  # ids per DELETE statement (SQLite binds at most 999 in old builds)
AGE_CHECK_INTERVAL_S = 1.0  # the age bound is enforced on a put at most this often

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


class MessageClass(IntEnum):
    """Drop order under pressure: lowest first."""

    TELEMETRY = 0
    STATE = 1
    ALARM = 2


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store. ``expiry_s``: MQTT 5 message expiry interval, if any."""

    topic: str
    payload: bytes
    cls: MessageClass
    qos: int = 1
    retain: bool = False
    expiry_s: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A stored message; ``created`` is a Unix time in seconds."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    cls: MessageClass
    created: float
    expiry_s: int | None
    attempts: int


class Outbox:
    """A bounded, crash-safe queue of MQTT messages. Open with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        max_messages: int,
        max_age_s: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self._now = now
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None
        self._count = 0
        self._oldest_created: float | None = None
        self.dropped = dict.fromkeys(MessageClass, 0)
        self.new_messages = asyncio.Event()
        self._delivered: list[int] = []  # acknowledged ids not yet deleted
        self._age_checked_at = float("-inf")

    async def open(self) -> None:
        """Create or reopen the database; what an earlier run left is kept for publishing."""
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        self._db = db
        self._count = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    async def close(self) -> None:
        """Delete what was marked delivered, close the database and its worker thread."""
        if self._db is not None:
            delivered = self._pop_delivered()
            if delivered:
                await self._run(lambda: self._delete(delivered))
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @property
    def depth(self) -> int:
        """Messages waiting (stored, not yet delivered), as of the last write."""
        return max(0, self._count - len(self._delivered))

    async def put(self, messages: Sequence[NewMessage]) -> None:
        """Store ``messages`` in one transaction (durable on return), with the deletes of what
        was marked delivered since the last disk operation; then enforce the bounds."""
        if not messages:
            return
        delivered = self._pop_delivered()
        await self._run(lambda: self._put(messages, delivered))
        self.new_messages.set()

    def _put(self, messages: Sequence[NewMessage], delivered: Sequence[int]) -> None:
        db = self._require()
        created = self._now()
        rows = [
            (m.topic, m.payload, m.qos, int(m.retain), int(m.cls), created, m.expiry_s)
            for m in messages
        ]
        with db:
            db.execute("BEGIN")
            deleted = self._delete_rows(db, delivered)
            db.executemany(
                "INSERT INTO outbox (topic, payload, qos, retain, class, created, expiry_s)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        self._count += len(rows) - deleted
        if self._oldest_created is None:
            self._oldest_created = created
        self._enforce_bounds(db)

    def _enforce_bounds(self, db: sqlite3.Connection) -> None:
        now = self._now()
        if now - self._age_checked_at >= AGE_CHECK_INTERVAL_S:
            self._age_checked_at = now
            cutoff = now - self.max_age_s
            for cls in (MessageClass.TELEMETRY, MessageClass.STATE):
                self._drop(db, cls, "created < ?", (cutoff,), "older than the age limit")
        for cls in MessageClass:
            excess = self._count - self.max_messages
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
            self._count -= dropped
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

    async def take(self, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages, oldest first, skipping those deferred to a later time and
        those marked delivered (deleted first, in the same disk operation)."""
        delivered = self._pop_delivered()
        return await self._run(lambda: self._take(limit, delivered))

    def _take(self, limit: int, delivered: Sequence[int]) -> list[OutboxMessage]:
        if delivered:
            self._delete(delivered)
        rows = self._require().execute(
            "SELECT id, topic, payload, qos, retain, class, created, expiry_s, attempts"
            " FROM outbox WHERE not_before <= ? ORDER BY id LIMIT ?",
            (self._now(), limit),
        )
        messages = [
            OutboxMessage(r[0], r[1], r[2], r[3], bool(r[4]), MessageClass(r[5]), r[6], r[7], r[8])
            for r in rows
        ]
        self._oldest_created = messages[0].created if messages else None
        return messages

    def mark_delivered(self, ids: Sequence[int]) -> None:
        """Note messages the broker acknowledged. They are deleted with the next ``put``,
        ``take``, ``delete`` or ``close`` (no disk operation of their own) and never taken
        again."""
        self._delivered.extend(ids)

    def _pop_delivered(self) -> list[int]:
        delivered, self._delivered = self._delivered, []
        return delivered

    async def delete(self, ids: Sequence[int]) -> None:
        """Remove delivered messages now (and those marked delivered before)."""
        self.mark_delivered(ids)
        delivered = self._pop_delivered()
        if delivered:
            await self._run(lambda: self._delete(delivered))

    def _delete(self, ids: Sequence[int]) -> None:
        """Delete ``ids`` without waiting for the disk (``synchronous=NORMAL`` for these
        transactions): a power cut can only undo the latest deletes, so a message is
        published again (at-least-once; consumers drop duplicates by session + seq), never
        lost. The next ``put`` commits with a flush, which makes them durable too."""
        db = self._require()
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            with db:
                db.execute("BEGIN")
                deleted = self._delete_rows(db, ids)
        finally:
            db.execute("PRAGMA synchronous=FULL")
        self._count -= deleted

    @staticmethod
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

    async def defer(self, ids: Sequence[int], delay_s: float) -> None:
        """Keep refused messages but try them again only after ``delay_s`` seconds."""
        if ids:
            until = self._now() + delay_s
            await self._run(lambda: self._defer(ids, until))

    def _defer(self, ids: Sequence[int], until: float) -> None:
        db = self._require()
        with db:
            db.execute("BEGIN")
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ? WHERE id = ?",
                [(until, i) for i in ids],
            )

    def oldest_age_estimate(self) -> float:
        """Seconds since the oldest waiting message was stored, as of the last take (0 when
        empty); cheap enough for every metrics scrape."""
        if self._count <= 0 or self._oldest_created is None:
            return 0.0
        return max(0.0, self._now() - self._oldest_created)

    async def oldest_age(self) -> float | None:
        """Seconds since the oldest waiting message was stored, or ``None`` when empty."""
        row = await self._run(
            lambda: self._require().execute("SELECT MIN(created) FROM outbox").fetchone()
        )
        return None if row[0] is None else max(0.0, self._now() - row[0])

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("outbox is not open")
        return self._db

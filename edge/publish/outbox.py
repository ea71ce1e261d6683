"""The outbox: every message is on disk before it is published, and leaves only when acked.

SQLite in WAL mode with ``synchronous=FULL``: a committed message survives a crash of the
daemon or of the machine. One worker thread owns the connection, so the event loop never
waits on a disk flush. Messages are taken oldest first; the publisher marks them delivered
after the broker acknowledged them, and the next outbox operation deletes them (at-least-once
delivery; consumers drop duplicates by session + seq).

Bounds: at most ``max_messages`` rows, and telemetry and state no older than ``max_age_s``.
Past a bound the oldest telemetry goes first, then device and session state; an alarm is
dropped only when nothing else is left to drop. Every drop is counted per class and logged.

Storage faults (:mod:`edge.storage.errors`, translated at :meth:`Outbox._disk`) never reach the
caller. While the disk refuses writes (full, read-only, missing) new messages go to a bounded
memory tier (:mod:`edge.publish.memory_tier`) and are taken after what is on disk; the storage
monitor calls :meth:`Outbox.retry`, which moves them to disk, in order, once it takes writes
again. A corrupt file is moved aside (:func:`edge.storage.files.set_aside`) and a fresh one
begun; ids go on above the last one taken, so a late acknowledgement never deletes a new row.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from edge.publish.memory_tier import MemoryTier
from edge.publish.messages import MessageClass, NewMessage, OutboxMessage
from edge.storage.errors import StorageFaultError, storage_fault
from edge.storage.files import set_aside
from edge.storage.sqlite import probe_write, quick_check
from edge.storage.state import FaultState

__all__ = ["MessageClass", "NewMessage", "Outbox", "OutboxMessage"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_DELETE_CHUNK = 500  # ids per DELETE statement (SQLite binds at most 999 in old builds)
AGE_CHECK_INTERVAL_S = 1.0  # the age bound is enforced on a put at most this often
MEMORY_MAX_MESSAGES = 10_000  # default bound of the memory tier
CORRUPT_NOTICE_S = 300.0  # default time a store counts as faulted after a corrupt file
FLUSH_ROUNDS = 3  # memory -> disk rounds in one retry (puts may come in between)
_Row = tuple[str, bytes, int, int, int, float, int | None]  # an INSERT's parameters

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


class Outbox:
    """A bounded, crash-safe queue of MQTT messages. Open with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        max_messages: int,
        max_age_s: float,
        now: Callable[[], float] = time.time,
        *,
        memory_max_messages: int = MEMORY_MAX_MESSAGES,
        corrupt_notice_s: float = CORRUPT_NOTICE_S,
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
        self.memory = MemoryTier(memory_max_messages, self.dropped)
        self.state = FaultState("outbox", corrupt_notice_s)
        self._last_taken_id = 0  # a fresh file's ids start above it

    name = "outbox"

    @property
    def faulted(self) -> bool:
        """The disk refuses writes now, or a corrupt file was moved aside a short while ago."""
        return self.state.faulted

    async def open(self) -> None:
        """Create or reopen the database; what an earlier run left is kept for publishing.
        A corrupt file is moved aside; a disk that refuses leaves the outbox in memory."""
        try:
            await self._disk(self._open)
        except StorageFaultError as fault:
            await self._failed(fault)
            if fault.kind == "corrupt":
                await self.retry()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            quick_check(db)
            db.executescript(_SCHEMA)
            if self._last_taken_id > 0:
                self._seed_ids(db, self._last_taken_id)
            count = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except BaseException:
            db.close()
            raise
        self._db, self._count = db, count

    @staticmethod
    def _seed_ids(db: sqlite3.Connection, above: int) -> None:
        with db:
            db.execute("BEGIN")
            cursor = db.execute(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'outbox'", (above,)
            )
            if cursor.rowcount == 0:
                db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (above,))

    async def close(self) -> None:
        """Move the memory tier to disk if it can, delete what was marked delivered, close
        the database and its worker thread. Messages only in memory are lost (logged)."""
        await self.retry()
        if self.memory:
            lost = len(self.memory)
            log.error("outbox closed with messages only in memory", extra={"count": lost})
        if self._db is not None:
            delivered = self._pop_delivered()
            with suppress(StorageFaultError):
                if delivered:
                    await self._disk(lambda: self._delete(delivered))
            db, self._db = self._db, None
            with suppress(StorageFaultError):
                await self._disk(db.close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _disk(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the worker thread; the one place disk errors become storage faults."""
        try:
            return await self._run(fn)
        except (sqlite3.Error, OSError) as exc:
            raise storage_fault("outbox", self.path, exc) from exc

    async def _failed(self, fault: StorageFaultError) -> None:
        """Note ``fault``; a corrupt file is closed and moved aside (a fresh one is opened by
        the next :meth:`retry`)."""
        self.state.failed(fault, "messages kept in memory")
        if fault.kind != "corrupt":
            return
        try:
            target = await self._disk(self._set_aside)
        except StorageFaultError as exc:
            self.state.failed(exc, "messages kept in memory")
            return
        self.state.moved_aside(self.path, target, lost=self._count)
        self._count, self._oldest_created = 0, None
        self._delivered.clear()

    def _set_aside(self) -> Path:
        db, self._db = self._db, None
        if db is not None:
            with suppress(sqlite3.Error):
                db.close()
        return set_aside(self.path, datetime.now(UTC))

    async def retry(self) -> None:
        """While faulted: open the disk again if needed, then move the memory tier onto it,
        oldest first. The fault ends when memory is empty and the disk took every write."""
        if self.state.fault is None:
            return
        delivered: list[int] = []
        try:
            if self._db is None:
                await self._disk(self._open)
            wrote = False
            for _ in range(FLUSH_ROUNDS):
                pending, delivered = self.memory.all(), self._pop_delivered()
                if not pending and not delivered:
                    break
                await self._disk(partial(self._insert, _rows(pending), delivered))
                wrote, delivered = True, []
                self.memory.deliver(m.id for m in pending)
            if not wrote:  # nothing of its own to write: would the disk take a batch?
                await self._disk(lambda: probe_write(self._require()))
        except StorageFaultError as fault:
            self._delivered[:0] = delivered
            await self._failed(fault)
            return
        if not self.memory:
            self.state.recovered()
            self.new_messages.set()

    @property
    def memory_depth(self) -> int:
        """Messages in the memory tier (only while the disk refuses writes)."""
        return len(self.memory)

    @property
    def depth(self) -> int:
        """Messages waiting (stored, not yet delivered), as of the last write."""
        return max(0, self._count - len(self._delivered)) + len(self.memory)

    async def put(self, messages: Sequence[NewMessage]) -> None:
        """Store ``messages`` in one transaction (durable on return), with the deletes of what
        was marked delivered since the last disk operation; then enforce the bounds. While
        the disk refuses, they go to the memory tier instead."""
        if not messages:
            return
        if self.state.fault is None:
            delivered = self._pop_delivered()
            try:
                await self._disk(lambda: self._put(messages, delivered))
            except StorageFaultError as fault:
                self._delivered[:0] = delivered
                self.memory.put(messages, self._now())
                await self._failed(fault)
                if fault.kind == "corrupt":
                    await self.retry()
        else:
            self.memory.put(messages, self._now())
        self.new_messages.set()

    def _put(self, messages: Sequence[NewMessage], delivered: Sequence[int]) -> None:
        created = self._now()
        rows = [
            (m.topic, m.payload, m.qos, int(m.retain), int(m.cls), created, m.expiry_s)
            for m in messages
        ]
        self._insert(rows, delivered)

    def _insert(self, rows: Sequence[_Row], delivered: Sequence[int]) -> None:
        if not rows and not delivered:
            return
        db = self._require()
        with db:
            db.execute("BEGIN")
            deleted = self._delete_rows(db, delivered)
            db.executemany(
                "INSERT INTO outbox (topic, payload, qos, retain, class, created, expiry_s)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        self._count += len(rows) - deleted
        if self._oldest_created is None and rows:
            self._oldest_created = rows[0][5]
        try:
            self._enforce_bounds(db)
        except sqlite3.Error as exc:  # the rows are committed; the bounds wait for the next put
            log.warning("outbox bounds not enforced", extra={"error": str(exc)})

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
        if self.state.fault is None and not self.memory:
            try:
                messages = await self._disk(lambda: self._take(limit, delivered))
            except StorageFaultError as fault:
                self._delivered[:0] = delivered
                await self._failed(fault)
                return await self._take_faulted(limit)
            if messages:
                self._last_taken_id = messages[-1].id
            return messages
        self._delivered[:0] = delivered
        return await self._take_faulted(limit)

    async def _take_faulted(self, limit: int) -> list[OutboxMessage]:
        """What is on disk first (if it can be read), then the memory tier."""
        disk: list[OutboxMessage] = []
        if self._db is not None:
            delivered = self._pop_delivered()
            try:
                disk, kept = await self._disk(lambda: self._take_unsafe(limit, delivered))
            except StorageFaultError as fault:
                kept = delivered
                await self._failed(fault)
            self._delivered[:0] = kept
        if disk:
            self._last_taken_id = max(self._last_taken_id, disk[-1].id)
        return disk + self.memory.take(limit - len(disk), self._now())

    def _take_unsafe(
        self, limit: int, delivered: Sequence[int]
    ) -> tuple[list[OutboxMessage], Sequence[int]]:
        """Like :meth:`_take` on a disk that may refuse the deletes: those ids are kept (and
        returned) and their rows skipped."""
        try:
            if delivered:
                self._delete(delivered)
        except sqlite3.OperationalError:
            skip = set(delivered)
            messages = self._take(limit + len(skip), ())
            return [m for m in messages if m.id not in skip][:limit], delivered
        return self._take(limit, ()), ()

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
        again. ``ids`` in the order ``take`` gave them (memory ids, negative, come last)."""
        if ids and ids[-1] < 0:
            self.memory.deliver(i for i in ids if i < 0)
            ids = [i for i in ids if i > 0]
        self._delivered.extend(ids)

    def _pop_delivered(self) -> list[int]:
        delivered, self._delivered = self._delivered, []
        return delivered

    async def delete(self, ids: Sequence[int]) -> None:
        """Remove delivered messages now (and those marked delivered before)."""
        self.mark_delivered(ids)
        if self.state.fault is not None:
            return  # deleted by the next take or retry that the disk allows
        delivered = self._pop_delivered()
        if delivered:
            try:
                await self._disk(lambda: self._delete(delivered))
            except StorageFaultError as fault:
                self._delivered[:0] = delivered
                await self._failed(fault)

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
        until = self._now() + delay_s
        if ids and ids[-1] < 0:
            self.memory.defer((i for i in ids if i < 0), until)
            ids = [i for i in ids if i > 0]
        if ids and self._db is not None:
            try:
                await self._disk(lambda: self._defer(ids, until))
            except StorageFaultError as fault:
                await self._failed(fault)

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


def _rows(messages: Sequence[OutboxMessage]) -> list[_Row]:
    """Disk rows for messages of the memory tier, keeping when they were stored."""
    return [
        (m.topic, m.payload, m.qos, int(m.retain), int(m.cls), m.created, m.expiry_s)
        for m in messages
    ]

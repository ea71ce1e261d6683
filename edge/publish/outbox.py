"""The outbox: every message is on disk before it is published, and leaves only when acked.

The disk tier is :class:`~edge.publish.outbox_file.OutboxFile` (SQLite, WAL,
``synchronous=FULL``, bounded). One worker thread owns the connection, so the event loop never
waits on a disk flush. Messages are taken oldest first; the publisher marks them delivered
after the broker acknowledged them, and the next outbox operation deletes them (at-least-once
delivery; consumers drop duplicates by session + seq).

Storage faults never reach the caller: sqlite3 and OS errors become a
:class:`~edge.storage.errors.StorageFaultError` at one boundary (:meth:`Outbox._disk`). While
the disk refuses writes (full, read-only, missing) new messages go to a bounded memory tier
(:mod:`edge.publish.memory_tier`) and are taken after what is on disk; the storage monitor
calls :meth:`Outbox.retry`, which moves them to disk, in order, once it takes writes again. A
corrupt file is moved aside and a fresh one begun; its ids go on above the last one taken, so
a late acknowledgement never deletes a new row.

Takes go on from the last message handed out, so the publisher may take the next batch while
the last one is still in flight. Hand-off: once a take from disk came back short (the
publisher has everything stored so far), each later put also keeps its messages in memory,
with their ids, and :meth:`Outbox.take` hands those out without reading them back: one disk
operation per batch instead of two. The disk stays the truth: the publisher calls
:meth:`Outbox.rewind` on every new connection (what was in flight and not acknowledged is
taken again, in order); a fault, a deferral coming due or more than ``HANDOFF_MAX`` messages
waiting send the next take back to disk.
"""

from __future__ import annotations

import asyncio
import heapq
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import TypeVar

from edge.publish.memory_tier import MemoryTier
from edge.publish.messages import MessageClass, NewMessage, OutboxMessage
from edge.publish.outbox_file import OutboxFile, Row
from edge.storage.errors import StorageFaultError, storage_fault
from edge.storage.state import FaultState

__all__ = ["MessageClass", "NewMessage", "Outbox", "OutboxMessage"]

T = TypeVar("T")
MEMORY_MAX_MESSAGES = 10_000  # default bound of the memory tier
CORRUPT_NOTICE_S = 300.0  # default time a store counts as faulted after a corrupt file
FLUSH_ROUNDS = 3  # memory -> disk rounds in one retry (puts may come in between)
HANDOFF_MAX = 2_000  # messages kept for hand-off; past it the publisher is behind: read the disk
_MEANWHILE = "messages kept in memory"


class Outbox:
    """A bounded, crash-safe queue of MQTT messages. Open with :meth:`open`."""

    name = "outbox"

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
        self._now = now
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self.dropped = dict.fromkeys(MessageClass, 0)
        self._file = OutboxFile(path, max_messages, max_age_s, now, self.dropped)
        self.new_messages = asyncio.Event()
        self._delivered: list[int] = []  # acknowledged ids not yet deleted
        self.memory = MemoryTier(memory_max_messages, self.dropped)
        self.state = FaultState("outbox", corrupt_notice_s)
        self._last_taken_id = 0  # a fresh file's ids start above it
        self._cursor = 0  # ids up to it were handed out since the last rewind
        self._handoff = False  # every stored message up to the last put is taken or in _fresh
        self._fresh: deque[OutboxMessage] = deque()  # stored since the last take, in id order
        self._deferred_until: list[float] = []  # heap of Unix times deferrals come due

    @property
    def faulted(self) -> bool:
        """The disk refuses writes now, or a corrupt file was moved aside a short while ago."""
        return self.state.faulted

    async def open(self) -> None:
        """Create or reopen the database; what an earlier run left is kept for publishing.
        A corrupt file is moved aside; a disk that refuses leaves the outbox in memory."""
        try:
            await self._disk(self._file.open)
        except StorageFaultError as fault:
            await self._failed(fault)
            if fault.kind == "corrupt":
                await self.retry()

    async def close(self) -> None:
        """Move the memory tier to disk if it can, delete what was marked delivered, close
        the database and its worker thread. Messages only in memory are lost (logged)."""
        await self.retry()
        if self.memory:
            self.state.lost(len(self.memory), "outbox closed with messages only in memory")
        if self._file.db is not None:
            delivered = self._pop_delivered()
            with suppress(StorageFaultError):
                if delivered:
                    await self._disk(lambda: self._file.delete(delivered))
            with suppress(StorageFaultError):
                await self._disk(self._file.close)
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
        self.state.failed(fault, _MEANWHILE)
        self.rewind()
        if fault.kind != "corrupt":
            return
        lost = self._file.count
        try:
            target = await self._disk(self._file.set_aside)
        except StorageFaultError as exc:
            self.state.failed(exc, _MEANWHILE)
            return
        self.state.moved_aside(self.path, target, lost=lost)
        self._delivered.clear()

    async def retry(self) -> None:
        """While faulted: open the disk again if needed, then move the memory tier onto it,
        oldest first. The fault ends when memory is empty and the disk took every write (or
        a probe write, when there was nothing to write)."""
        if self.state.fault is None:
            return
        delivered: list[int] = []
        try:
            if self._file.db is None:
                await self._disk(partial(self._file.open, self._last_taken_id))
            wrote = False
            for _ in range(FLUSH_ROUNDS):
                pending, delivered = self.memory.all(), self._pop_delivered()
                if not pending and not delivered:
                    break
                await self._disk(partial(self._file.insert, _rows(pending), delivered))
                wrote, delivered = True, []
                self.memory.deliver(m.id for m in pending)
            if not wrote:
                await self._disk(self._file.probe)
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
        return max(0, self._file.count - len(self._delivered)) + len(self.memory)

    async def put(self, messages: Sequence[NewMessage]) -> None:
        """Store ``messages`` in one transaction (durable on return), with the deletes of what
        was marked delivered since the last disk operation; then enforce the bounds. While
        the disk refuses, they go to the memory tier instead."""
        if not messages:
            return
        if self.state.fault is None:
            delivered = self._pop_delivered()
            try:
                created, last_id = await self._disk(lambda: self._put(messages, delivered))
            except StorageFaultError as fault:
                self._delivered[:0] = delivered
                self.memory.put(messages, self._now())
                await self._failed(fault)
                if fault.kind == "corrupt":
                    await self.retry()
            else:
                if self._handoff:
                    self._hand_off(messages, created, last_id)
        else:
            self.memory.put(messages, self._now())
        self.new_messages.set()

    def _put(self, messages: Sequence[NewMessage], delivered: Sequence[int]) -> tuple[float, int]:
        created = self._now()
        rows = [
            (m.topic, m.payload, m.qos, int(m.retain), int(m.cls), created, m.expiry_s)
            for m in messages
        ]
        return created, self._file.insert(rows, delivered)

    def _hand_off(self, messages: Sequence[NewMessage], created: float, last_id: int) -> None:
        """Keep the messages just stored (ids up to ``last_id``) for the next take."""
        if len(self._fresh) + len(messages) > HANDOFF_MAX:
            self._read_disk()  # the publisher is behind (or away): it reads the disk again
            return
        first_id = last_id - len(messages) + 1
        self._fresh.extend(
            OutboxMessage(i, m.topic, m.payload, m.qos, m.retain, m.cls, created, m.expiry_s, 0)
            for i, m in enumerate(messages, first_id)
            if i > self._last_taken_id  # defensive: a take from disk already had them
        )

    def rewind(self) -> None:
        """Take from the oldest message again: what was handed out and not delivered (a lost
        connection, a refusal) is read from disk again, in order."""
        self._read_disk()
        self._cursor = 0

    def _read_disk(self) -> None:
        """The next take reads the disk (after the last message handed out)."""
        self._handoff = False
        self._fresh.clear()

    def _take_fresh(self, limit: int) -> list[OutboxMessage]:
        fresh = self._fresh
        messages = [fresh.popleft() for _ in range(min(limit, len(fresh)))]
        if messages:
            self._cursor = messages[-1].id
            self._last_taken_id = max(self._last_taken_id, self._cursor)
        self._file.oldest_created = messages[0].created if messages else None
        return messages

    def _disk_due(self) -> bool:
        """Whether the next take reads the disk: no hand-off, or a deferral came due (then
        from the oldest message, since the deferred ones were handed out before)."""
        deferred = self._deferred_until
        if deferred and deferred[0] <= self._now():
            while deferred and deferred[0] <= self._now():
                heapq.heappop(deferred)
            self.rewind()
        return not self._handoff

    async def take(self, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages, oldest first, skipping those deferred to a later time and
        those marked delivered (deleted first, in the same disk operation)."""
        if self.state.fault is None and not self.memory:
            if not self._disk_due():
                return self._take_fresh(limit)
            self._read_disk()
            delivered, after = self._pop_delivered(), self._cursor
            try:
                messages = await self._disk(lambda: self._file.take(limit, delivered, after))
            except StorageFaultError as fault:
                self._delivered[:0] = delivered
                await self._failed(fault)
                return await self._take_faulted(limit)
            if messages:
                self._cursor = messages[-1].id
                self._last_taken_id = max(self._last_taken_id, self._cursor)
            self._handoff = len(messages) < limit  # the disk holds nothing more to take
            return messages
        delivered = self._pop_delivered()
        self._delivered[:0] = delivered
        return await self._take_faulted(limit)

    async def _take_faulted(self, limit: int) -> list[OutboxMessage]:
        """What is on disk first (if it can be read), then the memory tier."""
        disk: list[OutboxMessage] = []
        if self._file.db is not None:
            delivered = self._pop_delivered()
            try:
                disk, kept = await self._disk(lambda: self._file.take_unsafe(limit, delivered))
            except StorageFaultError as fault:
                kept = delivered
                await self._failed(fault)
            self._delivered[:0] = kept
        if disk:
            self._last_taken_id = max(self._last_taken_id, disk[-1].id)
        return disk + self.memory.take(limit - len(disk), self._now())

    def mark_delivered(self, ids: Sequence[int]) -> None:
        """Note messages the broker acknowledged. They are deleted with the next ``put``,
        ``take``, ``delete`` or ``close`` (no disk operation of their own) and never taken
        again. Ids of the memory tier are negative."""
        self.memory.deliver(i for i in ids if i < 0)
        self._delivered.extend(i for i in ids if i > 0)

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
                await self._disk(lambda: self._file.delete(delivered))
            except StorageFaultError as fault:
                self._delivered[:0] = delivered
                await self._failed(fault)

    async def defer(self, ids: Sequence[int], delay_s: float) -> None:
        """Keep refused messages but try them again only after ``delay_s`` seconds."""
        until = self._now() + delay_s
        self.memory.defer((i for i in ids if i < 0), until)
        ids = [i for i in ids if i > 0]
        if ids:
            heapq.heappush(self._deferred_until, until)
        if ids and self._file.db is not None:
            try:
                await self._disk(lambda: self._file.defer(ids, until))
            except StorageFaultError as fault:
                await self._failed(fault)

    def oldest_age_estimate(self) -> float:
        """Seconds since the oldest waiting message was stored, as of the last take (0 when
        empty); cheap enough for every metrics scrape."""
        oldest = self._file.oldest_created
        if self._file.count <= 0 or oldest is None:
            return 0.0
        return max(0.0, self._now() - oldest)

    async def oldest_age(self) -> float | None:
        """Seconds since the oldest waiting message was stored, or ``None`` when empty."""
        oldest = await self._run(self._file.oldest)
        return None if oldest is None else max(0.0, self._now() - oldest)

    def _require(self) -> sqlite3.Connection:
        return self._file.require()


def _rows(messages: Sequence[OutboxMessage]) -> list[Row]:
    """Disk rows for messages of the memory tier, keeping when they were stored."""
    return [
        (m.topic, m.payload, m.qos, int(m.retain), int(m.cls), m.created, m.expiry_s)
        for m in messages
    ]

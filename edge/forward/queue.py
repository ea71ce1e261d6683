"""The forwarding queue: a second outbox of the outbox's design, for the HL7 (and FHIR)
outputs. Stored before sent, sent in order, removed only when the receiver accepted it.

Producers :meth:`~ForwardQueue.put` messages without waiting: they go to a bounded memory
list that :meth:`~ForwardQueue.run_writer` commits to disk in batches (group commit, on one
worker thread, so the event loop never waits on a flush). The sender takes only what is on
disk (:meth:`~ForwardQueue.next`), oldest first, and then either deletes it
(:meth:`~ForwardQueue.delivered`) or moves it to the ``refused`` table
(:meth:`~ForwardQueue.refuse`). Disk errors never reach the caller: they become a
:class:`~edge.storage.errors.StorageFaultError` at one boundary (:meth:`ForwardQueue._disk`);
while the disk refuses, messages wait in memory (bounded: the oldest observation goes
first, counted), nothing is sent, and the storage monitor's :meth:`~ForwardQueue.retry`
reopens the file. A corrupt file is moved aside and a fresh one begun.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import TypeVar

from edge.forward.queue_file import KINDS, NewMessage, QueuedMessage, QueueFile, RefusedMessage
from edge.storage.errors import StorageFaultError, storage_fault
from edge.storage.state import FaultState

__all__ = ["ForwardQueue", "NewMessage", "QueuedMessage", "RefusedMessage", "next_or_finished"]

T = TypeVar("T")
log = logging.getLogger(__name__)
MEMORY_MAX_MESSAGES = 10_000
BATCH_MAX = 500  # messages per disk transaction
AHEAD = 50  # stored messages read from disk at once for the sender
RETRY_S = 5.0  # s between retries of a disk that refused
_MEANWHILE = "messages kept in memory, not sent"


class ForwardQueue:
    """A bounded, crash-safe queue of outgoing messages named ``name`` (``hl7_queue``).
    Open with :meth:`open`, run :meth:`run_writer`, close with :meth:`close`."""

    def __init__(
        self,
        name: str,
        path: Path,
        max_messages: int,
        max_refused: int,
        *,
        memory_max_messages: int = MEMORY_MAX_MESSAGES,
        corrupt_notice_s: float = 300.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.path = path
        self._file = QueueFile(path, max_messages, max_refused)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: list[tuple[NewMessage, float]] = []
        self._memory_max = memory_max_messages
        self._now = now
        self.state = FaultState(name, corrupt_notice_s)
        self.memory_dropped = dict.fromkeys(KINDS, 0)
        self._put = asyncio.Event()
        self._stored = asyncio.Event()
        self._flushing = asyncio.Lock()  # one flush or retry at a time: no batch stored twice
        self._ahead: deque[QueuedMessage] = deque()  # the oldest stored, read ahead, in order

    @property
    def faulted(self) -> bool:
        """The disk refuses now, or a corrupt file was moved aside a short while ago."""
        return self.state.faulted

    @property
    def depth(self) -> int:
        """Messages waiting: on disk and in memory."""
        return self._file.count + len(self._pending)

    @property
    def dropped(self) -> dict[str, int]:
        """Messages dropped by the bounds, by kind (disk and memory)."""
        return {k: self._file.dropped[k] + self.memory_dropped[k] for k in KINDS}

    def oldest_age(self) -> float:
        """Age (s) of the oldest waiting message, 0 when none waits."""
        oldest = [self._file.oldest_created] if self._file.oldest_created is not None else []
        if self._pending:
            oldest.append(self._pending[0][1])
        return max(0.0, self._now() - min(oldest)) if oldest else 0.0

    async def open(self) -> None:
        """Create or reopen the file; what an earlier run left is sent first."""
        try:
            await self._disk(self._file.open)
            self.state.recovered()
        except StorageFaultError as fault:
            await self._failed(fault)

    async def close(self) -> None:
        """Store what waits in memory if the disk takes it, then close."""
        async with self._flushing:
            await self._flush()
        if self._pending:
            self.state.lost(len(self._pending), "forwarding queue closed with messages in memory")
        with suppress(StorageFaultError):
            await self._disk(self._file.close)
        self._executor.shutdown(wait=True)

    def put(self, messages: Sequence[NewMessage]) -> None:
        """Queue ``messages`` (never waits); stored by :meth:`run_writer`."""
        created = self._now()
        self._pending.extend((message, created) for message in messages)
        excess = len(self._pending) - self._memory_max
        if excess > 0:
            self._drop_pending(excess)
        self._put.set()

    def _drop_pending(self, excess: int) -> None:
        log.warning(
            "forwarding queue full in memory: oldest dropped",
            extra={"queue": self.name, "count": excess},
        )
        for kind in KINDS:
            keep: list[tuple[NewMessage, float]] = []
            for entry in self._pending:
                if excess > 0 and entry[0].kind == kind:
                    excess -= 1
                    self.memory_dropped[kind] += 1
                else:
                    keep.append(entry)
            self._pending = keep

    async def run_writer(self, retry_s: float = RETRY_S) -> None:
        """Store what is put, in batches, until cancelled; retry a refusing disk every
        ``retry_s``."""
        while True:
            if self.state.fault is None:
                await self._put.wait()
            else:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._put.wait(), retry_s)
            self._put.clear()
            if self.state.fault is None:
                async with self._flushing:
                    await self._flush()
            else:
                await self.retry()

    async def _flush(self) -> bool:
        """Store what waits in memory; False when the disk refused."""
        while self._pending and self._file.db is not None:
            batch = self._pending[:BATCH_MAX]
            by_time: dict[float, list[NewMessage]] = {}
            for message, created in batch:
                by_time.setdefault(created, []).append(message)
            try:
                for created, messages in by_time.items():
                    await self._disk(partial(self._file.insert, messages, created))
            except StorageFaultError as fault:
                await self._failed(fault)
                return False
            del self._pending[: len(batch)]
            self._stored.set()
        return self._file.db is not None

    async def next(self) -> QueuedMessage:
        """The oldest stored message, waiting until there is one. It stays the next until
        :meth:`delivered` or :meth:`refuse` takes it away (a failed send sends it again)."""
        while not self._ahead:
            self._stored.clear()
            if self._file.db is not None:
                try:
                    self._ahead.extend(await self._disk(lambda: self._file.head(AHEAD)))
                except StorageFaultError as fault:
                    await self._failed(fault)
            if not self._ahead:
                await self._stored.wait()
        return self._ahead[0]

    def _taken(self, message: QueuedMessage) -> None:
        if self._ahead and self._ahead[0].id == message.id:
            self._ahead.popleft()

    async def delivered(self, message: QueuedMessage) -> bool:
        """The receiver accepted ``message``: remove it. False if the disk refused (it is
        then sent again: at least once)."""
        done = await self._try(lambda: self._file.delete(message.id))
        if done:
            self._taken(message)
        return done

    async def refuse(self, message: QueuedMessage, code: str, detail: str) -> bool:
        """The receiver refused ``message``: keep it in ``refused`` with ``code``/``detail``."""
        at = self._now()
        done = await self._try(lambda: self._file.refuse(message, at, code, detail))
        if done:
            self._taken(message)
        return done

    async def refused(self, limit: int = 100) -> list[RefusedMessage]:
        """The latest refused messages, newest first."""
        return await self._disk(lambda: self._file.refused(limit))

    async def retry(self) -> None:
        """Reopen a faulted file and store what waits in memory."""
        async with self._flushing:
            await self._retry()

    async def _retry(self) -> None:
        if self._file.db is None:
            try:
                await self._disk(self._file.open)
            except StorageFaultError as fault:
                await self._failed(fault)
                return
        previous, self.state.fault = self.state.fault, None
        if await self._flush():
            self.state.fault = previous
            self.state.recovered()
            self._stored.set()

    async def _try(self, fn: Callable[[], None]) -> bool:
        try:
            await self._disk(fn)
        except StorageFaultError as fault:
            await self._failed(fault)
            return False
        return True

    async def _disk(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the worker thread; the one place disk errors become faults."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except (sqlite3.Error, OSError) as exc:
            raise storage_fault(self.name, self.path, exc) from exc

    async def _failed(self, fault: StorageFaultError) -> None:
        self.state.failed(fault, _MEANWHILE)
        if fault.kind != "corrupt":
            return
        lost = self._file.count
        self._ahead.clear()
        try:
            target = await self._disk(self._file.set_aside)
        except StorageFaultError:
            return
        self.state.moved_aside(self.path, target, lost)
        with suppress(StorageFaultError):
            await self._disk(self._file.open)
            self.state.fault = None


async def next_or_finished(queue: ForwardQueue, finish: asyncio.Event) -> QueuedMessage | None:
    """The next stored message of ``queue``, or ``None`` once ``finish`` is set and nothing
    waits (a sender's shutdown)."""
    if finish.is_set() and not queue.depth:
        return None
    taking = asyncio.create_task(queue.next())
    finishing = asyncio.create_task(finish.wait())
    try:
        done, _ = await asyncio.wait({taking, finishing}, return_when=asyncio.FIRST_COMPLETED)
        if taking in done:
            return taking.result()
        if not queue.depth:
            return None
        return await taking  # finishing, but the writer is still storing some
    finally:
        for task in (taking, finishing):
            task.cancel()
        await asyncio.gather(taking, finishing, return_exceptions=True)

"""The in-process bus: every published item reaches every subscriber, in order.

Each subscriber has a bounded queue. ``publish`` waits while a subscriber's queue is full, so a
slow consumer slows the producers instead of losing data; the queue bound caps memory.
``close`` lets every subscriber drain what it has and then stop. A subscriber that need not
see items at once (logs, metrics) subscribes with ``lazy_s``: iterating, it drains its queue,
then waits that long before looking again, so it wakes a few times a second in all instead of
once per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

__all__ = ["Bus", "Subscription"]

T = TypeVar("T")
_CLOSED = object()


class Subscription(Generic[T]):
    """One consumer's view of the bus; iterate it with ``async for``."""

    def __init__(self, name: str, maxsize: int, lazy_s: float = 0.0) -> None:
        self.name = name
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
        self._lazy_s = lazy_s

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            yield item  # type: ignore[misc]  # everything but the sentinel is a T
            if self._lazy_s and self._queue.empty():
                await asyncio.sleep(self._lazy_s)

    async def get_batch(self, max_items: int) -> list[T]:
        """Wait for at least one item, then take what else is ready, up to ``max_items``.

        An empty list means the bus closed and everything before the close was taken.
        """
        batch: list[T] = []
        item = await self._queue.get()
        while item is not _CLOSED:
            batch.append(item)  # type: ignore[arg-type]  # everything but the sentinel is a T
            if len(batch) >= max_items or self._queue.empty():
                return batch
            item = self._queue.get_nowait()
        if batch:  # keep the close for the next call, after this batch
            self._queue.put_nowait(_CLOSED)
        return batch

    async def get_batch_within(self, max_items: int, timeout_s: float) -> list[T] | None:
        """Like :meth:`get_batch`, but wait at most ``timeout_s`` seconds for the first item:
        an empty list when none came in time, ``None`` when the bus closed (nothing lost:
        an item is taken from the queue only once the wait succeeded)."""
        if not self._queue.empty():
            return await self.get_batch(max_items) or None
        try:
            async with asyncio.timeout(timeout_s):
                batch = await self.get_batch(max_items)
        except TimeoutError:
            return []
        return batch or None

    def depth(self) -> int:
        """Items waiting for this consumer."""
        return self._queue.qsize()


class Bus(Generic[T]):
    """Fan-out of items of type ``T`` to named subscribers."""

    def __init__(self) -> None:
        self._subscribers: list[Subscription[T]] = []
        self._closed = False

    def subscribe(self, name: str, maxsize: int = 10_000, lazy_s: float = 0.0) -> Subscription[T]:
        """A new subscription that sees every item published from now on; ``lazy_s``: see the
        module docstring (seconds an iterating consumer waits after draining its queue)."""
        subscription: Subscription[T] = Subscription(name, maxsize, lazy_s)
        self._subscribers.append(subscription)
        return subscription

    async def publish(self, item: T) -> None:
        """Hand ``item`` to every subscriber, waiting where a queue is full."""
        if self._closed:
            raise RuntimeError("bus is closed")
        for subscription in self._subscribers:
            await subscription._queue.put(item)

    async def close(self) -> None:
        """Stop accepting items; subscribers end after draining what they hold."""
        self._closed = True
        for subscription in self._subscribers:
            await subscription._queue.put(_CLOSED)

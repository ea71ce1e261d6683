"""The storage monitor: retries faulted stores and tells the alarm engine about faults.

Every ``check_s`` it looks at each store's ``faulted``; every ``retry_s`` it asks each faulted
store to :meth:`Store.retry` (reopen the file, write what waits in memory). Whenever the set of
faulted stores changes (and once at start) it puts a :class:`~edge.items.StorageStatus` on the
input bus, so the engine raises or ends ``storage_fault`` in bus order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from edge.bus import Bus
from edge.items import InputItem, StorageStatus

__all__ = ["StorageMonitor", "Store"]

CHECK_S = 1.0  # s between looks at the stores' fault flags
RETRY_S = 5.0  # s between retries of a faulted store


class Store(Protocol):
    """A store the monitor watches: the outbox or the alarm log."""

    @property
    def name(self) -> str: ...

    @property
    def faulted(self) -> bool: ...

    async def retry(self) -> None: ...


class StorageMonitor:
    """Watches ``stores`` for the daemon; :meth:`faults` feeds metrics and ``/readyz``."""

    def __init__(
        self,
        stores: Sequence[Store],
        inputs: Bus[InputItem],
        retry_s: float = RETRY_S,
        check_s: float = CHECK_S,
    ) -> None:
        self._stores = tuple(stores)
        self._inputs = inputs
        self._retry_every = max(1, round(retry_s / check_s))
        self._check_s = check_s

    def faults(self) -> dict[str, bool]:
        """Each store's name and whether it is faulted now."""
        return {store.name: store.faulted for store in self._stores}

    def ok(self) -> bool:
        """No store is faulted."""
        return not any(store.faulted for store in self._stores)

    async def run(self) -> None:
        """Watch until cancelled."""
        reported: tuple[str, ...] | None = None
        checks = 0
        while True:
            if checks % self._retry_every == 0:
                for store in self._stores:
                    if store.faulted:
                        await store.retry()
            faulted = tuple(store.name for store in self._stores if store.faulted)
            if faulted != reported:
                await self._inputs.publish(StorageStatus(faulted))
                reported = faulted
            checks += 1
            await asyncio.sleep(self._check_s)

"""The running link sessions, each a named task of the daemon's TaskGroup, so that a reload can
stop and start one link without touching the others. Links are known by their devices' ids,
not their port: a by-id path may resolve to another tty by the time a reload stops it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from drivers.plausibility import PlausibleRange
from drivers.registry import get_driver
from edge.bus import Bus
from edge.clock import Clock
from edge.config import DeviceConfig
from edge.items import InputItem
from edge.session import LinkSession

__all__ = ["Links"]

log = logging.getLogger(__name__)

Supervise = Callable[[LinkSession], Coroutine[Any, Any, None]]


class Links:
    """One :class:`LinkSession` per port; ``supervise`` runs one (restarting it on a bug)."""

    def __init__(
        self,
        bus: Bus[InputItem],
        clock: Clock,
        ranges: Mapping[str, PlausibleRange],
        supervise: Supervise,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._ranges = ranges
        self._supervise = supervise
        self._group: asyncio.TaskGroup | None = None
        self._running: dict[tuple[str, ...], asyncio.Task[None]] = {}  # device ids -> task

    def tasks(self) -> list[asyncio.Task[None]]:
        """The tasks of the links running now."""
        return list(self._running.values())

    def start_all(self, group: asyncio.TaskGroup, links: Sequence[Sequence[DeviceConfig]]) -> None:
        """Start every link in ``group`` (the daemon's TaskGroup), which later starts use."""
        self._group = group
        for devices in links:
            self.start(devices)

    def start(self, devices: Sequence[DeviceConfig]) -> None:
        """Start the session of the link serving ``devices`` (all on one port)."""
        assert self._group is not None, "start_all() first"
        first = devices[0]
        session = LinkSession(
            first.port,
            devices,
            get_driver(first.driver),
            self._bus,
            self._clock,
            ranges=self._ranges,
        )
        task = self._group.create_task(self._supervise(session), name=session.name)
        self._running[tuple(d.id for d in devices)] = task

    async def stop(self, devices: Sequence[DeviceConfig], grace_s: float) -> None:
        """Stop the link(s) serving any of ``devices``: each session says goodbye and closes
        its port."""
        ids = {d.id for d in devices}
        tasks = [self._running.pop(key) for key in list(self._running) if ids.intersection(key)]
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            log.warning("link did not stop in time", extra={"session": task.get_name()})

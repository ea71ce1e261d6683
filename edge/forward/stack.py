"""A clinical output as the daemon runs it: its queue, its bus consumer and its sender.

The daemon subscribes :attr:`ForwardStack.output` to the output bus and runs
:meth:`ForwardStack.run` in its task group. Nothing here may stop the daemon: the queue's
writer and the sender are supervised (an unexpected error is logged and the task restarted
after a backoff), storage faults stay in the queue, and the consumer never waits on the disk
or the network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from edge.backoff import Backoff
from edge.forward.output import ForwardOutput
from edge.forward.queue import ForwardQueue
from edge.forward.queue_file import KINDS

__all__ = ["ForwardStack", "ForwardStatus", "Sender", "SenderCounters"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SenderCounters:
    """What a sender did since start (for metrics). ``ack_timeouts``: messages the receiver
    did not answer in time."""

    connected: bool = False
    delivered: int = 0
    refused: int = 0
    connect_failures: int = 0
    ack_timeouts: int = 0
    bad_replies: int = 0


class Sender(Protocol):
    """Sends what a queue holds: :meth:`run` until finished, :meth:`finish` at shutdown."""

    counters: SenderCounters

    async def run(self) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ForwardStatus:
    """An output's health, for metrics."""

    connected: bool = False
    delivered: int = 0
    refused: int = 0
    connect_failures: int = 0
    ack_timeouts: int = 0
    queue_depth: int = 0
    oldest_age_s: float = 0.0
    dropped: tuple[tuple[str, int], ...] = tuple((kind, 0) for kind in KINDS)
    faulted: bool = False


class ForwardStack:
    """``queue`` fed by ``output`` and drained by ``sender``."""

    def __init__(self, queue: ForwardQueue, output: ForwardOutput, sender: Sender) -> None:
        self.queue = queue
        self.output = output
        self.sender = sender

    async def open(self) -> None:
        """Open the queue (a disk that refuses leaves it in memory)."""
        await self.queue.open()

    async def close(self) -> None:
        """Store what waits in memory and close the queue."""
        await self.queue.close()

    def finish(self) -> None:
        """Send what is stored, then stop (shutdown)."""
        self.sender.finish()

    async def run(self) -> None:
        """The writer and the sender until the sender finishes; never raises but
        ``CancelledError``."""
        name = self.output.name
        writer = asyncio.create_task(_supervised(self.queue.run_writer, f"{name}.writer"))
        try:
            await _supervised(self.sender.run, f"{name}.sender")
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def status(self) -> ForwardStatus:
        """The output's health now."""
        counters = self.sender.counters
        return ForwardStatus(
            connected=counters.connected,
            delivered=counters.delivered,
            refused=counters.refused,
            connect_failures=counters.connect_failures,
            ack_timeouts=counters.ack_timeouts,
            queue_depth=self.queue.depth,
            oldest_age_s=self.queue.oldest_age(),
            dropped=tuple(self.queue.dropped.items()),
            faulted=self.queue.faulted,
        )


async def _supervised(run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
    """Run ``run`` until it returns; restart it after an unexpected error, with backoff."""
    backoff = Backoff(initial=1.0, cap=60.0)
    while True:
        try:
            await run()
        except Exception:  # the supervisor boundary: a bug here never stops the daemon
            log.exception("output task failed; restarting", extra={"task": name})
            await asyncio.sleep(backoff.next_delay())
        else:
            return

"""The HL7 output of the daemon: its queue, its bus consumer and its MLLP sender.

The daemon subscribes :attr:`Hl7Stack.output` to the output bus and runs :meth:`Hl7Stack.run`
in its task group. Nothing here may stop the daemon: the queue's writer and the sender are
supervised (an unexpected error is logged and the task restarted after a backoff), storage
faults stay in the queue, and the consumer never waits on the disk or the network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from edge.backoff import Backoff
from edge.config import Config, Hl7Config
from edge.forward.output import ForwardOutput, OutputPolicy
from edge.forward.queue import ForwardQueue
from edge.forward.queue_file import KINDS
from edge.hl7.identity import Hl7Identity
from edge.hl7.output import Hl7Encoder
from edge.hl7.sender import MllpSender, tls_context

__all__ = ["Hl7Stack", "Hl7Status"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Hl7Status:
    """The HL7 output's health, for metrics."""

    connected: bool = False
    delivered: int = 0
    refused: int = 0
    connect_failures: int = 0
    ack_timeouts: int = 0
    queue_depth: int = 0
    oldest_age_s: float = 0.0
    dropped: tuple[tuple[str, int], ...] = tuple((kind, 0) for kind in KINDS)
    faulted: bool = False


class Hl7Stack:
    """The HL7 output configured by ``config.hl7``."""

    def __init__(self, config: Config, hl7: Hl7Config) -> None:
        self.queue = ForwardQueue(
            "hl7_queue",
            hl7.queue_path,
            hl7.max_messages,
            hl7.max_refused,
            corrupt_notice_s=config.storage.corrupt_notice_s,
        )
        policy = OutputPolicy(hl7.observations, hl7.chart_interval_s, hl7.alarms)
        encoder = Hl7Encoder(Hl7Identity.from_config(config, hl7))
        self.output = ForwardOutput("hl7", policy, encoder, self.queue)
        self.sender = MllpSender(
            hl7.url,
            self.queue,
            tls=tls_context(hl7),
            ack_timeout_s=hl7.ack_timeout_s,
            connect_timeout_s=hl7.connect_timeout_s,
        )

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
        writer = asyncio.create_task(_supervised(self.queue.run_writer, "hl7.writer"))
        try:
            await _supervised(self.sender.run, "hl7.sender")
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def status(self) -> Hl7Status:
        """The output's health now."""
        counters = self.sender.counters
        return Hl7Status(
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
            log.exception("HL7 output task failed; restarting", extra={"task": name})
            await asyncio.sleep(backoff.next_delay())
        else:
            return

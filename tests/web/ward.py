"""A ward of simulated edges on a real broker, for the central-station test and bench: each
edge publishes its beds' labelled sessions, device states, vital signs and pump readings with
the contract's payload models (:class:`tests.web.edges.FakeEdge`), and a few alarms."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tests.web.edges import FakeEdge, fake_edge, hypertension

__all__ = ["Ward", "ward"]


@dataclass
class Ward:
    """``edges`` edges of site ``ward``, ``beds`` beds each: ``bed-{e}-{b}`` labelled
    ``Bed {n}`` (n from 1 across the ward)."""

    edges: list[FakeEdge]
    beds: int

    def bed_names(self) -> list[tuple[FakeEdge, str, str]]:
        """(edge, bed id, label) of every bed, in ward order."""
        out = []
        for e, edge in enumerate(self.edges):
            for b in range(self.beds):
                out.append((edge, f"bed-{e + 1}-{b + 1}", f"Bed {e * self.beds + b + 1}"))
        return out

    async def set_up(self, alarms: int = 3) -> None:
        """Sessions with labels, connected devices, and ``alarms`` alarms (high, medium, low
        in turn) on the first beds."""
        for n, (edge, bed, label) in enumerate(self.bed_names()):
            await edge.session(bed, minutes_ago=5 + n % 40, label=label)
            await edge.device_state(bed, "monitor-1", "online")
            await edge.device_state(bed, "pump-1", "online")
        for n, (edge, bed, _label) in enumerate(self.bed_names()[:alarms]):
            priority = ("high", "medium", "low")[n % 3]
            await edge.alarm(hypertension(bed, sbp=200 - 10 * n, priority=priority))
        for edge in self.edges:
            await edge.digest()

    async def tick(self, t: int) -> int:
        """One reading of each bed's monitor and, every 5th tick, of its pump; the count."""
        sent = 0
        for n, (edge, bed, _label) in enumerate(self.bed_names()):
            wave = math.sin((t + n) / 7)
            sbp, dbp = round(120 + 15 * wave), round(78 + 8 * wave)
            await edge.vitals(bed, sbp, dbp, hr=round(75 + 5 * wave), spo2=round(97 + wave))
            sent += 1
            if t % 5 == n % 5:
                await edge.pump(bed, 52.5, min(35.0, 0.0146 * (t + 60 * (n % 40))))
                sent += 1
        return sent


@contextlib.asynccontextmanager
async def ward(port: int, edges: int, beds: int) -> AsyncIterator[Ward]:
    """A connected :class:`Ward` on the broker at ``port``."""
    async with contextlib.AsyncExitStack() as stack:
        fakes = [
            await stack.enter_async_context(fake_edge(port, "ward", f"edge-{e + 1}"))
            for e in range(edges)
        ]
        yield Ward(fakes, beds)

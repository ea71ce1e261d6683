"""A driver's host conversation run over a real link in real time, for simulator tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from drivers.base import Conversation, Instant
from drivers.link import Link
from drivers.readings import PumpReading, VitalsReading


def instant() -> Instant:
    """Now, as a session sees it."""
    return Instant(time.monotonic(), datetime.now(UTC))


STEP_S = 0.05  # s, the longest read between two ticks (ticking early is harmless)


class Host:
    """``conversation`` on ``link``: reads, ticks at least every ``STEP_S`` and writes back
    what the conversation asks, collecting readings and errors."""

    def __init__(self, conversation: Conversation, link: Link) -> None:
        self.conversation = conversation
        self.link = link
        self.readings: list[PumpReading | VitalsReading] = []
        self.errors: list[str] = []
        self.frames_ok = 0

    async def open(self) -> None:
        await self.link.write(self.conversation.open(instant()))

    async def step(self) -> None:
        """One read (at most ``STEP_S`` long), then a tick."""
        data = b""
        try:
            async with asyncio.timeout(STEP_S):
                data = await self.link.read()
        except TimeoutError:
            pass
        if data:
            exchange = self.conversation.receive(data, instant())
            self.readings += exchange.readings
            self.errors += exchange.errors
            self.frames_ok += exchange.frames_ok
            await self.link.write(exchange.send)
        await self.link.write(self.conversation.tick(instant()))

    async def run_until(self, done: Callable[[], bool], timeout_s: float) -> None:
        """Step until ``done()``; fail after ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, (
                f"not done after {timeout_s} s: {len(self.readings)} readings, "
                f"errors {self.errors[-5:]}"
            )
            await self.step()

    async def readings_after(
        self, count: int, timeout_s: float
    ) -> list[PumpReading | VitalsReading]:
        """Wait for ``count`` more readings and return them."""
        start = len(self.readings)
        await self.run_until(lambda: len(self.readings) >= start + count, timeout_s)
        return self.readings[start:]

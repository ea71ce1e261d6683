"""A link session in-process over a real pty: readings and states reach the bus."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import Driver, Exchange, Instant
from drivers.readings import VitalsReading
from drivers.registry import get_driver
from drivers.textline.codec import encode_vitals
from edge.backoff import Backoff
from edge.bus import Bus, Subscription
from edge.clock import SystemClock
from edge.config import DeviceConfig
from edge.device_state import DeviceState, connection_after
from edge.items import InputItem
from edge.session import STATE_REFRESH_S, LinkSession, connection_changes_at
from tests.ptys import PtyDevice

LINE = encode_vitals({"SBP": 125, "HR": 70}).to_bytes()


@contextlib.asynccontextmanager
async def running(session: LinkSession) -> AsyncIterator[None]:
    task = asyncio.create_task(session.run(), name=session.name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_matching(items: Subscription[InputItem], kind: type, **fields: object) -> InputItem:
    async with asyncio.timeout(10):
        async for item in items:
            if isinstance(item, kind) and all(getattr(item, k) == v for k, v in fields.items()):
                return item
    raise AssertionError("bus closed")


async def write_until_read(
    items: Subscription[InputItem], device: PtyDevice, line: bytes
) -> InputItem:
    """Write ``line`` until a reading arrives (pyserial flushes input when it opens a port)."""
    for _ in range(100):
        device.write(line)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.1):
                return await next_matching(items, VitalsReading)
    raise AssertionError("no reading")


@pytest.fixture
def device(tmp_path: Path) -> PtyDevice:
    return PtyDevice(tmp_path / "ttyMON")


def session_for(device: PtyDevice, bus: Bus[InputItem]) -> LinkSession:
    config = DeviceConfig(
        id="monitor-1",
        bed="bed-1",
        driver="textline",
        port=str(device.path),
        stale_after_s=0.5,
        timeout_s=1.0,
    )
    backoff = Backoff(initial=0.1, cap=0.2, floor=0.05)
    return LinkSession(config.port, [config], get_driver("textline"), bus, SystemClock(), backoff)


async def test_states_follow_readings_and_silence(device: PtyDevice) -> None:
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    session = session_for(device, bus)
    try:
        async with running(session):
            first = await next_matching(items, DeviceState)
            assert isinstance(first, DeviceState)
            assert first.connection == "offline"  # never heard from yet
            reading = await write_until_read(items, device, LINE)
            assert isinstance(reading, VitalsReading)
            assert reading.device_id == "monitor-1"
            assert reading.value("MDC_PRESS_BLD_NONINV_SYS") == 125
            online = await next_matching(items, DeviceState, connection="online")
            assert isinstance(online, DeviceState)
            assert online.frames_ok == 1
            stale = await next_matching(items, DeviceState, connection="stale")
            assert isinstance(stale, DeviceState)
            # never before its time; and the watchdog, asleep until the offline device's
            # refresh (STATE_REFRESH_S), was woken by the reading to look at the stale time
            assert timedelta(seconds=0.5) <= stale.since - reading.ts
            assert stale.since - reading.ts < timedelta(seconds=STATE_REFRESH_S / 2)
            offline = await next_matching(items, DeviceState, connection="offline")
            assert isinstance(offline, DeviceState)
            assert offline.last_reading_at == reading.ts
            assert timedelta(seconds=1.0) <= offline.since - reading.ts
    finally:
        device.close()


async def test_reopens_after_unplug_and_counts_it(device: PtyDevice) -> None:
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    session = session_for(device, bus)
    try:
        async with running(session):
            await write_until_read(items, device, LINE)
            device.unplug()
            await next_matching(items, DeviceState, connection="offline")
            device.plug()
            await write_until_read(items, device, LINE)
            state = await next_matching(items, DeviceState, connection="online")
            assert isinstance(state, DeviceState)
            assert state.reconnects >= 1
            assert state.last_error is not None
    finally:
        device.close()


async def test_garbage_is_counted_not_fatal(device: PtyDevice) -> None:
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    session = session_for(device, bus)
    try:
        async with running(session):
            await write_until_read(items, device, LINE)
            device.write(b"$VIT,SBP=1*00\r\n\xff\xfe$junk*zz\r\n" + LINE)
            await next_matching(items, VitalsReading)
            assert session.frames_bad == 2
            assert session.frames_ok >= 2
    finally:
        device.close()


class DelayedReply:
    """A conversation that answers every chunk it receives ``REPLY_DELAY_S`` later, from a
    tick (as BCC sends its ACK), and asks for no tick otherwise."""

    REPLY_DELAY_S = 0.05

    def __init__(self) -> None:
        self.reply_at: float | None = None
        self.ticks = 0

    def open(self, at: Instant) -> bytes:
        return b""

    def receive(self, data: bytes, at: Instant) -> Exchange:
        self.reply_at = at.monotonic + self.REPLY_DELAY_S
        return Exchange(frames_ok=1)

    def next_tick_at(self) -> float | None:
        return self.reply_at

    def tick(self, at: Instant) -> bytes:
        self.ticks += 1
        if self.reply_at is None or at.monotonic < self.reply_at:
            return b""
        self.reply_at = None
        return b"ACK\n"

    def close(self, at: Instant) -> bytes:
        return b""


async def test_ticks_when_the_conversation_asks_and_sleeps_otherwise(device: PtyDevice) -> None:
    conversations: list[DelayedReply] = []

    def conversation(targets: object, options: object) -> DelayedReply:
        conversations.append(DelayedReply())
        return conversations[-1]

    driver = Driver("delayed-reply", "test", conversation)
    config = DeviceConfig(
        id="pump-1", bed="bed-1", driver="textline", port=str(device.path), timeout_s=60.0
    )
    bus: Bus[InputItem] = Bus()
    session = LinkSession(config.port, [config], driver, bus, SystemClock())
    try:
        async with running(session):
            answered = b""
            async with asyncio.timeout(10):
                while b"ACK" not in answered:  # pyserial may flush what came before the open
                    device.write(b"hello\n")
                    await asyncio.sleep(0.2)  # > REPLY_DELAY_S: the reply is due in this wait
                    answered += device.read()
            ticks = conversations[-1].ticks
            await asyncio.sleep(0.5)
            # woken by the receive, well before the 60 s silence check; then asleep
            assert conversations[-1].ticks == ticks
    finally:
        device.close()


async def test_a_missing_port_is_retried_every_second_not_backed_off(device: PtyDevice) -> None:
    config = DeviceConfig(
        id="monitor-1", bed="bed-1", driver="textline", port=str(device.path), timeout_s=10.0
    )
    slowest = Backoff(
        initial=0.5, cap=30.0, rand=lambda: 1.0
    )  # a backoff would wait 0.5, 1, 2, 4..
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    session = LinkSession(
        config.port, [config], get_driver("textline"), bus, SystemClock(), slowest
    )
    loop = asyncio.get_running_loop()
    try:
        async with running(session):
            await write_until_read(items, device, LINE)
            device.unplug()
            device.path.unlink()  # the adapter's by-id name goes with it
            await asyncio.sleep(5.0)
            device.plug()
            plugged = loop.time()
            await write_until_read(items, device, LINE)
            assert loop.time() - plugged < 1.6  # the next attempt within ~1 s, then a line
            assert session.reconnects == 1
            assert slowest.attempt <= 1  # only the link loss itself counted
    finally:
        device.close()


@given(
    last_seen=st.none() | st.integers(0, 100),
    stale_after=st.integers(1, 50),
    timeout=st.integers(1, 50),
    later=st.integers(0, 120),
)
def test_the_watchdog_sleeps_until_the_connection_can_change(
    last_seen: int | None, stale_after: int, timeout: int, later: int
) -> None:
    """Whole seconds, so the sums are exact: the connection is the same at every second from
    now until the moment given, and differs at that moment; none left: it never changes."""
    now = float(later if last_seen is None else last_seen + later)

    def connection(at: float) -> str:
        return connection_after(None if last_seen is None else at - last_seen, stale_after, timeout)

    changes_at = connection_changes_at(last_seen, stale_after, timeout, now)
    assert changes_at > now
    horizon = now + 2 * (stale_after + timeout)
    end = horizon if math.isinf(changes_at) else changes_at
    assert all(connection(t) == connection(now) for t in range(int(now), int(end)))
    if not math.isinf(changes_at):
        assert connection(changes_at) != connection(now)

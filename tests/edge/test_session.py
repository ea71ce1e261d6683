"""A link session in-process over a real pty: readings and states reach the bus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.readings import VitalsReading
from drivers.registry import get_driver
from drivers.textline.codec import encode_vitals
from edge.backoff import Backoff
from edge.bus import Bus, Subscription
from edge.clock import SystemClock
from edge.config import DeviceConfig
from edge.device_state import DeviceState
from edge.items import InputItem
from edge.session import LinkSession
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
            await next_matching(items, DeviceState, connection="stale")
            offline = await next_matching(items, DeviceState, connection="offline")
            assert isinstance(offline, DeviceState)
            assert offline.last_reading_at == reading.ts
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

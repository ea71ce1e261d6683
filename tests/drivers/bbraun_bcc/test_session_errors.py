"""A link session reading a simulated ComDevice over a real pty: a pump's GNERR and another
rack's answers show in the device state (``last_error``) and count in /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from drivers.bbraun_bcc.device import ComDevice, Pump
from drivers.bbraun_bcc.identity import LEARNED
from drivers.readings import PumpReading
from drivers.registry import get_driver
from edge.alarms.engine import AlarmEngine
from edge.backoff import Backoff
from edge.bus import Bus, Subscription
from edge.clock import SystemClock
from edge.config import Config, DeviceConfig
from edge.device_state import DeviceState
from edge.items import InputItem, OutputItem
from edge.metrics import EdgeMetrics
from edge.publish.mqtt import PublisherCounters
from edge.publish.outbox import Outbox
from edge.session import LinkSession
from tests.ptys import PtyDevice

POLL_S = 0.02  # s between looks at the pty


@pytest.fixture(autouse=True)
def forget_bed_ids() -> Iterator[None]:
    yield
    LEARNED.forget()


@contextlib.asynccontextmanager
async def serving(rack: ComDevice, pty: PtyDevice) -> AsyncIterator[None]:
    """Answer whatever the session writes, as the ComDevice ``rack``."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            data = pty.read()
            if data:
                pty.write(rack.receive(data, 3600 + loop.time() - started))
            await asyncio.sleep(POLL_S)

    task = asyncio.create_task(serve(), name="comdevice")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def running(session: LinkSession) -> AsyncIterator[None]:
    task = asyncio.create_task(session.run(), name=session.name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def state_where(
    items: Subscription[InputItem], device_id: str, text: str, seen: list[InputItem]
) -> DeviceState:
    """The first state of ``device_id`` whose ``last_error`` contains ``text``."""
    async with asyncio.timeout(15):
        async for item in items:
            seen.append(item)
            if (
                isinstance(item, DeviceState)
                and item.device_id == device_id
                and text in (item.last_error or "")
            ):
                return item
    raise AssertionError("bus closed")


async def gather_for(items: Subscription[InputItem], seconds: float, seen: list[InputItem]) -> None:
    """Everything on the bus for ``seconds``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for item in items:
                seen.append(item)


def config_for(port: Path) -> Config:
    devices = [
        {
            "id": f"rack-pump-{slot}",
            "bed": "bed-9",
            "driver": "bbraun_bcc",
            "port": str(port),
            "address": slot,
            "options": {"poll_period_s": 0.5},
        }
        for slot in ("11", "12")
    ]
    return Config(site="clinic", edge_id="edge-1", beds={"bed-9": {}}, devices=devices)


async def metric(config: Config, states: list[DeviceState], tmp_path: Path) -> dict[str, float]:
    outbox = Outbox(tmp_path / "outbox.sqlite", max_messages=10, max_age_s=60)
    await outbox.open()
    engine = AlarmEngine.from_config(config, SystemClock())
    counters = PublisherCounters()
    metrics = EdgeMetrics(config, "0.1.0", lambda: counters, outbox, engine)
    bus: Bus[OutputItem] = Bus()
    items = bus.subscribe("metrics")
    for state in states:
        await bus.publish(state)
    await bus.close()
    await metrics.consume(items)
    assert b"infusion_edge_device_errors_total{" in metrics.render()
    return {s["device"]: v for s, v in metrics.samples()["device_errors"]}


async def test_gnerr_and_a_foreign_rack_reach_the_device_state_and_metrics(tmp_path: Path) -> None:
    pty = PtyDevice(tmp_path / "ttyRACK")
    config = config_for(pty.path)
    assert (await metric(config, [], tmp_path)) == {"rack-pump-11": 0, "rack-pump-12": 0}
    rack = ComDevice({"11": Pump(rate_ml_h=20.0, running=True), "12": Pump()})
    rack.set_slot_error("12", 41)
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    devices = [DeviceConfig.model_validate(d.model_dump()) for d in config.devices]
    backoff = Backoff(initial=0.1, cap=0.2, floor=0.05)
    session = LinkSession(
        str(pty.path), devices, get_driver("bbraun_bcc"), bus, SystemClock(), backoff
    )
    seen: list[InputItem] = []
    try:
        async with serving(rack, pty), running(session):
            failing = await state_where(items, "rack-pump-12", "GNERR 41", seen)
            assert failing.last_error == "pump communication error (GNERR 41)"
            assert failing.device_errors >= 1
            assert "device_errors" not in failing.model_dump()  # metrics only, not the payload
            assert any(isinstance(i, PumpReading) and i.device_id == "rack-pump-11" for i in seen)
            rack.answer_bed_id = "OtherRack"
            refused = await state_where(items, "rack-pump-11", "another rack", seen)
            assert refused.last_error == (
                "answer from another rack refused (bedId 'OtherRack', expected 'ComSystem')"
            )
            after = len(seen)
            await gather_for(items, 1.5, seen)  # three poll periods
            assert not any(isinstance(i, PumpReading) for i in seen[after:])
    finally:
        pty.close()
    states = [i for i in seen if isinstance(i, DeviceState)]
    counts = await metric(config, states, tmp_path)
    assert counts["rack-pump-12"] >= failing.device_errors + 1  # its GNERRs, then the refusal
    assert counts["rack-pump-11"] >= 1

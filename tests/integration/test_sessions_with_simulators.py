"""The daemon's link session reading the protocol simulators over real pseudo-terminals:
a B. Braun rack of 4 pumps on one port, and an IntelliVue monitor that restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from drivers.readings import PumpReading, VitalsReading
from drivers.registry import get_driver
from drivers.sim.devices import build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario, parse_scenario
from drivers.sim.serve import PtyPort, serve
from drivers.sim.timeline import Timeline
from edge.backoff import Backoff
from edge.bus import Bus, Subscription
from edge.clock import SystemClock
from edge.config import DeviceConfig
from edge.items import InputItem
from edge.session import LinkSession

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"

RACK = """
name: rack-of-four
description: four pumps in one SpaceStation
duration_min: 30
vitals:
  hr: {baseline: 72}
  spo2: {baseline: 98}
  rr: {baseline: 14}
  sbp: {baseline: 120}
  dbp: {baseline: 80}
pumps:
  - slot: "11"
    drug: Ketamine
    program: [{at_min: 0, action: start, rate_ml_h: 52.5, vtbi_ml: 35}]
  - slot: "12"
    drug: NaCl
    program: [{at_min: 0, action: start, rate_ml_h: 100, vtbi_ml: 500}]
  - slot: "13"
    drug: Ondansetron
    program: [{at_min: 0, action: start, rate_ml_h: 25, vtbi_ml: 50}]
  - slot: "14"
    drug: Midazolam
    program: [{at_min: 0, action: start, rate_ml_h: 2, vtbi_ml: 10}]
"""


@contextlib.asynccontextmanager
async def simulator(driver: str, timeline: Timeline, link: Path) -> AsyncIterator[None]:
    simulation = Simulation(build_device(driver, timeline, ()), timeline)
    announced = asyncio.Event()
    task = asyncio.create_task(
        serve(simulation, PtyPort(link), lambda _path: announced.set()), name="simulator"
    )
    try:
        async with asyncio.timeout(5):
            await announced.wait()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def session(devices: list[DeviceConfig], bus: Bus[InputItem]) -> AsyncIterator[LinkSession]:
    driver = get_driver(devices[0].driver)
    link = LinkSession(
        devices[0].port, devices, driver, bus, SystemClock(), Backoff(initial=0.1, cap=0.5)
    )
    task = asyncio.create_task(link.run(), name=link.name)
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def collect(
    items: Subscription[InputItem], kind: type, want: Any, timeout: float
) -> list[Any]:
    """Readings of ``kind`` until ``want(readings)`` holds."""
    found: list[Any] = []
    async with asyncio.timeout(timeout):
        async for item in items:
            if isinstance(item, kind):
                found.append(item)
                if want(found):
                    return found
    raise AssertionError("bus closed")


async def test_a_rack_of_four_pumps_on_one_port(tmp_path: Path) -> None:
    timeline = Timeline(parse_scenario(RACK, "rack.yaml"))
    link = tmp_path / "ttyRACK"
    devices = [
        DeviceConfig(
            id=f"pump-{slot}",
            bed=f"bed-{n}",
            driver="bbraun_bcc",
            port=str(link),
            address=slot,
            options={"poll_period_s": 0.5},
        )
        for n, slot in enumerate(["11", "12", "13", "14"], start=1)
    ]
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with simulator("bbraun_bcc", timeline, link), session(devices, bus) as rack:
        readings = await collect(
            items,
            PumpReading,
            lambda found: {r.device_id for r in found} == {d.id for d in devices},
            timeout=20,
        )
    rates = {r.device_id: r.value("MDC_FLOW_FLUID_PUMP") for r in readings}
    assert rates == {"pump-11": 52.5, "pump-12": 100.0, "pump-13": 25.0, "pump-14": 2.0}
    drugs = {r.device_id: r.pump.drug for r in readings}
    assert drugs["pump-13"] == "Ondansetron"
    assert {r.bed for r in readings} == {"bed-1", "bed-2", "bed-3", "bed-4"}
    assert all(r.pump.state == "infusing" for r in readings)
    assert rack.name == f"link[{link}]"
    assert rack.frames_ok >= 4


async def test_intellivue_reassociates_after_the_monitor_restarts(tmp_path: Path) -> None:
    timeline = Timeline(load_scenario(SCENARIOS / "normal-ketamine.yaml"))
    link = tmp_path / "ttyMONITOR"
    device = DeviceConfig(
        id="monitor-1", bed="bed-1", driver="intellivue", port=str(link), timeout_s=5
    )
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with session([device], bus) as monitor:
        async with simulator("intellivue", timeline, link):
            first = await collect(items, VitalsReading, lambda found: len(found) >= 2, 20)
        # The monitor is switched off and on again: its port vanishes, then comes back.
        async with simulator("intellivue", timeline, link):
            again = await collect(items, VitalsReading, lambda found: len(found) >= 2, 30)
    assert first[0].value("MDC_ECG_HEART_RATE") is not None
    assert again[-1].ts > first[-1].ts
    assert again[-1].value("MDC_PULS_OXIM_SAT_O2") is not None
    assert monitor.reconnects >= 1

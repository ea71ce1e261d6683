"""The daemon's link session reading the simulated Alaris Asena (driver ``alaris_asena``) over
a real pseudo-terminal with the driver's serial defaults (38400 8N1), through a simulator
restart; and ``probe`` against ``simulate --driver alaris_asena --tcp``."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.readings import PumpReading
from drivers.sim.scenario import load_scenario
from drivers.sim.timeline import Timeline
from edge.bus import Bus
from edge.config import DeviceConfig
from edge.items import InputItem
from tests.integration.test_commissioning import run_probe, simulate_tcp
from tests.integration.test_sessions_with_simulators import SCENARIOS, collect, session, simulator

pytestmark = pytest.mark.integration


async def test_asena_is_polled_and_read_again_after_the_pump_restarts(tmp_path: Path) -> None:
    timeline = Timeline(load_scenario(SCENARIOS / "normal-ketamine.yaml"))
    link = tmp_path / "ttyASENA"
    device = DeviceConfig(
        id="pump-1",
        bed="bed-1",
        driver="alaris_asena",
        port=str(link),
        timeout_s=12,
        options={"poll_period_s": 1, "response_timeout_s": 1},
    )
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with session([device], bus) as pump:
        async with simulator("alaris_asena", timeline, link):
            first = await collect(items, PumpReading, lambda found: len(found) >= 2, 20)
        # The pump restarts: its port vanishes, comes back; the handshake runs again.
        async with simulator("alaris_asena", timeline, link):
            again = await collect(items, PumpReading, lambda found: len(found) >= 1, 30)
    reading = first[0]
    assert reading.device_id == "pump-1"
    assert reading.pump.drug == "syringe BD PLASTIPAK 50 mL"
    assert reading.value("X_ALARIS_PRESS_LINE") is not None
    assert reading.value("MDC_VOL_FLUID_DELIV") is not None
    assert pump.frames_ok >= 8  # handshake + two cycles of three answers
    assert again[0].value("MDC_VOL_FLUID_DELIV") is not None


async def test_probe_reads_the_simulated_asena(tmp_path: Path) -> None:
    async with simulate_tcp("alaris_asena", SCENARIOS / "normal-ketamine.yaml") as url:
        code, out = await run_probe(url, "--driver", "alaris_asena", "--seconds", "5")
    assert code == 0, out
    assert "pump: state=stopped" in out  # minute 0: the program starts at minute 5
    assert "X_ALARIS_PRESS_LINE=" in out
    assert " 0 bad frames" in out

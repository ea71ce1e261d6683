"""The daemon's link session reading the simulated GE monitor (driver ``ge_dri``) over a
real pseudo-terminal, with the driver's serial defaults (19200 8E1, RTS/CTS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.readings import VitalsReading
from drivers.sim.scenario import load_scenario
from drivers.sim.timeline import Timeline
from edge.bus import Bus
from edge.config import DeviceConfig
from edge.items import InputItem
from tests.integration.test_sessions_with_simulators import SCENARIOS, collect, session, simulator

pytestmark = pytest.mark.integration


async def test_ge_monitor_streams_vitals_and_is_asked_again_after_a_restart(
    tmp_path: Path,
) -> None:
    timeline = Timeline(load_scenario(SCENARIOS / "normal-ketamine.yaml"))
    link = tmp_path / "ttyGE"
    device = DeviceConfig(
        id="monitor-1",
        bed="bed-1",
        driver="ge_dri",
        port=str(link),
        timeout_s=12,
        options={"period_s": 5, "resend_after_s": 6},
    )
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with session([device], bus) as monitor:
        async with simulator("ge_dri", timeline, link):
            first = await collect(items, VitalsReading, lambda found: len(found) >= 2, 20)
        # The monitor restarts: its port vanishes, comes back, and has forgotten the request.
        async with simulator("ge_dri", timeline, link):
            again = await collect(items, VitalsReading, lambda found: len(found) >= 1, 30)
    reading = first[0]
    assert reading.device_id == "monitor-1"
    assert reading.value("MDC_TEMP_BODY") == 36.8
    for code in ("MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_SAT_O2", "MDC_RESP_RATE"):
        assert reading.value(code) is not None, code
    assert monitor.frames_ok >= 3
    assert again[0].value("MDC_PULS_OXIM_SAT_O2") is not None

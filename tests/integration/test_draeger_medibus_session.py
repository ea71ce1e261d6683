"""The Dräger MEDIBUS driver with its simulator over real links: the daemon's link session on
a pty (19200 8E1) including a ventilator restart, ``simulate --tcp`` and ``probe``."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.readings import VitalsReading
from drivers.sim.scenario import load_scenario
from drivers.sim.timeline import Timeline
from edge.bus import Bus
from edge.config import DeviceConfig
from edge.items import InputItem
from tests.integration.test_commissioning import run_probe, simulate_tcp
from tests.integration.test_sessions_with_simulators import SCENARIOS, collect, session, simulator

pytestmark = pytest.mark.integration

SCENARIO = SCENARIOS / "ventilated-recovery.yaml"


async def test_ventilator_is_polled_and_linked_again_after_a_restart(tmp_path: Path) -> None:
    timeline = Timeline(load_scenario(SCENARIO))
    link = tmp_path / "ttyVENT"
    device = DeviceConfig(
        id="ventilator-1",
        bed="bed-1",
        driver="draeger_medibus",
        port=str(link),
        timeout_s=10,
        options={"period_s": 1, "reply_timeout_s": 2},
    )
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with session([device], bus) as vent:
        async with simulator("draeger_medibus", timeline, link):
            first = await collect(items, VitalsReading, lambda found: len(found) >= 3, 20)
        # The ventilator restarts: its port vanishes, comes back, and knows no link.
        async with simulator("draeger_medibus", timeline, link):
            again = await collect(items, VitalsReading, lambda found: len(found) >= 2, 30)
    reading = first[0]
    assert reading.device_id == "ventilator-1"
    assert reading.value("MDC_VENT_RESP_RATE") == 14
    assert reading.value("MDC_VENT_PRESS_AWAY_END_EXP_POS") == 5
    assert reading.value("MDC_VENT_CONC_AWAY_O2_INSP") == 40
    assert reading.value("MDC_PRESS_RESP_PLAT") == 17
    for code in ("MDC_VOL_AWAY_TIDAL_EXP", "MDC_VOL_MINUTE_AWAY", "X_DRAEGER_CO2_ET_PCT"):
        assert reading.value(code) is not None, code
    assert reading.conditions == ()
    assert vent.frames_ok >= 8
    assert again[-1].value("MDC_VENT_RESP_RATE") == 14


async def test_probe_reads_the_simulated_ventilator_over_tcp() -> None:
    async with simulate_tcp("draeger_medibus", SCENARIO) as url:
        code, out = await run_probe(url, "--driver", "draeger_medibus", "--seconds", "5")
    assert code == 0, out
    assert "vitals: " in out
    for expected in (
        "MDC_VENT_RESP_RATE=14 /min",
        "MDC_VENT_PRESS_AWAY_END_EXP_POS=5 mbar",
        "MDC_VENT_CONC_AWAY_O2_INSP=40 %",
    ):
        assert expected in out, (expected, out)
    assert " 0 bad frames" in out

"""The daemon's link session reading the Masimo simulator over a real pseudo-terminal:
SpO2 and pulse rate from the scenario, and a probe off the finger as a device condition."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.readings import VitalsReading
from drivers.sim.scenario import parse_scenario
from drivers.sim.timeline import Timeline
from edge.bus import Bus
from edge.config import DeviceConfig
from edge.items import InputItem
from tests.integration.test_commissioning import run_probe
from tests.integration.test_sessions_with_simulators import collect, session, simulator

pytestmark = pytest.mark.integration

STEADY = """
name: masimo-steady
description: a steady oximeter
duration_min: 10
vitals:
  hr: {baseline: 76}
  spo2: {baseline: 95}
  rr: {baseline: 14}
  sbp: {baseline: 120}
  dbp: {baseline: 80}
"""
OFF_THE_FINGER = (
    STEADY + "  artefacts: [{quantity: spo2, state: invalid, at_min: 0, until_min: 10}]\n"
)


def device(link: Path) -> DeviceConfig:
    return DeviceConfig(id="oximeter-1", bed="bed-1", driver="masimo_ascii", port=str(link))


async def test_the_session_reads_the_masimo_simulator_over_a_pty(tmp_path: Path) -> None:
    timeline = Timeline(parse_scenario(STEADY, "masimo.yaml"))
    link = tmp_path / "ttyMASIMO"
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with simulator("masimo_ascii", timeline, link), session([device(link)], bus) as port:
        readings = await collect(items, VitalsReading, lambda found: len(found) >= 2, 20)
    assert readings[-1].value("MDC_PULS_OXIM_SAT_O2") == 95
    assert readings[-1].value("MDC_PULS_OXIM_PULS_RATE") == 76
    assert readings[-1].value("MDC_PULS_OXIM_PERF_REL") == 2.35
    assert readings[-1].conditions == ()
    assert port.frames_ok >= 2


async def test_a_probe_off_the_finger_is_a_condition_not_a_value(tmp_path: Path) -> None:
    timeline = Timeline(parse_scenario(OFF_THE_FINGER, "masimo.yaml"))
    link = tmp_path / "ttyMASIMO"
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("test")
    async with simulator("masimo_ascii", timeline, link), session([device(link)], bus):
        readings = await collect(items, VitalsReading, lambda found: len(found) >= 2, 20)
    assert all(r.conditions == ("sensor_off",) for r in readings)
    assert all(r.value("MDC_PULS_OXIM_SAT_O2") is None for r in readings)


async def test_probe_recognises_the_oximeter_and_prints_its_conditions(tmp_path: Path) -> None:
    timeline = Timeline(parse_scenario(OFF_THE_FINGER, "masimo.yaml"))
    link = tmp_path / "ttyMASIMO"
    async with simulator("masimo_ascii", timeline, link):
        code, out = await run_probe(str(link), "--driver", "masimo_ascii", "--seconds", "4")
    assert code == 0, out
    assert "MDC_PULS_OXIM_SAT_O2=unavailable" in out
    assert "conditions=sensor_off" in out

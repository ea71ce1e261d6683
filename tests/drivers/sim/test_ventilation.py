"""Ventilator tracks of a scenario and the MEDIBUS simulator fed from them."""

from __future__ import annotations

import pytest

from drivers.base import DeviceTarget
from drivers.draeger_medibus.codec import parse_data
from drivers.draeger_medibus.conversation import MedibusConversation
from drivers.draeger_medibus.framer import MedibusFramer, Message, command
from drivers.sim.devices import SimTime, build_device
from drivers.sim.scenario import ScenarioError, parse_scenario
from drivers.sim.timeline import Timeline
from drivers.sim.ventilation import ventilation_at

BASE = """
name: vent
description: a ventilated bed
duration_min: 30
"""

VENT = (
    BASE
    + """
ventilator:
  rr: {baseline: 12, changes: [{at_min: 10, to: 20}]}
  vt: {baseline: 500, changes: [{at_min: 10, until_min: 20, to: 300}]}
  ppeak: {baseline: 25}
  peep: {baseline: 8}
"""
)


def test_tracks_evaluate_and_minute_volume_follows_rate_and_tidal_volume() -> None:
    scenario = parse_scenario(VENT)
    assert scenario.ventilator is not None
    assert scenario.vitals is None
    start = ventilation_at(scenario.ventilator, 0, 0)
    assert (start.rr, start.vt, start.mv, start.ppeak, start.peep) == (12, 500, 6.0, 25, 8)
    assert start.fio2 is None
    assert start.etco2 is None
    later = ventilation_at(scenario.ventilator, 0, 15 * 60)
    assert (later.rr, later.vt, later.mv) == (20, 400, 8.0)


def test_out_of_range_and_unknown_keys_are_located() -> None:
    for replacement, problem in (
        ("peep: {baseline: 80}", "ventilator.peep.baseline: 80 mbar is outside 0-50"),
        ("peep: {baseline: 8}\n  tv: {baseline: 1}", "ventilator.tv: unknown key"),
    ):
        with pytest.raises(ScenarioError) as error:
            parse_scenario(VENT.replace("peep: {baseline: 8}", replacement))
        assert problem in str(error.value)


def test_scenarios_without_ventilator_tracks_have_no_ventilator() -> None:
    no_vent = BASE + "vitals: {hr: {baseline: 72}, spo2: {baseline: 98}, rr: {baseline: 14}, "
    no_vent += "sbp: {baseline: 120}, dbp: {baseline: 80}}\n"
    timeline = Timeline(parse_scenario(no_vent))
    assert timeline.scenario.ventilator is None
    with pytest.raises(ValueError, match="no ventilator tracks"):
        build_device("draeger_medibus", timeline)
    with pytest.raises(ValueError, match="no pump slots"):
        build_device("draeger_medibus", Timeline(parse_scenario(VENT)), ("11",))


def test_the_simulator_sends_the_tracks_at_scenario_time() -> None:
    device = build_device("draeger_medibus", Timeline(parse_scenario(VENT)))
    at = SimTime(device_s=1.0, scenario_s=15 * 60, speed=60)
    assert device.receive(command(0x24), at) == b""  # no link before ICC
    device.receive(command(0x51), at)
    (message,) = MedibusFramer().feed(device.receive(command(0x24), at))
    assert isinstance(message, Message)
    assert parse_data(message.data) == {0xD6: 20, 0x88: 400, 0xB8: 8.0, 0x7D: 25, 0x78: 8}


def test_the_host_reads_the_simulator() -> None:
    from datetime import UTC, datetime

    from drivers.base import Instant

    device = build_device("draeger_medibus", Timeline(parse_scenario(VENT)))
    host = MedibusConversation(DeviceTarget("vent-1", "bed-1"))
    now = Instant(0.0, datetime(2026, 1, 1, tzinfo=UTC))
    data = host.open(now)
    readings = []
    for _ in range(6):
        exchange = host.receive(device.receive(data, SimTime(0.0, 0.0)), now)
        readings += exchange.readings
        data = exchange.send
    assert [r.value("MDC_VENT_RESP_RATE") for r in readings] == [12]

"""The Masimo simulator against the real host conversation, in memory: values from the
scenario timeline, artefacts as sensor off / low signal IQ, a spoiled line dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drivers.masimo_ascii.conversation import MasimoConversation
from drivers.masimo_ascii.device import Oximeter
from drivers.readings import VitalsReading
from drivers.registry import get_driver
from drivers.sim.devices import MasimoOximeter, SimTime, build_device
from drivers.sim.scenario import parse_scenario
from drivers.sim.timeline import Timeline
from tests.drivers.masimo_ascii.vectors import AT, TARGET

SPO2, PR = "MDC_PULS_OXIM_SAT_O2", "MDC_PULS_OXIM_PULS_RATE"

SCENARIO = """
name: masimo-artefacts
description: a desaturation, a probe off the finger, then a noisy signal
duration_min: 10
vitals:
  hr: {baseline: 80}
  spo2: {baseline: 97, changes: [{at_min: 2, to: 86}]}
  rr: {baseline: 14}
  sbp: {baseline: 120}
  dbp: {baseline: 80}
  artefacts:
    - {quantity: spo2, state: invalid, at_min: 4, until_min: 5}
    - {quantity: spo2, state: questionable, at_min: 6, until_min: 7}
"""


def read_at(minute: float) -> VitalsReading:
    device = MasimoOximeter(Timeline(parse_scenario(SCENARIO, "masimo.yaml")))
    conversation = MasimoConversation(TARGET, skip_first_line=False)
    exchange = conversation.receive(device.tick(SimTime(0.0, minute * 60)), AT)
    assert exchange.errors == []
    (reading,) = exchange.readings
    assert isinstance(reading, VitalsReading)
    return reading


def test_the_simulator_streams_the_scenario_through_the_real_decoder() -> None:
    normal = read_at(1)
    assert normal.value(SPO2) == 97
    assert normal.value(PR) == 80
    assert normal.value("MDC_PULS_OXIM_PERF_REL") == 2.35
    assert normal.conditions == ()
    assert read_at(3).value(SPO2) == 86


def test_artefacts_reach_the_wire_as_masimo_exceptions() -> None:
    off = read_at(4.5)
    assert off.value(SPO2) is None
    assert off.conditions == ("sensor_off",)
    noisy = read_at(6.5)
    assert noisy.conditions == ("low_signal_quality",)
    assert {obs.state for obs in noisy.observations if obs.code == SPO2} == {"questionable"}


def test_one_line_per_period_and_a_spoiled_line_is_dropped_not_misread() -> None:
    oximeter = Oximeter(period_s=1.0)
    conversation = MasimoConversation(TARGET, skip_first_line=False)
    sent = b"".join(oximeter.tick(t / 10) for t in range(25))  # 0.0 .. 2.4 s
    assert sent.count(b"\n") == 3
    oximeter.spoil_next_line()
    exchange = conversation.receive(oximeter.line(3.0) + oximeter.line(4.0), AT)
    assert len(exchange.errors) == 1
    assert [r.value(SPO2) for r in exchange.readings] == [98]


def test_the_device_clock_is_in_the_line_but_the_reading_has_the_host_time() -> None:
    oximeter = Oximeter()
    assert oximeter.line(61.0).startswith(b"01/02/25 10:01:01 SN=")
    at_later = AT.__class__(AT.monotonic, AT.wall + timedelta(hours=5))
    reading = MasimoConversation(TARGET, skip_first_line=False).receive(
        oximeter.line(0.0), at_later
    )
    assert reading.readings[0].ts == at_later.wall


def test_build_device_and_the_registry_know_masimo() -> None:
    timeline = Timeline(parse_scenario(SCENARIO, "masimo.yaml"))
    assert build_device("masimo_ascii", timeline).role == "monitor"
    with pytest.raises(ValueError, match="no pump slots"):
        build_device("masimo_ascii", timeline, ["11"])
    driver = get_driver("masimo_ascii")
    assert driver.serial_defaults.baudrate == 9600
    assert driver.serial_defaults.parity == "N"
    assert driver.min_timeout_for(driver.options()).seconds == 4.0

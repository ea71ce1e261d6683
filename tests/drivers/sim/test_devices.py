"""Simulated devices against the real host conversations, in memory on a hand clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.base import Conversation, DeviceTarget, Instant
from drivers.bbraun_bcc.conversation import BccConversation
from drivers.intellivue.conversation import IntelliVueConversation
from drivers.readings import PumpReading, VitalsReading
from drivers.sim.devices import (
    BccRack,
    IntelliVueBedMonitor,
    SimTime,
    SimulatedDevice,
    TextLineDevice,
    build_device,
)
from drivers.sim.scenario import load_scenario, parse_scenario
from drivers.sim.timeline import Timeline
from drivers.textline.frames import LineFrame, TextLineFramer

SCENARIOS = Path(__file__).resolve().parents[3] / "config" / "scenarios"
WALL0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
STEP = 0.05
VOL, RATE = "MDC_VOL_FLUID_DELIV", "MDC_FLOW_FLUID_PUMP"


def normal(seed: int | None = None) -> Timeline:
    return Timeline(load_scenario(SCENARIOS / "normal-ketamine.yaml"), seed)


def rack_timeline() -> Timeline:
    pumps = [
        {
            "slot": slot,
            "drug": drug,
            "program": [{"at_min": 0, "action": "start", "rate_ml_h": rate, "vtbi_ml": 500}],
        }
        for slot, drug, rate in (
            ("11", "Ketamine", 52.5),
            ("12", "NaCl 0.9", 30),
            ("13", "Ondansetron", 12),
            ("1A", "Glucose 5", 80),
        )
    ]
    data = {"name": "rack", "description": "four pumps", "duration_min": 60, "pumps": pumps}
    return Timeline(parse_scenario(yaml.safe_dump(data)))


@dataclass
class Bench:
    """``host`` and ``device`` joined in memory; ``speed`` scenario s per device s."""

    host: Conversation
    device: SimulatedDevice
    speed: float = 1.0
    start_s: float = 0.0
    now: float = 0.0
    readings: list[PumpReading | VitalsReading] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def at(self) -> SimTime:
        return SimTime(self.now, self.start_s + self.now * self.speed, self.speed)

    def instant(self) -> Instant:
        return Instant(self.now, WALL0 + timedelta(seconds=self.now))

    def open(self) -> None:
        self._to_device(self.host.open(self.instant()))

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = round(self.now + STEP, 6)
            self._to_host(self.device.tick(self.at()))
            self._to_device(self.host.tick(self.instant()))

    def run_until(self, done: Callable[[], bool], limit_s: float = 60) -> None:
        end = self.now + limit_s
        while not done():
            assert self.now < end, f"not done after {limit_s} s: {self.errors[-3:]}"
            self.run(STEP)

    def _to_device(self, data: bytes) -> None:
        if data:
            self._to_host(self.device.receive(data, self.at()))

    def _to_host(self, data: bytes) -> None:
        if not data:
            return
        exchange = self.host.receive(data, self.instant())
        self.readings += exchange.readings
        self.errors += exchange.errors
        self._to_device(exchange.send)


def pump_targets(*slots: str) -> list[DeviceTarget]:
    return [DeviceTarget(f"pump-{slot}", "bed-1", slot) for slot in slots]


def assert_pump_matches(reading: Any, timeline: Timeline, slot: str, scenario_s: float) -> None:
    expected = timeline.pump(slot, scenario_s)
    assert isinstance(reading, PumpReading)
    assert reading.value(RATE) == pytest.approx(expected.rate_ml_h, abs=0.01)
    assert reading.value(VOL) == pytest.approx(expected.infused_ml, abs=0.051)  # 0.1 mL steps
    assert reading.pump.drug == expected.drug


def test_bcc_rack_of_four_pumps() -> None:
    timeline = rack_timeline()
    slots = ("11", "12", "13", "1A")
    bench = Bench(BccConversation(pump_targets(*slots), poll_period_s=0.5), BccRack(timeline), 60)
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 8)
    by_device = {r.device_id: r for r in bench.readings[-4:]}
    assert sorted(by_device) == [f"pump-{slot}" for slot in slots]
    # the answer was made when the MEM:GET arrived: at most 0.5 s (30 scenario s) ago
    for slot in slots:
        reading = by_device[f"pump-{slot}"]
        assert isinstance(reading, PumpReading)
        assert reading.pump.state == "infusing"
        expected = timeline.pump(slot, bench.at().scenario_s)
        assert reading.value(RATE) == pytest.approx(expected.rate_ml_h)
        assert (
            expected.infused_ml - expected.rate_ml_h * 31 / 3600 - 0.05
            <= (reading.value(VOL) or 0)
            <= expected.infused_ml
        )
    assert bench.errors == []


def test_bcc_values_follow_the_timeline_at_speed() -> None:
    timeline = Timeline(load_scenario(SCENARIOS / "occlusion.yaml"))  # end of volume at 48.5
    bench = Bench(BccConversation(pump_targets("11"), poll_period_s=0.5), BccRack(timeline), 60)
    bench.start_s = 46.5 * 60.0  # 2 min before the end of the volume
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 1)
    assert bench.now < 1
    assert bench.readings[-1].value(VOL) == pytest.approx(
        timeline.pump("11", bench.at().scenario_s).infused_ml, abs=0.5
    )
    bench.run(2.0 - bench.now + 0.6)  # past scenario minute 45: end of volume, KVO
    last = bench.readings[-1]
    assert isinstance(last, PumpReading)
    assert last.pump.flags.end_of_volume
    assert last.value(RATE) == 1.0


def test_bcc_spoiled_block_is_naked_and_resent() -> None:
    timeline = normal()
    rack = BccRack(timeline, ["11"])
    bench = Bench(BccConversation(pump_targets("11"), poll_period_s=0.5), rack, 1, 10 * 60.0)
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 1)
    rack.spoil_next_frame()
    bench.run_until(lambda: len(bench.readings) >= 2)
    assert any("checksum" in error for error in bench.errors)
    assert_pump_matches(bench.readings[-1], timeline, "11", bench.at().scenario_s)


def intellivue_bench(timeline: Timeline, speed: float = 1.0) -> Bench:
    monitor = IntelliVueBedMonitor(timeline)
    host = IntelliVueConversation(DeviceTarget("mon-1", "bed-1"))
    return Bench(host, monitor, speed)


def test_intellivue_values_follow_the_timeline() -> None:
    timeline = normal()
    bench = intellivue_bench(timeline, speed=30)
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 3)
    reading = bench.readings[-1]
    vitals = timeline.vitals(bench.at().scenario_s)
    assert vitals is not None
    assert vitals.nibp is not None
    assert reading.value("MDC_ECG_HEART_RATE") == vitals.hr
    assert reading.value("MDC_PULS_OXIM_SAT_O2") == vitals.spo2
    assert reading.value("MDC_RESP_RATE") == vitals.rr
    assert reading.value("MDC_PRESS_BLD_NONINV_SYS") == vitals.nibp.systolic
    assert reading.value("MDC_PRESS_BLD_NONINV_DIA") == vitals.nibp.diastolic
    assert reading.value("MDC_PRESS_BLD_NONINV_MEAN") == vitals.nibp.mean
    (nibp,) = [o for o in reading.observations if o.code == "MDC_PRESS_BLD_NONINV_SYS"]
    measured = WALL0 + timedelta(seconds=bench.at().device_time_of(vitals.nibp.measured_at_s))
    assert nibp.ts is not None
    assert abs((nibp.ts - measured).total_seconds()) < 0.1


def test_intellivue_spoiled_frame_is_dropped() -> None:
    bench = intellivue_bench(normal())
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 2)
    bench.device.spoil_next_frame()
    count = len(bench.readings)
    bench.run(1.0)
    assert "FCS mismatch" in bench.errors
    bench.run_until(lambda: len(bench.readings) >= count + 1)


def test_textline_lines() -> None:
    timeline = normal()
    monitor, pump = TextLineDevice(timeline), TextLineDevice(timeline, "11")
    assert (monitor.role, pump.role) == ("monitor", "pumps")
    at = SimTime(0.0, 30 * 60.0)
    frames = TextLineFramer().feed(monitor.tick(at) + pump.tick(at))
    assert all(isinstance(frame, LineFrame) for frame in frames)
    vitals, line = frames
    assert isinstance(vitals, LineFrame)
    assert isinstance(line, LineFrame)
    expected = timeline.vitals(at.scenario_s)
    assert expected is not None
    assert expected.nibp is not None
    assert dict(vitals.fields)["SBP"] == str(expected.nibp.systolic)
    assert dict(vitals.fields)["HR"] == str(expected.hr)
    assert dict(line.fields)["STATE"] == "infusing"
    assert float(dict(line.fields)["VI"]) == pytest.approx(52.5 * 25 / 60, abs=0.005)
    assert monitor.tick(SimTime(0.5, 30 * 60.0)) == b""  # one line a second
    monitor.spoil_next_frame()
    (bad,) = TextLineFramer().feed(monitor.tick(SimTime(1.0, 31 * 60.0)))
    assert not isinstance(bad, LineFrame)
    assert bad.reason == "checksum mismatch"


def test_sim_time() -> None:
    at = SimTime(device_s=10.0, scenario_s=1200.0, speed=60.0)
    assert at.device_time_of(600.0) == 0.0


def test_build_device() -> None:
    timeline = normal()
    assert isinstance(build_device("bbraun_bcc", timeline), BccRack)
    assert isinstance(build_device("intellivue", timeline), IntelliVueBedMonitor)
    assert build_device("textline", timeline, ["11"]).role == "pumps"
    bad: list[tuple[str, list[str], str]] = [
        ("nope", [], "no simulator for driver 'nope'"),
        ("intellivue", ["11"], "no pump slots"),
        ("textline", ["11", "12"], "at most one slot"),
        ("textline", ["12"], "no pump in slot 12"),
        ("bbraun_bcc", ["12"], "no pump in slot 12"),
    ]
    for driver, slots, message in bad:
        with pytest.raises(ValueError, match=message):
            build_device(driver, timeline, slots)
    pumps_only = rack_timeline()
    with pytest.raises(ValueError, match="no vitals"):
        build_device("intellivue", pumps_only)
    with pytest.raises(ValueError, match="no vitals"):
        build_device("textline", pumps_only)

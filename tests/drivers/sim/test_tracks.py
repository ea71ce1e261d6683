"""The optional vitals tracks (temperature, PI, SpCO, SpMet, PVI): validated in the scenario,
evaluated by the timeline, and carried by the GE and Masimo simulators through the real host
conversations to the observation values (virtual time, in memory)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from drivers.base import DeviceTarget
from drivers.ge_dri.conversation import GeDriConversation
from drivers.masimo_ascii.conversation import MasimoConversation
from drivers.readings import VitalsReading
from drivers.sim.devices import PI_PCT, MasimoOximeter
from drivers.sim.ge_monitor import TEMPERATURE_C, GeBedMonitor
from drivers.sim.scenario import ScenarioError, parse_scenario
from drivers.sim.timeline import Timeline
from tests.drivers.sim.test_devices import Bench

TARGET = DeviceTarget("monitor-1", "bed-1")
TEMP, PI = "MDC_TEMP_BODY", "MDC_PULS_OXIM_PERF_REL"
SPCO, SPMET, PVI = "X_MASIMO_SPCO", "X_MASIMO_SPMET", "X_MASIMO_PVI"


def scenario(**tracks: Any) -> Timeline:
    vitals: dict[str, Any] = {
        "hr": {"baseline": 72},
        "spo2": {"baseline": 98},
        "rr": {"baseline": 14},
        "sbp": {"baseline": 120},
        "dbp": {"baseline": 80},
        **tracks,
    }
    data = {"name": "t", "description": "tracks", "duration_min": 30, "vitals": vitals}
    return Timeline(parse_scenario(yaml.safe_dump(data), "tracks.yaml"))


FEVER = {"baseline": 36.6, "changes": [{"at_min": 10, "until_min": 20, "to": 39.0}]}


def test_the_tracks_are_optional_and_none_without_them() -> None:
    vitals = scenario().vitals(60.0)
    assert vitals is not None
    assert (vitals.temp, vitals.pi, vitals.spco, vitals.spmet, vitals.pvi) == (None,) * 5


def test_the_tracks_keep_their_decimals_ramp_and_clamp() -> None:
    line = scenario(
        temp=FEVER,
        pi={"baseline": 1.234},
        spco={"baseline": 2.46},
        spmet={"baseline": 0.84},
        pvi={"baseline": 13.6},
    )
    start, ramp, late = line.vitals(60.0), line.vitals(15 * 60.0), line.vitals(25 * 60.0)
    assert start is not None
    assert ramp is not None
    assert late is not None
    assert (start.temp, start.pi, start.spco, start.spmet, start.pvi) == (36.6, 1.23, 2.5, 0.8, 14)
    assert ramp.temp == pytest.approx(37.8)  # halfway, one decimal
    assert late.temp == 39.0


def test_noisy_tracks_are_clamped_to_their_range() -> None:
    line = scenario(pi={"baseline": 0.05, "noise_sd": 2})
    values = [line.vitals(float(second)) for second in range(300)]
    assert min(v.pi for v in values if v is not None and v.pi is not None) == 0.02


def test_out_of_range_tracks_are_located_errors() -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario(temp={"baseline": 46}, pi={"baseline": 2, "changes": [{"at_min": 1, "to": 25}]})
    assert caught.value.problems == (
        "vitals.temp.baseline: 46 Cel is outside 25-45",
        "vitals.pi.changes[0]: 25 % is outside 0.02-20",
    )


def ge_reading(timeline: Timeline, start_s: float) -> VitalsReading:
    """The first reading the GE host reads from the simulator started at ``start_s``."""
    bench = Bench(GeDriConversation(TARGET), GeBedMonitor(timeline), start_s=start_s)
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 1, limit_s=10)
    assert bench.errors == []
    reading = bench.readings[0]
    assert isinstance(reading, VitalsReading)
    return reading


def test_the_ge_monitor_sends_the_temperature_track() -> None:
    fever = scenario(temp=FEVER)
    assert ge_reading(fever, 0.0).value(TEMP) == pytest.approx(36.6)
    assert ge_reading(fever, 15 * 60.0).value(TEMP) == pytest.approx(37.8)
    assert ge_reading(fever, 25 * 60.0).value(TEMP) == pytest.approx(39.0)


def test_without_a_track_the_ge_monitor_sends_its_constant() -> None:
    assert ge_reading(scenario(), 60.0).value(TEMP) == pytest.approx(TEMPERATURE_C)


def masimo_reading(timeline: Timeline, start_s: float) -> VitalsReading:
    """The first line the Masimo host reads from the simulator started at ``start_s``."""
    host = MasimoConversation(TARGET, skip_first_line=False)
    bench = Bench(host, MasimoOximeter(timeline), start_s=start_s)
    bench.run_until(lambda: len(bench.readings) >= 1, limit_s=5)
    assert bench.errors == []
    reading = bench.readings[0]
    assert isinstance(reading, VitalsReading)
    return reading


def test_the_masimo_oximeter_sends_the_pi_spco_spmet_and_pvi_tracks() -> None:
    line = scenario(
        pi={"baseline": 3.1, "changes": [{"at_min": 10, "to": 0.42}]},
        spco={"baseline": 1.5, "changes": [{"at_min": 10, "to": 12.4}]},
        spmet={"baseline": 0.6},
        pvi={"baseline": 11, "changes": [{"at_min": 10, "by": 12}]},
    )
    before, after = masimo_reading(line, 60.0), masimo_reading(line, 15 * 60.0)
    assert [before.value(code) for code in (PI, SPCO, SPMET, PVI)] == [3.1, 1.5, 0.6, 11]
    assert [after.value(code) for code in (PI, SPCO, SPMET, PVI)] == [0.42, 12.4, 0.6, 23]


def test_without_tracks_the_oximeter_sends_its_pi_and_dashes() -> None:
    reading = masimo_reading(scenario(), 60.0)
    assert reading.value(PI) == PI_PCT
    for code in (SPCO, SPMET, PVI):
        (observation,) = [o for o in reading.observations if o.code == code]
        assert (observation.value, observation.state) == (None, "unavailable")

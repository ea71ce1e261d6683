"""Artefact flags and extra cuffs: in the scenario file, on the timeline, on the wire.

An artefact reaches the wire in each protocol's own way and comes out of the real driver as
the observation's state: IntelliVue MeasurementState bits (questionable stays a value,
invalid loses it), a textline ``-`` for an invalid value (the format has no quality flag).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from drivers.base import DeviceTarget
from drivers.intellivue.conversation import IntelliVueConversation
from drivers.readings import VitalsReading
from drivers.sim.devices import IntelliVueBedMonitor, SimTime, TextLineDevice
from drivers.sim.scenario import ScenarioError, parse_scenario
from drivers.sim.timeline import Timeline
from drivers.textline.frames import LineFrame, TextLineFramer
from tests.drivers.sim.test_devices import Bench

MIN = 60.0
SYS, DIA, MEAN = "MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA", "MDC_PRESS_BLD_NONINV_MEAN"
SPO2, HR = "MDC_PULS_OXIM_SAT_O2", "MDC_ECG_HEART_RATE"


def bedside(**vitals: Any) -> Timeline:
    """A flat bed (120/80, cuff every 5 min) with ``vitals`` keys added."""
    data = {
        "name": "t",
        "description": "test",
        "duration_min": 60,
        "vitals": {
            "hr": {"baseline": 72},
            "spo2": {"baseline": 98},
            "rr": {"baseline": 14},
            "sbp": {"baseline": 120},
            "dbp": {"baseline": 80},
            **vitals,
        },
    }
    return Timeline(parse_scenario(yaml.safe_dump(data)))


def problems(**vitals: Any) -> tuple[str, ...]:
    with pytest.raises(ScenarioError) as caught:
        bedside(**vitals)
    return caught.value.problems


def test_extra_cuffs_come_between_the_periodic_ones() -> None:
    timeline = bedside(extra_cuffs=[{"at_min": 7.5}, {"at_min": 12, "sbp": 190, "dbp": 115}])
    cuff = timeline.nibp(7.4 * MIN)
    assert cuff is not None
    assert cuff.measured_at_s == 5 * MIN
    cuff = timeline.nibp(8 * MIN)
    assert cuff is not None
    assert (cuff.measured_at_s, cuff.systolic) == (7.5 * MIN, 120)
    cuff = timeline.nibp(10.5 * MIN)
    assert cuff is not None
    assert cuff.measured_at_s == 10 * MIN
    cuff = timeline.nibp(12 * MIN)
    assert cuff is not None
    assert (cuff.systolic, cuff.diastolic, cuff.mean) == (190, 115, round((190 + 230) / 3))
    assert bedside(extra_cuffs=[{"at_min": 0.5}], nibp_first_s=120).nibp(MIN) is not None


def test_artefacts_flag_a_cuff_for_as_long_as_it_is_shown_and_numerics_in_their_window() -> None:
    timeline = bedside(
        artefacts=[
            {"quantity": "nibp", "at_min": 10, "state": "questionable"},
            {"quantity": "spo2", "at_min": 2, "until_min": 3, "state": "invalid"},
            {"quantity": "hr", "at_min": 4, "state": "questionable"},
        ]
    )
    assert [timeline.nibp(m * MIN).state for m in (9, 10, 14.9, 15)] == [  # type: ignore[union-attr]
        "valid",
        "questionable",
        "questionable",
        "valid",
    ]
    states = {m: timeline.vitals(m * MIN) for m in (1.9, 2, 2.99, 3, 4, 4.02)}
    assert [v.state("spo2") for v in states.values() if v] == ["valid", "invalid", "invalid"] + [
        "valid"
    ] * 3
    assert [v.state("pr") for v in states.values() if v][-2:] == ["questionable", "valid"]


def test_bad_bedside_entries_are_located() -> None:
    assert problems(artefacts=[{"quantity": "sbp", "at_min": 1, "state": "invalid"}])[0].startswith(
        "vitals.artefacts[0].quantity: "
    )
    assert (
        "vitals.artefacts[0].state: "
        in problems(artefacts=[{"quantity": "nibp", "at_min": 1, "state": "bogus"}])[0]
    )
    assert problems(extra_cuffs=[{"at_min": 3, "sbp": 400}])[0].startswith(
        "vitals.extra_cuffs[0].sbp: "
    )


@pytest.mark.parametrize(
    ("ack", "where"),
    [
        ({"at_min": 11, "by": "nurse.kim"}, "acks[0].at_min"),
        ({"at_min": 1, "by": "no spaces"}, "acks[0].by"),
        ({"at_min": 1, "rule": "Hypertension!"}, "acks[0].rule"),
    ],
)
def test_acks_are_validated(ack: dict[str, Any], where: str) -> None:
    data = {"name": "t", "description": "d", "duration_min": 10, "acks": [ack]}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_dump(data))
    assert [p.split(":")[0] for p in caught.value.problems] == [where]


def polled(timeline: Timeline, at_min: float) -> VitalsReading:
    """The first reading the real IntelliVue driver makes of the monitor at ``at_min``."""
    monitor = IntelliVueBedMonitor(timeline)
    host = IntelliVueConversation(DeviceTarget("mon-1", "bed-1"))
    bench = Bench(host, monitor, 1.0, start_s=at_min * MIN)
    bench.open()
    bench.run_until(lambda: len(bench.readings) >= 1)
    reading = bench.readings[0]
    assert isinstance(reading, VitalsReading)
    return reading


def states(reading: VitalsReading) -> dict[str, tuple[str, float | None]]:
    return {o.code: (o.state, o.value) for o in reading.observations}


@pytest.mark.parametrize("state", ["questionable", "invalid"])
def test_intellivue_sends_the_flag_and_the_driver_decodes_it(state: str) -> None:
    timeline = bedside(
        extra_cuffs=[{"at_min": 10, "sbp": 190, "dbp": 115}],
        artefacts=[
            {"quantity": "nibp", "at_min": 10, "state": state},
            {"quantity": "spo2", "at_min": 9, "until_min": 11, "state": state},
        ],
    )
    got = states(polled(timeline, 10.2))
    value = {"questionable": 190.0, "invalid": None}[state]
    assert got[SYS] == (state, value)
    assert got[DIA][0] == got[MEAN][0] == state
    assert got[SPO2] == (state, 98.0 if state == "questionable" else None)
    assert got[HR] == ("valid", 72.0)
    clean = states(polled(timeline, 15.2))  # the next cuff is clean again
    assert (clean[SYS], clean[SPO2]) == (("valid", 120.0), ("valid", 98.0))


def test_textline_sends_an_invalid_value_as_no_value() -> None:
    timeline = bedside(
        artefacts=[
            {"quantity": "nibp", "at_min": 0, "state": "invalid"},
            {"quantity": "hr", "at_min": 0, "until_min": 1, "state": "invalid"},
            {"quantity": "spo2", "at_min": 0, "until_min": 1, "state": "questionable"},
        ]
    )
    (line,) = TextLineFramer().feed(TextLineDevice(timeline).tick(SimTime(0.0, 30.0)))
    assert isinstance(line, LineFrame)
    fields = dict(line.fields)
    assert (fields["SBP"], fields["DBP"], fields["MAP"], fields["HR"], fields["PR"]) == ("-",) * 5
    assert fields["SPO2"] == "98"  # no quality flag in the format: questionable goes as is

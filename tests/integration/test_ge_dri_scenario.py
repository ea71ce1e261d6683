"""The alarm scenarios with a GE monitor (``ge_dri``, DRI records every 5 s) in place of the
IntelliVue (virtual time): the hypertensive responder's cuffs raise hypertension medium, then
high, because each cuff keeps one stamp across the many records that repeat it; the other
scenarios where the monitor matters give the IntelliVue's alarms, the unplugged monitor's
``device_offline`` on the GE driver's own timing floor."""

from __future__ import annotations

from datetime import datetime

import pytest

from drivers.sim.timeline import Nibp
from tests.scenario_harness import BED, MONITOR, WALL0, BedSimulation, pump_id

pytestmark = pytest.mark.integration

PUMP = pump_id("11")
PERIOD_S = 5.0  # the GE driver's default displayed-values period
RESEND_S = 15.0  # its default resend_after_s


def ge_bed(name: str) -> BedSimulation:
    """The shipped scenario ``name`` with its monitor read by ``ge_dri`` (default options;
    ``timeout_s`` 20 s, the driver's floor: ``resend_after_s`` + ``period_s``)."""
    return BedSimulation.of(name, monitor_driver="ge_dri")


def transitions(simulation: BedSimulation) -> list[tuple[str, str | None, str, str]]:
    return [
        (e.alarm.rule, e.alarm.device_id, e.transition, e.alarm.priority)
        for _, e in simulation.alarm_events()
    ]


def seconds(at: datetime) -> float:
    return (at - WALL0).total_seconds()


def test_hypertensive_responder_with_a_ge_monitor() -> None:
    simulation = ge_bed("hypertensive-responder")
    simulation.run()
    assert transitions(simulation) == [
        ("hypertension", MONITOR, "raised", "medium"),
        ("hypertension", MONITOR, "escalated", "medium"),
        ("hypertension", MONITOR, "priority_raised", "high"),
        ("hypertension", MONITOR, "escalated", "high"),
        ("hypertension", MONITOR, "latched", "high"),
    ]
    vitals = simulation.vitals_readings()
    assert len(vitals) > 100
    stamps = {
        obs.ts
        for reading in vitals
        for obs in reading.observations
        if obs.code == "MDC_PRESS_BLD_NONINV_SYS" and obs.ts is not None
    }
    scenario_vitals = simulation.scenario.vitals
    assert scenario_vitals is not None
    cuffs = {
        nibp.measured_at_s
        for k in range(
            int(simulation.scenario.duration_min * 60 // scenario_vitals.nibp_interval_s) + 1
        )
        if isinstance(nibp := simulation.timeline.nibp(k * scenario_vitals.nibp_interval_s), Nibp)
    }
    # one stamp per cuff, however many records repeat it; the first cuff, on the display when
    # the link opened, has none (its measurement time is unknown to the link)
    assert len(stamps) == len(cuffs) - 1
    assert all(r.value("MDC_TEMP_BODY") == 36.8 for r in vitals[:10])


SAME_AS_INTELLIVUE = {
    "normal-ketamine": [],  # a normal session raises nothing
    "rise-over-baseline": [
        ("hypertension", MONITOR, "raised", "medium"),
        ("hypertension", MONITOR, "acknowledged", "medium"),
        ("hypertension", MONITOR, "ended", "medium"),
    ],
    "desaturation": [
        ("spo2_low", MONITOR, "raised", "medium"),
        ("spo2_low", MONITOR, "priority_raised", "high"),
        ("spo2_low", MONITOR, "escalated", "high"),
        ("spo2_low", MONITOR, "latched", "high"),
        ("spo2_low", MONITOR, "acknowledged", "high"),
    ],
}
"""Scenarios whose alarms do not depend on the monitor's protocol, and those alarms."""


@pytest.mark.parametrize("name", sorted(SAME_AS_INTELLIVUE))
def test_the_alarm_scenarios_raise_the_same_alarms_with_a_ge_monitor(name: str) -> None:
    ge = ge_bed(name)
    ge.run()
    intellivue = BedSimulation.of(name)
    intellivue.run()

    assert transitions(ge) == SAME_AS_INTELLIVUE[name] == transitions(intellivue)
    assert len(ge.vitals_readings()) >= ge.scenario.duration_min * 60 / PERIOD_S - 5
    assert {s.driver for s in ge.states if s.device_id == MONITOR} == {"ge_dri"}


def test_monitor_unplugged_with_a_ge_monitor_goes_offline_after_its_timeout() -> None:
    """The GE port gone for 30 s at minute 15: ``device_offline`` once the monitor has been
    silent for its timeout (20 s, the driver's floor, where the IntelliVue's is 10 s), ended
    by the first record once the port is back: the driver asks again on open and the monitor
    answers with a record at once."""
    simulation = ge_bed("monitor-unplugged")
    simulation.run()
    unplugged, back = 15 * 60, 15 * 60 + 30
    timeout = simulation.device(MONITOR).timeout_s
    assert timeout == RESEND_S + PERIOD_S

    assert transitions(simulation) == [
        ("device_offline", MONITOR, "raised", "medium"),
        ("device_offline", MONITOR, "ended", "medium"),
        ("pump_end_of_volume", PUMP, "raised", "medium"),
        ("pump_end_of_volume", PUMP, "ended", "medium"),
    ]
    raised, ended = (e for _, e in simulation.alarm_events("device_offline"))
    stamps = [seconds(r.ts) for r in simulation.vitals_readings()]
    last = max(t for t in stamps if t < unplugged)
    resumed = min(t for t in stamps if t > unplugged)
    assert unplugged - PERIOD_S <= last < unplugged
    assert timeout <= seconds(raised.at) - last < timeout + 1.0  # the engine's tick
    assert seconds(raised.at) < back  # the outage is longer than the timeout
    assert "during the infusion" in raised.alarm.message
    # the port is tried every second while it is missing; reopened, the request goes out
    # again and the record comes back within the same second
    assert back < resumed <= back + 2
    assert seconds(ended.at) == resumed
    assert ended.alarm.alarm_id == raised.alarm.alarm_id
    port = simulation.ports[f"sim://{BED}/monitor"]
    assert port.reconnects == 1
    assert port.failed_opens >= 1
    assert simulation.engine.active() == []

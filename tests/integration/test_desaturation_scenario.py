"""The desaturation scenario raises ``spo2_low`` medium, then high, at the times the rules
give, read through each vitals driver: a Masimo oximeter (``masimo_ascii``, a line a second),
a GE monitor (``ge_dri``, a record every 5 s) and the Philips IntelliVue (numerics every
second), end to end in the scenario harness (virtual time)."""

from __future__ import annotations

from datetime import datetime

import pytest

from edge.alarms.limits import AlarmLimits
from tests.scenario_harness import MONITOR, WALL0, BedSimulation

pytestmark = pytest.mark.integration

LIMITS = AlarmLimits()
SPO2 = "MDC_PULS_OXIM_SAT_O2"
PERIOD_S = {"masimo_ascii": 1.0, "ge_dri": 5.0, "intellivue": 1.0}
"""How often each monitor's simulator reports SpO2 (s)."""
FALLS_S, DEEPER_S, RECOVERS_S, ACK_S = 20 * 60, 21.5 * 60, 23 * 60, 24 * 60
"""The scenario's steps: SpO2 87 % at minute 20, 80 % at 21.5, 95 % at 23; the ack at 24."""


def seconds(at: datetime) -> float:
    return (at - WALL0).total_seconds()


def first_reading(simulation: BedSimulation, after_s: float, shows: str) -> float:
    """Scenario seconds of the first SpO2 reading at or after ``after_s`` that is below 90
    (``shows="medium"``), below 85 (``"high"``) or at least 92 (``"clear"``)."""
    lim = LIMITS.spo2_low

    def test(value: float) -> bool:
        if shows == "clear":
            return value >= lim.clear_at
        return value < (lim.medium_below if shows == "medium" else lim.high_below)

    return next(
        seconds(r.ts)
        for r in simulation.vitals_readings()
        if seconds(r.ts) >= after_s and (value := r.value(SPO2)) is not None and test(value)
    )


@pytest.mark.parametrize("driver", ["masimo_ascii", "ge_dri", "intellivue"])
def test_desaturation_raises_spo2_low_medium_then_high(driver: str) -> None:
    simulation = BedSimulation.of("desaturation", monitor_driver=driver)
    simulation.run()
    lim, period = LIMITS.spo2_low, PERIOD_S[driver]

    assert [
        (e.alarm.rule, e.alarm.device_id, e.transition, e.alarm.priority)
        for _, e in simulation.alarm_events()
    ] == [
        ("spo2_low", MONITOR, "raised", "medium"),
        ("spo2_low", MONITOR, "priority_raised", "high"),
        ("spo2_low", MONITOR, "escalated", "high"),
        ("spo2_low", MONITOR, "latched", "high"),
        ("spo2_low", MONITOR, "acknowledged", "high"),
    ]
    assert {s.driver for s in simulation.states if s.device_id == MONITOR} == {driver}
    raised, high, escalated, latched, acknowledged = (e for _, e in simulation.alarm_events())
    # each level once its condition has lasted its delay, from the first reading showing it
    # (within one report of the step); never before
    below_90 = first_reading(simulation, FALLS_S - 60, "medium")
    assert FALLS_S <= below_90 <= FALLS_S + period
    assert lim.medium_delay_s <= seconds(raised.at) - below_90 <= lim.medium_delay_s + period
    assert (raised.alarm.value, raised.alarm.limit) == (87, lim.medium_below)
    below_85 = first_reading(simulation, FALLS_S, "high")
    assert DEEPER_S <= below_85 <= DEEPER_S + period
    assert lim.high_delay_s <= seconds(high.at) - below_85 <= lim.high_delay_s + period
    assert high.alarm.alarm_id == raised.alarm.alarm_id  # one episode
    assert (high.alarm.value, high.alarm.limit) == (80, lim.high_below)
    assert LIMITS.escalation.high_s <= seconds(escalated.at) - seconds(high.at) < 61
    # back >= 92 % for 10 s: the condition ends, the high alarm stays shown until the ack
    back = first_reading(simulation, DEEPER_S, "clear")
    assert RECOVERS_S <= back <= RECOVERS_S + period
    assert lim.clear_hold_s <= seconds(latched.at) - back <= lim.clear_hold_s + period
    assert seconds(acknowledged.at) == ACK_S
    assert acknowledged.alarm.state == "ended"
    assert simulation.engine.active() == []

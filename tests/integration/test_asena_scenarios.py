"""The pump-programming scenarios with an Alaris Asena in place of the B. Braun rack: the alarm
engine needs nothing per brand, so a bed shows the same alarms, in the same order, at about
the same times (each pump polled by its own driver's period), in virtual time."""

from __future__ import annotations

import pytest

from drivers.alaris_asena.driver import DEFAULT_POLL_PERIOD_S
from tests.scenario_harness import KETAMINE_ORDER, WALL0, BedSimulation, pump_id

pytestmark = pytest.mark.integration

PUMP = pump_id("11")
BCC_POLL_S = 5.0


def run(name: str, pump_driver: str) -> BedSimulation:
    simulation = BedSimulation.of(name, KETAMINE_ORDER, pump_driver=pump_driver)
    simulation.run()
    return simulation


def alarms(simulation: BedSimulation) -> list[tuple[str, str | None, str, str, float]]:
    """Every alarm transition as (rule, device, transition, priority, scenario s)."""
    return [
        (
            e.alarm.rule,
            e.alarm.device_id,
            e.transition,
            e.alarm.priority,
            (e.at - WALL0).total_seconds(),
        )
        for _, e in simulation.alarm_events()
    ]


@pytest.mark.parametrize(
    ("scenario", "rules"),
    [
        ("pump-under-delivering", {"rate_deviation", "pump_end_of_volume"}),
        ("pump-ten-times-too-fast", {"setpoint_mismatch", "pump_end_of_volume"}),
    ],
)
def test_an_asena_shows_the_same_alarms_as_a_bbraun(scenario: str, rules: set[str]) -> None:
    bbraun = alarms(run(scenario, "bbraun_bcc"))
    asena_run = run(scenario, "alaris_asena")
    asena = alarms(asena_run)

    assert [a[:4] for a in asena] == [b[:4] for b in bbraun]
    assert {a[0] for a in asena} == rules
    assert all(a[1] == PUMP for a in asena)
    # each transition within a poll or two of the B. Braun's (other reading times)
    slack = BCC_POLL_S + 2 * DEFAULT_POLL_PERIOD_S
    for a, b in zip(asena, bbraun, strict=True):
        assert abs(a[4] - b[4]) <= slack, (a, b)
    readings = asena_run.pump_readings()
    assert len(readings) >= asena_run.scenario.duration_min * 60 / DEFAULT_POLL_PERIOD_S - 3
    assert all(r.pump.drug == "syringe BD PLASTIPAK 50 mL" for r in readings)
    assert all(r.value("X_ALARIS_PRESS_LINE") is not None for r in readings)
    for port in asena_run.ports.values():
        assert (port.frames_bad, port.reconnects) == (0, 0), port.port
    raised = next(e for _, e in asena_run.alarm_events() if e.transition == "raised")
    if raised.alarm.rule == "rate_deviation":
        assert raised.alarm.value is not None
        assert -33 <= raised.alarm.value <= -27  # 36.75 against 52.5 mL/h
    else:
        assert raised.alarm.value == pytest.approx(900)  # 525 against 52.5 mL/h

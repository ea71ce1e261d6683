"""Artefacts, extra cuffs and acknowledgements of a scenario, end to end in virtual time.

The rise-over-baseline scenario through :mod:`tests.scenario_harness` (simulated IntelliVue
monitor and B. Braun rack, real drivers, real alarm engine, one virtual clock):

- the cuff at minute 39 (about +45 systolic over the session's baseline, under 160/100)
  raises medium ``hypertension`` by the rise rule alone;
- the scenario's ``acks`` entry acknowledges it at minute 40 through a signed command that the
  edge's verifier accepts, as a dashboard's would be;
- the extra cuff at minute 21.5 (190/115) is flagged ``invalid`` by the monitor: the driver
  gives it no value and nothing is raised. Flagged ``questionable`` instead, it keeps its value
  and raises medium ``hypertension``: the engine judges questionable values (the monitor
  doubts them, the nurse checks; an unheard real 190/115 is the worse error) and never invalid
  ones.
"""

from __future__ import annotations

from typing import Any

import pytest

from edge.publish.ack_signing import Verdict
from tests.scenario_harness import SCENARIO_DASHBOARD, BedSimulation

pytestmark = pytest.mark.integration

SYS = "MDC_PRESS_BLD_NONINV_SYS"


def run(edit: Any = None, until_min: float = 45) -> BedSimulation:
    simulation = BedSimulation.of("rise-over-baseline", edit=edit)
    simulation.run_until(until_min)
    return simulation


def cuff_states(simulation: BedSimulation) -> set[tuple[str, float | None]]:
    return {
        (o.state, o.value)
        for r in simulation.vitals_readings()
        for o in r.observations
        if o.code == SYS and o.ts is not None and 21.4 < simulation.scenario_minute(o.ts) < 21.6
    }


def test_the_rise_over_baseline_alone_raises_hypertension_and_the_nurse_acknowledges() -> None:
    simulation = run()

    assert simulation.summary() == [
        (39.0, "hypertension", "monitor-1", "raised", "medium"),
        (40.0, "hypertension", "monitor-1", "acknowledged", "medium"),
    ]
    raised, acknowledged = (event for _, event in simulation.alarm_events())
    assert "over the baseline" in raised.alarm.message, raised.alarm.message
    assert raised.alarm.value is not None
    assert raised.alarm.value < 160
    assert (acknowledged.alarm.acknowledged_by, acknowledged.alarm.acknowledged_via) == (
        "nurse.kim",
        SCENARIO_DASHBOARD,
    )
    assert simulation.acks == [(40 * 60.0, raised.alarm.alarm_id, Verdict.ACCEPTED)]
    # the invalid 190/115 at minute 21.5 reached the engine without a value
    assert cuff_states(simulation) == {("invalid", None)}
    # the extra cuff at minute 40.5 was measured and read
    assert any(
        o.code == SYS and o.ts is not None and abs(simulation.scenario_minute(o.ts) - 40.5) < 0.01
        for r in simulation.vitals_readings()
        for o in r.observations
    )


def questionable(data: dict[str, Any]) -> None:
    data["vitals"]["artefacts"][0]["state"] = "questionable"


def test_a_questionable_high_cuff_is_judged() -> None:
    simulation = run(questionable, until_min=25)

    assert cuff_states(simulation) == {("questionable", 190.0)}
    assert simulation.summary() == [
        (21.5, "hypertension", "monitor-1", "raised", "medium"),
        (24.0, "hypertension", "monitor-1", "ended", "medium"),  # the next cuff is back to 121
    ]

"""The hypertensive-responder scenario with a GE monitor (``ge_dri``, DRI records every 5 s)
in place of the IntelliVue: the same cuffs raise hypertension medium, then high, because
each cuff keeps one stamp across the many records that repeat it (virtual time)."""

from __future__ import annotations

import pytest

from drivers.sim.timeline import Nibp
from edge.config import Config
from tests.scenario_harness import MONITOR, BedSimulation, bed_config, shipped_scenario

pytestmark = pytest.mark.integration


def ge_bed(name: str) -> BedSimulation:
    scenario = shipped_scenario(name)
    data = bed_config(scenario).model_dump(mode="json")
    for device in data["devices"]:
        if device["id"] == MONITOR:
            device.update(driver="ge_dri", options={}, timeout_s=25)
    return BedSimulation(scenario, Config.model_validate(data))


def test_hypertensive_responder_with_a_ge_monitor() -> None:
    simulation = ge_bed("hypertensive-responder")
    simulation.run()
    transitions = [
        (e.alarm.rule, e.alarm.device_id, e.transition, e.alarm.priority)
        for _, e in simulation.alarm_events("hypertension")
    ]
    assert transitions == [
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

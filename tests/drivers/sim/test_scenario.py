"""The scenario model: shipped files load, bad ones fail with every problem located."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drivers.sim.faults import Occlusion, RateDrift
from drivers.sim.programs import Start
from drivers.sim.scenario import (
    Scenario,
    ScenarioError,
    format_location,
    load_scenario,
    parse_scenario,
)
from drivers.sim.timeline import Timeline

SCENARIOS = Path(__file__).resolve().parents[3] / "config" / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))

MINIMAL = """
name: t
description: a test
duration_min: 60
vitals:
  hr: {baseline: 72}
  spo2: {baseline: 98}
  rr: {baseline: 14}
  sbp: {baseline: 120}
  dbp: {baseline: 80}
pumps:
  - slot: "11"
    program:
      - {at_min: 5, action: start, rate_ml_h: 52.5, vtbi_ml: 35}
"""


def with_changes(**changes: object) -> str:
    data = yaml.safe_load(MINIMAL)
    data.update(changes)
    return yaml.safe_dump(data)


def problems(text: str) -> tuple[str, ...]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    return caught.value.problems


def test_the_six_required_scenarios_are_shipped() -> None:
    names = {path.stem for path in SHIPPED}
    assert names >= {
        "normal-ketamine",
        "hypertensive-responder",
        "pump-ten-times-too-fast",
        "pump-under-delivering",
        "occlusion",
        "monitor-unplugged",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_every_shipped_scenario_loads_and_evaluates(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    timeline = Timeline(scenario)
    for minute in range(0, int(scenario.duration_min) + 1, 5):
        assert timeline.vitals(minute * 60.0) is not None
        assert timeline.pumps(minute * 60.0)


def test_minimal_scenario_defaults() -> None:
    scenario = parse_scenario(MINIMAL)
    assert isinstance(scenario, Scenario)
    assert scenario.vitals is not None
    assert scenario.vitals.nibp_interval_s == 300
    (pump,) = scenario.pumps
    assert pump.kvo_rate_ml_h == 1.0
    assert pump.program == (Start(action="start", at_min=5, rate_ml_h=52.5, vtbi_ml=35),)
    assert scenario.pump("11") is pump


def test_faults_are_tagged_by_kind() -> None:
    text = with_changes(
        faults=[
            {"kind": "occlusion", "at_min": 10, "duration_s": 60},
            {"kind": "rate_drift", "at_min": 5, "factor": 0.7, "slot": "11"},
        ]
    )
    occlusion, drift = parse_scenario(text).faults
    assert isinstance(occlusion, Occlusion)
    assert occlusion.end_s == 660
    assert isinstance(drift, RateDrift)
    assert drift.end_s == float("inf")


def test_patient_data_has_no_place() -> None:
    assert problems(with_changes(patient={"weight_kg": 70})) == ("patient: unknown key",)


def test_field_errors_are_located() -> None:
    text = with_changes(
        pumps=[{"slot": "11", "program": [{"at_min": 5, "action": "start", "rate_ml_h": -1}]}],
        faults=[{"kind": "garbage", "at_min": 1, "every_s": 0}],
    )
    found = problems(text)
    assert "pumps[0].program[0].rate_ml_h: Input should be greater than 0" in found
    assert "faults[0].every_s: Input should be greater than or equal to 0.01" in found


def test_unknown_fault_kind() -> None:
    (problem,) = problems(with_changes(faults=[{"kind": "fire", "at_min": 1}]))
    assert problem.startswith("faults[0]: Input tag 'fire' found using 'kind' does not match")


def test_bad_slot() -> None:
    (problem,) = problems(with_changes(pumps=[{"slot": "41"}]))
    assert problem.startswith("pumps[0].slot: String should match pattern")


def test_cross_checks_are_located() -> None:
    text = with_changes(
        pumps=[{"slot": "11"}, {"slot": "11", "program": [{"at_min": 99, "action": "stop"}]}],
        faults=[{"kind": "stall", "at_min": 1, "slot": "12"}, {"kind": "silence", "at_min": 61}],
    )
    assert problems(text) == (
        "pumps[1].slot: slot 11 is used twice",
        "pumps[1].program[0].at_min: 99 is after the end (60 min)",
        "faults[0].slot: no pump in slot 12",
        "faults[1].at_min: 61 is after the end",
    )


def test_pump_fault_without_pumps() -> None:
    text = with_changes(pumps=[], faults=[{"kind": "occlusion", "at_min": 1}])
    assert problems(text) == ("faults[0].kind: occlusion needs a pump; the scenario has none",)


def test_track_changes() -> None:
    vitals = yaml.safe_load(MINIMAL)["vitals"]
    vitals["sbp"]["changes"] = [
        {"at_min": 5, "until_min": 30, "by": 16},
        {"at_min": 20, "to": 130},
        {"at_min": 40, "to": 120, "by": 3},
        {"at_min": 50, "until_min": 45, "to": 120},
        {"at_min": 60, "to": 400},
    ]
    found = problems(with_changes(vitals=vitals))
    assert (
        "vitals.sbp.changes[2]: give exactly one of `to` (a value) or `by` (from the baseline)"
        in found
    )
    assert "vitals.sbp.changes[3]: until_min must be after at_min" in found
    vitals["sbp"]["changes"] = vitals["sbp"]["changes"][:2]
    assert problems(with_changes(vitals=vitals)) == (
        "vitals.sbp.changes[1].at_min: 20 starts before changes[0] ends (30); changes must "
        "not overlap",
    )


def test_implausible_values() -> None:
    vitals = yaml.safe_load(MINIMAL)["vitals"]
    vitals["spo2"] = {"baseline": 101}
    vitals["sbp"]["changes"] = [{"at_min": 1, "by": 200}]
    assert problems(with_changes(vitals=vitals)) == (
        "vitals.spo2.baseline: 101 % is outside 50-100",
        "vitals.sbp.changes[0]: 320 mmHg is outside 40-300",
    )


def test_events_in_time_order() -> None:
    program = [{"at_min": 10, "action": "stop"}, {"at_min": 5, "action": "stop"}]
    (problem,) = problems(with_changes(pumps=[{"program": program}]))
    assert problem == "pumps[0].program[1].at_min: events must be in time order"


def test_yaml_syntax_error_has_a_line() -> None:
    (problem,) = problems("name: t\n  description: [oops\n")
    assert problem.startswith("line 2, column ")


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    assert problems("- 1\n- 2\n") == ("a scenario is a mapping (name, description, ...)",)
    with pytest.raises(ScenarioError, match="cannot read") as caught:
        load_scenario(tmp_path / "none.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'none.yaml'}: 1 error\n  ")


def test_format_location_hides_union_tags() -> None:
    assert format_location(("faults", 2, "occlusion", "duration_s")) == "faults[2].duration_s"
    assert format_location(("pumps", 0, "program", 1, "start", "rate_ml_h")) == (
        "pumps[0].program[1].rate_ml_h"
    )
    assert format_location(("vitals", "hr", "baseline")) == "vitals.hr.baseline"

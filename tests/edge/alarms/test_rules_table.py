"""The rule table: every rule of DESIGN.md, every limit it names exists, defaults as designed."""

from __future__ import annotations

import dataclasses

import pytest

from edge.alarms.limits import AlarmLimits
from edge.alarms.rules import RULES, Rule, rule_named

DESIGN_RULES = {
    "rate_deviation", "setpoint_mismatch", "pump_occlusion", "pump_air_in_line",
    "pump_end_of_volume", "hypertension", "spo2_low", "hr_abnormal", "rr_abnormal",
    "device_offline", "link_errors", "storage_fault",
}  # fmt: skip

# (rule, priority) -> [(delay s, hold s)] with DESIGN.md's defaults
DESIGN_TIMING = {
    ("rate_deviation", "medium"): [(300, 120)],
    ("rate_deviation", "high"): [(60, 120), (0, 120)],
    ("setpoint_mismatch", "high"): [(0, 0)],
    ("pump_occlusion", "high"): [(0, 0)],
    ("pump_air_in_line", "high"): [(0, 0)],
    ("pump_end_of_volume", "medium"): [(0, 0)],
    ("hypertension", "medium"): [(0, 0)],
    ("hypertension", "high"): [(0, 0)],
    ("spo2_low", "medium"): [(15, 10)],
    ("spo2_low", "high"): [(10, 10)],
    ("hr_abnormal", "medium"): [(300, 60)],
    ("hr_abnormal", "high"): [(30, 60)],
    ("rr_abnormal", "medium"): [(30, 60)],
    ("rr_abnormal", "high"): [(30, 60)],
    ("device_offline", "low"): [(0, 0)],
    ("device_offline", "medium"): [(0, 0)],
    ("link_errors", "low"): [(60, 60)],
    ("storage_fault", "low"): [(0, 0)],
}


def test_every_design_rule_is_in_the_table_once() -> None:
    names = [rule.name for rule in RULES]
    assert sorted(names) == sorted(DESIGN_RULES)
    assert all(rule_named(name) is not None for name in names)
    assert rule_named("nope") is None


def test_timings_and_priorities_are_design_defaults() -> None:
    limits = AlarmLimits()
    timing: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for rule in RULES:
        section = rule.limits(limits)
        for level in rule.levels:
            key = (rule.name, level.priority_in(section))
            timing.setdefault(key, []).append((level.delay_s(section), level.hold_s(section)))
    assert timing == DESIGN_TIMING


def test_only_the_data_path_is_technical() -> None:
    technical = {rule.name for rule in RULES if rule.kind == "technical"}
    assert technical == {"device_offline", "link_errors", "storage_fault"}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_limit_a_level_names_exists(rule: Rule) -> None:
    section = rule.limits(AlarmLimits())
    for level in rule.levels:
        judge = level.judge
        named = [
            getattr(judge, f.name)
            for f in dataclasses.fields(judge)  # type: ignore[arg-type]
            if f.name not in ("flag", "message") and isinstance(getattr(judge, f.name), str)
        ]
        named += [v for v in (level.delay, level.hold, level.priority_field) if isinstance(v, str)]
        for name in named:
            assert hasattr(section, name), f"{rule.name}: {name} is not a limit"


def test_a_level_has_exactly_one_priority_source() -> None:
    level = RULES[0].levels[0]
    with pytest.raises(ValueError, match="priority"):
        dataclasses.replace(level, priority_field="priority_idle")

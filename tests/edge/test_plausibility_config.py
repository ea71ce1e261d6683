"""The ``plausibility`` config section (overrides merged over the default table, every mistake
located) and the per-device count with its rate-limited warning."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pytest

from drivers.plausibility import PLAUSIBLE_RANGES, Implausible, PlausibleRange
from edge.config import load_config
from edge.plausibility import IMPLAUSIBLE_LOG_INTERVAL_S, ImplausibleCount, plausible_ranges
from tests.edge.test_config import minimal, problems, write

RATE = "MDC_FLOW_FLUID_PUMP"


def test_no_section_means_the_default_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()))
    assert config.plausibility == {}
    assert plausible_ranges(config.plausibility) == PLAUSIBLE_RANGES


def test_overrides_replace_the_bounds_given_and_keep_the_others(tmp_path: Path) -> None:
    section: dict[str, Any] = {
        RATE: {"max": 1800},  # a pump whose rates go higher
        "MDC_ECG_HEART_RATE": {"min": 0, "max": 300},
        "MDC_RATE_DOSE": {"max": 5000},
        "MDC_PULS_OXIM_SAT_O2": {"min": 50},
    }
    config = load_config(write(tmp_path, minimal(plausibility=section)))
    ranges = plausible_ranges(config.plausibility)
    assert ranges[RATE] == PlausibleRange(0, 1800)
    assert ranges["MDC_ECG_HEART_RATE"] == PlausibleRange(0, 300)
    assert ranges["MDC_RATE_DOSE"] == PlausibleRange(0, 5000)
    assert ranges["MDC_PULS_OXIM_SAT_O2"] == PlausibleRange(50, 100)
    assert ranges["MDC_PRESS_BLD_NONINV_SYS"] == PLAUSIBLE_RANGES["MDC_PRESS_BLD_NONINV_SYS"]


def test_an_unknown_code_is_located_with_a_suggestion(tmp_path: Path) -> None:
    found = problems(tmp_path, minimal(plausibility={"MDC_FLOW_FLUID_PUMPS": {"max": 900}}))
    assert list(found) == ["plausibility.MDC_FLOW_FLUID_PUMPS"]
    message = found["plausibility.MDC_FLOW_FLUID_PUMPS"]
    assert "unknown observation code 'MDC_FLOW_FLUID_PUMPS'" in message
    assert "did you mean 'MDC_FLOW_FLUID_PUMP'?" in message
    assert "MDC_PULS_OXIM_SAT_O2" in message  # the known codes are listed


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"min": 300, "max": 200}, "min (300) must be below max (200)"),
        ({"min": 150, "max": 150}, "min (150) must be below max (150)"),
        ({"min": 400}, "min (400) must be below max (350)"),  # against the default max
        ({"max": 0}, "min (0) must be below max (0)"),  # against the default min
    ],
)
def test_min_must_be_below_max_after_merging(
    tmp_path: Path, override: dict[str, float], expected: str
) -> None:
    found = problems(tmp_path, minimal(plausibility={"MDC_ECG_HEART_RATE": override}))
    assert list(found) == ["plausibility.MDC_ECG_HEART_RATE"]
    assert expected in found["plausibility.MDC_ECG_HEART_RATE"]


def test_bounds_must_be_finite_numbers_and_keys_known(tmp_path: Path) -> None:
    text = (
        "site: clinic\nedge_id: edge-1\n"
        "plausibility:\n"
        "  MDC_FLOW_FLUID_PUMP: {max: .inf}\n"
        "  MDC_VOL_FLUID_DELIV: {min: .nan}\n"
        "  MDC_RESP_RATE: {low: 2}\n"
        "  MDC_PULS_OXIM_SAT_O2: {max: lots}\n"
    )
    found = problems(tmp_path, text)
    assert set(found) == {
        "plausibility.MDC_FLOW_FLUID_PUMP.max",
        "plausibility.MDC_VOL_FLUID_DELIV.min",
        "plausibility.MDC_RESP_RATE.low",
        "plausibility.MDC_PULS_OXIM_SAT_O2.max",
    }
    assert "finite" in found["plausibility.MDC_FLOW_FLUID_PUMP.max"]
    assert "unknown key 'low'" in found["plausibility.MDC_RESP_RATE.low"]


def test_plausibility_problems_come_with_the_others_at_once(tmp_path: Path) -> None:
    data = minimal(plausibility={"HR": {"max": 300}, RATE: {"min": 5, "max": 1}})
    data["devices"][0]["port"] = ""  # a structural error elsewhere
    found = problems(tmp_path, data)
    assert {"devices[0].port", "plausibility.HR", f"plausibility.{RATE}"} <= set(found)


def test_the_count_logs_a_warning_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    count = ImplausibleCount("pump-1", "bed-1")
    context = {"session": "device[pump-1]"}
    with caplog.at_level(logging.DEBUG, logger="edge.plausibility"):
        count.add([Implausible(RATE, -500.0, "outside 0..1200")], 100.0, context)
        count.add([Implausible(RATE, -500.0, "outside 0..1200")] * 2, 130.0, context)
        count.add([Implausible(RATE, math.nan, "not a finite number")], 160.0, context)
    assert count.total == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [(w.__dict__["value"], w.__dict__["count"]) for w in warnings] == [
        ("-500.0", 1),
        ("nan", 3),  # the two in between are in the second line's count
    ]
    first = warnings[0].__dict__
    assert (first["device"], first["bed"], first["code"]) == ("pump-1", "bed-1", RATE)
    assert first["session"] == "device[pump-1]"
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 4
    assert IMPLAUSIBLE_LOG_INTERVAL_S == 60.0

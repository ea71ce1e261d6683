"""Vitals rules on timelines: hypertension, spo2_low, hr_abnormal, rr_abnormal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest

from edge.alarms.limits import AlarmLimits, HypertensionLimits
from tests.edge.alarms.timeline import (
    MONITOR,
    FakeClock,
    Reading,
    Run,
    engine_for,
    infusion,
    merged,
    monitor,
    vitals,
)


def run(limits: AlarmLimits | None = None) -> Run:
    """A chair with only its monitor declared (so a silent pump raises nothing)."""
    clock = FakeClock()
    return Run(engine_for(clock, limits=limits, devices=(MONITOR,)), clock)


def series(
    values: list[tuple[float, float]], field: Literal["hr", "spo2", "rr"]
) -> Iterator[tuple[float, Reading]]:
    """One reading a second of ``field``: each (until t, value) holds up to its time."""
    t = 0.0
    for until, value in values:
        while t < until:
            yield (
                t,
                vitals(
                    t,
                    hr=value if field == "hr" else None,
                    spo2=value if field == "spo2" else None,
                    rr=value if field == "rr" else None,
                ),
            )
            t += 1.0


def bp(*measurements: tuple[float, float, float], end: float = 3600) -> Run:
    """A monitor every 5 s carrying its latest NIBP ((t, systolic, diastolic) items)."""
    return run().feed(monitor(0, end, period=5, nibp=measurements))


# -- hypertension ------------------------------------------------------------------------------


def test_one_reading_over_160_is_medium_at_once() -> None:
    timeline = bp((300, 120, 80), (600, 165, 90))
    assert timeline.raised() == [(600, "hypertension", "medium")]
    alarm = timeline.alarm_events()[0].alarm
    assert (alarm.value, alarm.limit) == (165, 160)
    assert "165/90 mmHg" in alarm.message
    assert "160 mmHg" in alarm.message


def test_diastolic_over_100_is_medium() -> None:
    assert bp((600, 150, 102)).raised() == [(600, "hypertension", "medium")]


def test_high_needs_a_second_reading_within_5_minutes() -> None:
    timeline = bp((600, 185, 100), (780, 183, 98))
    assert timeline.raised() == [(600, "hypertension", "medium"), (780, "hypertension", "high")]
    high = timeline.alarm_events()[-1].alarm
    assert "confirmed by 185/100 mmHg 3 min before" in high.message


def test_an_unconfirmed_nibp_spike_is_never_high() -> None:
    # the monitor repeats the 185 mmHg measurement in every reading for 5 min: still one
    timeline = bp((600, 185, 100), (900, 140, 85))
    assert timeline.raised() == [(600, "hypertension", "medium")]
    assert [(t, tr) for t, tr, _, _ in timeline.alarms() if tr != "escalated"] == [
        (600, "raised"),
        (900, "ended"),
    ]


def test_two_high_readings_too_far_apart_are_not_confirmed() -> None:
    timeline = bp((600, 185, 100), (960, 185, 100))
    assert [p for _, _, p in timeline.raised()] == ["medium"]


def test_past_the_extreme_limit_is_high_at_once() -> None:
    timeline = bp((600, 205, 100))
    assert timeline.raised() == [(600, "hypertension", "high")]
    assert timeline.alarm_events()[0].alarm.limit == 200


def test_high_hypertension_latches_until_acknowledged() -> None:
    timeline = bp((600, 205, 100), (900, 140, 85), end=1000)
    assert [tr for _, tr, _, _ in timeline.alarms()] == ["raised", "escalated", "latched"]
    alarm_id = timeline.alarm_events()[0].alarm.alarm_id
    [event] = timeline.engine.acknowledge(alarm_id, "nurse.kim")
    assert event.alarm.state == "ended"


def test_a_pressure_hovering_at_the_limit_does_not_flap() -> None:
    hovering = [(600 + 300 * i, sys, 88) for i, sys in enumerate([161, 156, 160, 152, 159, 155])]
    timeline = bp(*hovering, (2400, 148, 90), end=2500)
    assert [tr for _, tr, _, _ in timeline.alarms()] == ["raised", "escalated", "ended"]
    assert timeline.alarms()[-1][0] == 2400


def test_a_rise_over_the_session_baseline_is_medium() -> None:
    nibp = [(60, 108, 70), (300, 112, 72), (900, 153, 80)]
    readings = merged(monitor(0, 1000, period=5, nibp=nibp), infusion(600, 1000))
    clock = FakeClock()
    timeline = Run(engine_for(clock, devices=()), clock).feed(readings)
    assert timeline.raised() == [(900, "hypertension", "medium")]
    alarm = timeline.alarm_events()[0].alarm
    assert alarm.limit == 150  # baseline 110 + 40
    assert "baseline 110" in alarm.message


def test_per_bed_limits_apply() -> None:
    limits = AlarmLimits(hypertension=HypertensionLimits(medium_systolic=170))
    timeline = run(limits).feed(monitor(0, 700, period=5, nibp=[(600, 165, 90)]))
    assert timeline.alarms() == []


# -- spo2_low ----------------------------------------------------------------------------------


def test_spo2_below_90_is_medium_after_15_seconds() -> None:
    timeline = run().feed(series([(10, 97), (60, 88)], "spo2"))
    assert timeline.raised() == [(25, "spo2_low", "medium")]


def test_spo2_below_85_is_high_after_10_seconds() -> None:
    timeline = run().feed(series([(10, 97), (60, 83)], "spo2"))
    assert timeline.raised() == [(20, "spo2_low", "high")]


def test_one_low_spo2_reading_raises_nothing() -> None:
    assert run().feed(series([(10, 97), (11, 80), (60, 97)], "spo2")).alarms() == []


def test_spo2_hovering_at_90_raises_nothing() -> None:
    hovering = [(t + 1, 89.5 if t % 10 < 9 else 90.5) for t in range(10, 300)]
    assert run().feed(series([(10, 97), *hovering], "spo2")).alarms() == []


def test_spo2_ends_after_10_seconds_at_or_above_92_and_not_in_the_band() -> None:
    timeline = run().feed(series([(10, 97), (40, 88), (100, 91), (130, 93), (200, 97)], "spo2"))
    assert [(t, tr) for t, tr, _, _ in timeline.alarms()] == [(25, "raised"), (110, "ended")]


# -- hr_abnormal -------------------------------------------------------------------------------


def test_heart_rate_over_120_is_medium_after_5_minutes() -> None:
    timeline = run().feed(series([(10, 80), (400, 125)], "hr"))
    assert timeline.raised() == [(310, "hr_abnormal", "medium")]


@pytest.mark.parametrize("hr", [150, 40])
def test_heart_rate_over_140_or_under_45_is_high_after_30_seconds(hr: float) -> None:
    timeline = run().feed(series([(10, 80), (100, hr), (300, 80)], "hr"))
    assert timeline.raised() == [(40, "hr_abnormal", "high")]
    assert timeline.alarms()[-1][:2] == (160, "latched")  # back in range for 60 s


def test_heart_rate_over_120_for_4_minutes_raises_nothing() -> None:
    assert run().feed(series([(10, 80), (250, 125), (600, 100)], "hr")).alarms() == []


def test_heart_rate_hovering_at_140_is_only_medium() -> None:
    hovering = [(t + 1, 141 if t % 20 < 19 else 139) for t in range(10, 400)]
    timeline = run().feed(series([(10, 80), *hovering], "hr"))
    assert timeline.raised() == [(310, "hr_abnormal", "medium")]


def test_pulse_rate_stands_in_for_a_missing_ecg() -> None:
    readings = [(float(t), vitals(t, pulse=150)) for t in range(60)]
    assert run().feed(readings).raised() == [(30, "hr_abnormal", "high")]


# -- rr_abnormal -------------------------------------------------------------------------------


def test_respiration_under_8_is_high_and_over_30_medium_after_30_seconds() -> None:
    low = run().feed(series([(10, 14), (100, 6)], "rr"))
    assert low.raised() == [(40, "rr_abnormal", "high")]
    high = run().feed(series([(10, 14), (100, 35), (200, 14)], "rr"))
    assert high.raised() == [(40, "rr_abnormal", "medium")]
    assert high.alarms()[-1][:2] == (160, "ended")  # in range 60 s; medium: no latch

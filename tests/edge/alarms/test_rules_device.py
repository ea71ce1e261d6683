"""Technical rules: device_offline (the session's wall clock) and link_errors."""

from __future__ import annotations

from edge.alarms.models import AlarmEvent
from edge.device_state import Connection, DeviceState
from tests.edge.alarms.timeline import (
    BED,
    MONITOR,
    PUMP,
    FakeClock,
    Run,
    at,
    engine_for,
    infusion,
    merged,
    monitor,
    vitals,
)


def run(devices: tuple[str, ...] = (MONITOR,)) -> Run:
    clock = FakeClock()
    return Run(engine_for(clock, devices=devices), clock)


def state(
    t: float,
    connection: Connection = "online",
    *,
    ok: int = 0,
    bad: int = 0,
    device: str = MONITOR,
    last: float | None = None,
) -> DeviceState:
    return DeviceState(
        device_id=device,
        bed=BED,
        driver="textline",
        connection=connection,
        since=at(t),
        last_reading_at=at(last) if last is not None else None,
        frames_ok=ok,
        frames_bad=bad,
        reconnects=0,
    )


# -- device_offline ----------------------------------------------------------------------------


def test_a_device_never_heard_is_offline_after_its_timeout() -> None:
    timeline = run()
    timeline.until(30)
    assert timeline.raised() == [(10, "device_offline", "low")]
    alarm = timeline.alarm_events()[0].alarm
    assert alarm.kind == "technical"
    assert (alarm.value, alarm.limit) == (10, 10)
    assert "No data from the device for 10 s (limit 10 s)" in alarm.message


def test_silence_after_data_is_low_then_ends_when_data_resumes_never_latching() -> None:
    timeline = run().feed(monitor(0, 100))
    timeline.until(200)
    timeline.feed(monitor(200, 210))
    assert [(t, tr, p) for t, tr, _, p in timeline.alarms()] == [
        (109, "raised", "low"),  # last reading at 99
        (200, "ended", "low"),
    ]


def test_silence_during_an_infusion_is_medium_and_escalates() -> None:
    timeline = run((PUMP, MONITOR)).feed(merged(infusion(0, 620), monitor(0, 300)))
    assert timeline.alarms() == [
        (309, "raised", "device_offline", "medium"),
        (609, "escalated", "device_offline", "medium"),
    ]
    assert timeline.alarm_events()[0].alarm.device_id == MONITOR
    assert "during the infusion" in timeline.alarm_events()[0].alarm.message


def test_an_infusion_starting_while_offline_breaks_through_to_medium() -> None:
    clock = FakeClock()
    timeline = Run(engine_for(clock, devices=(MONITOR,)), clock)
    timeline.feed(monitor(0, 50))
    timeline.until(100)
    timeline.feed(infusion(100, 120))
    assert timeline.raised() == [(59, "device_offline", "low"), (100, "device_offline", "medium")]
    [episode] = {e.alarm.alarm_id for e in timeline.alarm_events()}
    assert episode.startswith(f"{BED}.{MONITOR}.device_offline.")


def test_offline_from_the_session_raises_at_once_for_a_device_heard_before() -> None:
    timeline = run().feed(monitor(0, 5))
    timeline.until(7)
    events = timeline.engine.on_device_state(state(7, "offline", last=4))
    assert [(e.transition, e.alarm.rule) for e in events if isinstance(e, AlarmEvent)] == [
        ("raised", "device_offline")
    ]


def test_offline_from_the_session_at_start_up_waits_for_the_timeout() -> None:
    timeline = run()
    assert timeline.engine.on_device_state(state(0, "offline")) == []
    timeline.until(9)
    assert timeline.alarms() == []
    timeline.until(10)
    assert timeline.raised() == [(10, "device_offline", "low")]


def test_a_device_seen_only_in_readings_is_tracked_too() -> None:
    timeline = run(devices=())
    timeline.feed([(0, vitals(0, hr=70, device="monitor-9"))])
    timeline.until(20)
    assert timeline.raised() == [(10, "device_offline", "low")]


# -- link_errors -------------------------------------------------------------------------------


def counters(timeline: Run, start: float, end: float, bad_pct: float, ok0: int = 0) -> int:
    """A DeviceState every 5 s with 20 frames a second, ``bad_pct`` of them bad."""
    ok, bad, t = ok0, 0, start
    while t < end:
        timeline.until(t)
        timeline.feed([(t, vitals(t, hr=70))])
        timeline.events += [
            (t, e) for e in timeline.engine.on_device_state(state(t, ok=ok, bad=bad))
        ]
        ok += round(100 * (1 - bad_pct / 100))
        bad += round(100 * bad_pct / 100)
        t += 5
    return ok


def test_more_than_5_percent_bad_frames_for_a_minute_is_low_then_ends_under_1_percent() -> None:
    timeline = run()
    ok = counters(timeline, 0, 60, 0)
    counters(timeline, 60, 300, 10, ok0=ok)
    raised = timeline.raised()
    assert [(r, p) for _, r, p in raised] == [("link_errors", "low")]
    # over 5 % once half the 60 s window is bad (~95 s), then the 60 s delay
    assert 150 <= raised[0][0] <= 160
    alarm = timeline.alarm_events()[0].alarm
    assert alarm.kind == "technical"
    assert alarm.limit == 5
    timeline2 = run()
    ok = counters(timeline2, 0, 200, 10)
    counters(timeline2, 200, 400, 0.5, ok0=ok)
    ended = [t for t, tr, _, _ in timeline2.alarms() if tr == "ended"]
    assert len(ended) == 1
    assert 260 <= ended[0] <= 330  # the window drains, then 60 s under 1 %


def test_3_percent_bad_frames_raises_nothing() -> None:
    timeline = run()
    counters(timeline, 0, 600, 3)
    assert timeline.alarms() == []

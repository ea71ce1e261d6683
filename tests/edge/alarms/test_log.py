"""The alarm log on a real SQLite file: every transition kept; restart without raising twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.alarms.engine import AlarmEngine
from edge.alarms.log import AlarmLog
from edge.alarms.models import AlarmEvent, SessionEvent
from tests.edge.alarms.timeline import (
    MONITOR,
    PUMP,
    FakeClock,
    Run,
    engine_for,
    infusion,
    merged,
    monitor,
    vitals,
)


def log_all(log: AlarmLog, timeline: Run) -> None:
    log.append(e for _, e in timeline.events)


def spo2_run(clock: FakeClock, engine: AlarmEngine, start: int, end: int, value: float) -> Run:
    timeline = Run(engine, clock)
    timeline.feed((float(t), vitals(t, spo2=value)) for t in range(start, end))
    return timeline


def test_every_transition_is_kept_in_order_and_survives_reopening(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,))
    timeline = spo2_run(clock, engine, 0, 100, 80)
    timeline.feed((float(t), vitals(t, spo2=97)) for t in range(100, 130))
    path = tmp_path / "var" / "alarms.sqlite"
    with AlarmLog(path) as log:
        log_all(log, timeline)
    with AlarmLog(path) as log:
        logged = log.events()
        assert [e.event.transition for e in logged] == ["raised", "escalated", "latched"]
        assert [e.seq for e in logged] == [1, 2, 3]
        assert [e.seq for e in log.events(after=2)] == [3]
        assert logged[0].event == timeline.alarm_events()[0]
        alarm_id = logged[0].event.alarm.alarm_id
        assert [e.transition for e in log.history(alarm_id)] == ["raised", "escalated", "latched"]
        assert [a.state for a in log.open_alarms()] == ["latched"]
        # the acknowledgement ends it: nothing left open
        log.append(engine.acknowledge(alarm_id, "nurse.kim"))
        assert log.open_alarms() == []
        assert log.history(alarm_id)[-1].alarm.acknowledged_by == "nurse.kim"


def test_the_file_is_wal_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "alarms.sqlite"
    with AlarmLog(path) as log:
        assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        db.close()


def test_an_unknown_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alarms.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=7")
    db.close()
    with pytest.raises(RuntimeError, match="schema 7"):
        AlarmLog(path)


def test_a_failed_append_writes_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    timeline = spo2_run(clock, engine_for(clock, devices=(MONITOR,)), 0, 20, 80)
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        events: list[object] = [*timeline.alarm_events(), "not an event"]
        with pytest.raises(AttributeError):
            log.append(events)  # type: ignore[arg-type]
        assert log.events() == []


def test_restored_alarms_are_not_raised_a_second_time(tmp_path: Path) -> None:
    path = tmp_path / "alarms.sqlite"
    clock = FakeClock()
    first = engine_for(clock, devices=(MONITOR,))
    before = spo2_run(clock, first, 0, 30, 86)  # medium, active
    with AlarmLog(path) as log:
        log_all(log, before)
    # restart: a new engine, the same clock going on
    with AlarmLog(path) as log:
        second = engine_for(clock, devices=(MONITOR,))
        second.restore(log.open_alarms(), log.sessions())
        assert second.active() == first.active()
        after = spo2_run(clock, second, 30, 60, 86)
        assert after.alarms() == []  # still low: nothing new
        after.feed((float(t), vitals(t, spo2=97)) for t in range(60, 80))
        [ended] = after.alarm_events()
        assert (ended.transition, ended.alarm.alarm_id) == ("ended", first.active()[0].alarm_id)
        log_all(log, after)
        assert log.open_alarms() == []


def test_a_restored_alarm_can_be_acknowledged_and_escalates_from_its_raise(tmp_path: Path) -> None:
    clock = FakeClock()
    first = engine_for(clock, devices=(MONITOR,))
    spo2_run(clock, first, 0, 12, 80)  # high, raised at 10
    second = engine_for(clock, devices=(MONITOR,))
    second.restore(first.active())
    timeline = spo2_run(clock, second, 12, 100, 80)
    assert timeline.alarms() == [(70, "escalated", "spo2_low", "high")]
    [event] = second.acknowledge(second.active()[0].alarm_id, "nurse.kim")
    assert event.alarm.state == "acknowledged"


def test_a_restored_offline_alarm_stays_until_data_resumes(tmp_path: Path) -> None:
    clock = FakeClock()
    first = engine_for(clock, devices=(PUMP, MONITOR))
    timeline = Run(first, clock).feed(merged(infusion(0, 100), monitor(0, 50)))
    [offline] = [a for a in first.active() if a.rule == "device_offline"]
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        log_all(log, timeline)
        second = engine_for(clock, devices=(PUMP, MONITOR))
        second.restore(log.open_alarms(), log.sessions())
    again = Run(second, clock)
    again.feed(infusion(100, 120, volume0=1.5))
    assert again.alarms() == []  # not ended by the restart, not raised again
    again.feed(monitor(120, 125))
    assert [(e.transition, e.alarm.alarm_id) for e in again.alarm_events()] == [
        ("ended", offline.alarm_id)
    ]


def test_restore_skips_ended_alarms_and_unknown_rules() -> None:
    clock = FakeClock()
    first = engine_for(clock, devices=(MONITOR,))
    timeline = spo2_run(clock, first, 0, 20, 86)
    timeline.feed((float(t), vitals(t, spo2=97)) for t in range(20, 40))
    ended = [e.alarm for e in timeline.alarm_events() if e.alarm.state == "ended"]
    assert ended
    unknown = timeline.alarm_events()[0].alarm.model_copy(update={"rule": "retired_rule"})
    second = engine_for(clock, devices=(MONITOR,))
    second.restore([*ended, unknown])
    assert second.active() == []


def test_session_changes_are_logged_and_restored(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = engine_for(clock, devices=(PUMP,))
    timeline = Run(engine, clock).feed(infusion(0, 30))
    with AlarmLog(tmp_path / "alarms.sqlite") as log:
        log_all(log, timeline)
        [session] = log.sessions()
        [latest] = log.session_changes()
    assert session == engine.sessions.get(session.bed)
    assert session.phase == "infusion"
    assert not [e for _, e in timeline.events if isinstance(e, AlarmEvent)]
    changes = [e for _, e in timeline.events if isinstance(e, SessionEvent)]
    assert len(changes) >= 2  # started, then infusing: the latest is the one restored
    assert latest == changes[-1]
    assert latest.session == session

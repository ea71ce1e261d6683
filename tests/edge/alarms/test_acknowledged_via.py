"""``acknowledged_via``: the alarm records the dashboard an acknowledgement came through, a
priority breaking through clears it with the user, and alarm-log rows written before the
field existed still load (as ``None``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.alarms.log import AlarmLog
from edge.alarms.models import Alarm
from tests.edge.alarms.timeline import MONITOR, FakeClock, Run, engine_for, vitals


def spo2(timeline: Run, start: int, end: int, value: float) -> Run:
    return timeline.feed((float(t), vitals(t, spo2=value)) for t in range(start, end))


def test_the_dashboard_is_recorded_and_cleared_when_the_priority_breaks_through() -> None:
    clock = FakeClock()
    timeline = spo2(Run(engine_for(clock, devices=(MONITOR,)), clock), 0, 30, 88)  # medium
    alarm_id = timeline.engine.active()[0].alarm_id
    [event] = timeline.engine.acknowledge(alarm_id, "nurse.kim", via="ward-3-station")
    assert (event.alarm.acknowledged_by, event.alarm.acknowledged_via) == (
        "nurse.kim",
        "ward-3-station",
    )
    spo2(timeline, 30, 60, 80)  # high breaks through: unacknowledged again
    raised = timeline.alarm_events()[-1]
    assert raised.transition == "priority_raised"
    assert (raised.alarm.acknowledged_by, raised.alarm.acknowledged_via) == (None, None)
    [again] = timeline.engine.acknowledge(alarm_id, "nurse.lee")
    assert (again.alarm.acknowledged_by, again.alarm.acknowledged_via) == ("nurse.lee", None)


def test_a_dashboard_without_a_user_is_refused() -> None:
    clock = FakeClock()
    timeline = spo2(Run(engine_for(clock, devices=(MONITOR,)), clock), 0, 30, 88)
    alarm = timeline.engine.active()[0]
    with pytest.raises(ValidationError, match="acknowledged_via goes with acknowledged_by"):
        Alarm.model_validate({**alarm.model_dump(), "acknowledged_via": "ward-3-station"})


def test_alarm_log_rows_from_before_the_field_still_load(tmp_path: Path) -> None:
    clock = FakeClock()
    timeline = spo2(Run(engine_for(clock, devices=(MONITOR,)), clock), 0, 30, 88)
    alarm_id = timeline.engine.active()[0].alarm_id
    events = timeline.alarm_events() + timeline.engine.acknowledge(alarm_id, "nurse.kim")
    path = tmp_path / "alarm-log.sqlite"
    with AlarmLog(path) as log:
        log.append(events)
    with sqlite3.connect(path) as db:  # rewrite the rows as an older edge stored them
        for table, column in (("alarm_transitions", "event"), ("alarm_current", "alarm")):
            for rowid, raw in db.execute(f"SELECT rowid, {column} FROM {table}").fetchall():
                data = json.loads(raw)
                alarm = data.get("alarm", data)
                assert alarm.pop("acknowledged_via", "missing") is None
                db.execute(
                    f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (json.dumps(data), rowid)
                )
    db.close()
    with AlarmLog(path) as log:
        [restored] = log.open_alarms()
        history = log.history(alarm_id)
    assert (restored.acknowledged_by, restored.acknowledged_via) == ("nurse.kim", None)
    assert [e.alarm.acknowledged_via for e in history] == [None, None]
    assert history == events

"""The alarm model: ids, payload, acknowledgement, escalation, latching, break-through."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from edge.alarms.errors import AlarmEndedError, UnknownAlarmError
from edge.alarms.models import Alarm, TreatmentSession, alarm_id
from tests.edge.alarms.timeline import MONITOR, FakeClock, Run, at, engine_for, vitals

TOPIC_LEVEL = re.compile(r"^[A-Za-z0-9_.-]+$")


def run() -> Run:
    clock = FakeClock()
    return Run(engine_for(clock, devices=(MONITOR,)), clock)


def spo2(timeline: Run, start: float, end: float, value: float) -> Run:
    return timeline.feed((float(t), vitals(t, spo2=value)) for t in range(int(start), int(end)))


# -- ids and payload ---------------------------------------------------------------------------


def test_alarm_id_is_bed_device_rule_and_raise_time_in_utc() -> None:
    raised = datetime(2025, 3, 14, 10, 15, 2, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert alarm_id("chair-1", "pump-1", "rate_deviation", raised) == (
        "chair-1.pump-1.rate_deviation.20250314T091502123Z"
    )
    assert alarm_id("chair-1", None, "hypertension", raised).startswith("chair-1.-.hypertension.")
    assert TOPIC_LEVEL.match(alarm_id("chair-1", None, "hypertension", raised))


def test_a_new_episode_gets_a_new_id() -> None:
    timeline = spo2(run(), 0, 40, 86)
    timeline = spo2(timeline, 40, 60, 97)
    timeline = spo2(timeline, 60, 100, 86)
    ids = [e.alarm.alarm_id for e in timeline.alarm_events() if e.transition == "raised"]
    assert len(ids) == 2
    assert ids[0] != ids[1]
    assert all(TOPIC_LEVEL.match(i) for i in ids)


def test_the_payload_has_the_design_fields_and_no_patient_data() -> None:
    design = {
        "alarm_id", "rule", "kind", "priority", "state", "bed", "device_id", "message", "value",
        "limit", "raised_at", "acknowledged_by", "acknowledged_at", "ended_at",
    }  # fmt: skip
    extra = {"escalated", "escalated_at", "acknowledged_via", "ended_reason"}
    assert set(Alarm.model_fields) == design | extra
    for model in (Alarm, TreatmentSession):
        names = " ".join(model.model_fields)
        assert not re.search(r"patient|name|weight|mrn|birth", names)


def test_alarm_invariants_are_validated() -> None:
    base = {
        "alarm_id": "b.d.r.1", "rule": "r", "kind": "technical", "priority": "low",
        "bed": "b", "device_id": "d", "message": "m", "value": None, "limit": None,
        "raised_at": at(0),
    }  # fmt: skip
    Alarm(**base, state="active")
    with pytest.raises(ValidationError, match="ended_at"):
        Alarm(**base, state="ended")
    with pytest.raises(ValidationError, match="names who"):
        Alarm(**base, state="acknowledged")
    with pytest.raises(ValidationError):
        Alarm(**{**base, "alarm_id": "chair/1/#"}, state="active")


# -- acknowledgement ---------------------------------------------------------------------------


def test_acknowledgement_records_who_and_when_and_keeps_the_alarm_while_it_lasts() -> None:
    timeline = spo2(run(), 0, 30, 88)
    alarm = timeline.engine.active()[0]
    [event] = timeline.engine.acknowledge(alarm.alarm_id, " nurse.kim ", at=at(29.5))
    assert event.transition == "acknowledged"
    assert (event.alarm.state, event.alarm.acknowledged_by) == ("acknowledged", "nurse.kim")
    assert event.alarm.acknowledged_at == at(29.5)
    assert timeline.engine.active() == [event.alarm]
    assert timeline.engine.acknowledge(alarm.alarm_id, "nurse.lee") == []  # idempotent
    spo2(timeline, 30, 50, 97)
    assert timeline.alarm_events()[-1].alarm.state == "ended"
    assert timeline.engine.active() == []


def test_acknowledgement_uses_the_clock_by_default() -> None:
    timeline = spo2(run(), 0, 30, 88)
    [event] = timeline.engine.acknowledge(timeline.engine.active()[0].alarm_id, "nurse.kim")
    assert event.alarm.acknowledged_at == timeline.clock.now()


def test_acknowledging_an_unknown_or_ended_alarm_is_a_clear_error() -> None:
    timeline = spo2(run(), 0, 30, 88)
    alarm_id_ = timeline.engine.active()[0].alarm_id
    with pytest.raises(UnknownAlarmError, match="no alarm 'nope' on this edge"):
        timeline.engine.acknowledge("nope", "nurse.kim")
    with pytest.raises(ValueError, match="names the user"):
        timeline.engine.acknowledge(alarm_id_, "  ")
    spo2(timeline, 30, 50, 97)
    with pytest.raises(AlarmEndedError, match="already ended"):
        timeline.engine.acknowledge(alarm_id_, "nurse.kim")
    assert timeline.engine.get(alarm_id_) is None


# -- escalation --------------------------------------------------------------------------------


def test_an_unacknowledged_high_alarm_escalates_after_60_seconds() -> None:
    timeline = spo2(run(), 0, 200, 80)
    assert timeline.alarms() == [
        (10, "raised", "spo2_low", "high"),
        (70, "escalated", "spo2_low", "high"),
    ]
    alarm = timeline.alarm_events()[-1].alarm
    assert alarm.escalated
    assert alarm.escalated_at == at(70)
    [event] = timeline.engine.acknowledge(alarm.alarm_id, "nurse.kim")
    assert not event.alarm.escalated
    assert event.alarm.escalated_at == at(70)  # kept as a record


def test_an_unacknowledged_medium_alarm_escalates_after_5_minutes() -> None:
    timeline = spo2(run(), 0, 400, 88)
    assert timeline.alarms() == [
        (15, "raised", "spo2_low", "medium"),
        (315, "escalated", "spo2_low", "medium"),
    ]


def test_an_acknowledged_alarm_does_not_escalate() -> None:
    timeline = spo2(run(), 0, 12, 80)
    timeline.engine.acknowledge(timeline.engine.active()[0].alarm_id, "nurse.kim")
    spo2(timeline, 12, 300, 80)
    assert [tr for _, tr, _, _ in timeline.alarms()] == ["raised"]


def test_a_low_alarm_never_escalates() -> None:
    timeline = run()
    timeline.until(3600)
    assert [tr for _, tr, _, _ in timeline.alarms()] == ["raised"]


# -- latching and break-through ----------------------------------------------------------------


def test_a_latched_alarm_reactivates_as_the_same_episode() -> None:
    timeline = spo2(run(), 0, 20, 80)
    spo2(timeline, 20, 40, 97)
    spo2(timeline, 40, 60, 80)
    transitions = [(e.transition, e.alarm.state) for e in timeline.alarm_events()]
    assert transitions == [("raised", "active"), ("latched", "latched"), ("reactivated", "active")]
    assert len({e.alarm.alarm_id for e in timeline.alarm_events()}) == 1


def test_a_higher_priority_breaks_through_an_acknowledgement() -> None:
    timeline = spo2(run(), 0, 20, 88)
    timeline.engine.acknowledge(timeline.engine.active()[0].alarm_id, "nurse.kim")
    spo2(timeline, 20, 40, 80)
    event = timeline.alarm_events()[-1]
    assert (event.transition, event.alarm.priority, event.alarm.state) == (
        "priority_raised",
        "high",
        "active",
    )
    assert event.alarm.acknowledged_by is None
    assert "80 %" in event.alarm.message


def test_a_lower_priority_never_replaces_a_higher_one() -> None:
    timeline = spo2(run(), 0, 20, 80)
    spo2(timeline, 20, 200, 88)
    assert {e.alarm.priority for e in timeline.alarm_events()} == {"high"}
    assert timeline.engine.active()[0].priority == "high"


def test_times_are_utc_aware() -> None:
    timeline = spo2(run(), 0, 20, 80)
    assert timeline.alarm_events()[0].alarm.raised_at.tzinfo is not None
    assert timeline.alarm_events()[0].alarm.raised_at == datetime(2025, 3, 14, 9, 0, 10, tzinfo=UTC)

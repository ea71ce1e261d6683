"""The outbox writer's alarm messages: ``ended`` before the topic is cleared, the edge's
digest after every change of its open alarms, and refreshes of every open alarm and of each
bed's latest session."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.alarms.models import Alarm, AlarmEvent, SessionEvent, Transition, TreatmentSession
from edge.items import AlarmRefresh, BedRemoved
from edge.publish.outbox import MessageClass, NewMessage, Outbox
from edge.publish.outbox_writer import OutboxWriter
from edge.publish.payloads import EnvelopeFactory, SessionPayload
from edge.publish.topics import Topics
from tests.web.edges import hypertension

T0 = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)
ROOT = "infusion-edge/v1/north"
DIGEST = f"{ROOT}/edges/edge-a/alarms"


def writer(tmp_path: Path) -> OutboxWriter:
    outbox = Outbox(tmp_path / "outbox.sqlite", 1000, 3600)  # never opened: nothing is stored
    return OutboxWriter(outbox, Topics("infusion-edge/v1", "north"), EnvelopeFactory("edge-a"))


def event(alarm: Alarm, transition: Transition, at: datetime = T0, **update: Any) -> AlarmEvent:
    return AlarmEvent(alarm=alarm.model_copy(update=update), transition=transition, at=at)


def ended(alarm: Alarm, at: datetime) -> AlarmEvent:
    return event(alarm, "ended", at, state="ended", ended_at=at)


def body(message: NewMessage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.payload)
    return data


def listed(message: NewMessage) -> list[str]:
    assert message.topic == DIGEST
    assert message.retain
    return [item["alarm_id"] for item in body(message)["open"]]


def test_an_alarm_that_ends_is_published_ended_then_cleared_then_left_out_of_the_digest(
    tmp_path: Path,
) -> None:
    out = writer(tmp_path)
    alarm = hypertension("bed-1", raised_at=T0)
    topic = f"{ROOT}/beds/bed-1/alarms/{alarm.alarm_id}"
    raised = out.messages_for(event(alarm, "raised"))
    assert [m.topic for m in raised] == [topic, f"{ROOT}/alarm-log", DIGEST]
    assert listed(raised[2]) == [alarm.alarm_id]
    assert body(raised[2])["schema"] == "infusion-edge.alarm-digest/1"
    assert out.messages_for(event(alarm, "escalated", escalated=True))[-1].topic != DIGEST
    end = out.messages_for(ended(alarm, T0 + timedelta(minutes=3)))
    assert [(m.topic, m.retain, m.cls) for m in end] == [
        (topic, True, MessageClass.ALARM),
        (topic, True, MessageClass.ALARM),
        (f"{ROOT}/alarm-log", False, MessageClass.ALARM),
        (DIGEST, True, MessageClass.ALARM),
    ]
    assert body(end[0])["state"] == "ended"
    assert end[1].payload == b""
    assert listed(end[3]) == []
    assert body(end[3])["seq"] > body(end[0])["seq"]


def test_an_acknowledged_latched_alarm_ends_too(tmp_path: Path) -> None:
    out = writer(tmp_path)
    alarm = hypertension("bed-1", raised_at=T0)
    out.messages_for(event(alarm, "raised"))
    at = T0 + timedelta(minutes=2)
    ack = {"acknowledged_by": "nurse.kim", "acknowledged_at": at}
    messages = out.messages_for(event(alarm, "acknowledged", at, state="ended", ended_at=at, **ack))
    assert body(messages[0])["state"] == "ended"
    assert messages[1].payload == b""
    assert listed(messages[-1]) == []


def test_a_refresh_republishes_every_open_alarm_then_the_digest(tmp_path: Path) -> None:
    out = writer(tmp_path)
    high, medium = hypertension("bed-1", raised_at=T0), hypertension("bed-2", priority="medium")
    before = out.messages_for(event(high, "raised"))
    refreshed_at = T0 + timedelta(seconds=30)
    messages = out.messages_for(AlarmRefresh((high, medium), refreshed_at))
    assert [m.topic for m in messages] == [
        f"{ROOT}/beds/bed-1/alarms/{high.alarm_id}",
        f"{ROOT}/beds/bed-2/alarms/{medium.alarm_id}",
        DIGEST,
    ]
    assert all(m.retain and m.cls == MessageClass.STATE for m in messages)
    seqs = [body(m)["seq"] for m in messages]
    assert seqs == sorted(seqs)
    assert seqs[0] > body(before[0])["seq"]
    assert {body(m)["ts"] for m in messages} == {"2026-03-14T09:15:30Z"}  # the refresh time
    assert body(messages[0])["state"] == "active"
    assert body(messages[0])["raised_at"] == "2026-03-14T09:15:00Z"
    assert listed(messages[2]) == [high.alarm_id, medium.alarm_id]
    # The refresh set the open set: the next end leaves only the other one.
    assert listed(out.messages_for(ended(high, refreshed_at))[-1]) == [medium.alarm_id]


def test_an_empty_refresh_still_publishes_the_digest(tmp_path: Path) -> None:
    messages = writer(tmp_path).messages_for(AlarmRefresh((), T0))
    assert [listed(m) for m in messages] == [[]]


def test_a_refresh_republishes_each_beds_latest_session_at_its_change_time(
    tmp_path: Path,
) -> None:
    """A retained session the broker lost, or replaced with an older copy, is right again
    after the next refresh; its ``ts`` stays the change's, so the history keeps one row."""
    out = writer(tmp_path)
    started = TreatmentSession(
        session_id="chair-1.s1", bed="chair-1", phase="baseline", started_at=T0
    )
    infusing = started.model_copy(update={"phase": "infusion", "infusion_started_at": T0})
    other = TreatmentSession(
        session_id="chair-2.s1", bed="chair-2", phase="baseline", started_at=T0
    )
    later = T0 + timedelta(minutes=5)
    written = [
        out.messages_for(SessionEvent(session=started, change="started", at=T0))[0],
        out.messages_for(SessionEvent(session=infusing, change="infusion_started", at=later))[0],
        out.messages_for(SessionEvent(session=other, change="started", at=T0))[0],
    ]
    messages = out.messages_for(AlarmRefresh((), T0 + timedelta(minutes=30)))
    assert listed(messages[0]) == []
    sessions = messages[1:]
    assert [(m.topic, m.retain, m.cls) for m in sessions] == [
        (f"{ROOT}/beds/chair-1/session", True, MessageClass.STATE),
        (f"{ROOT}/beds/chair-2/session", True, MessageClass.STATE),
    ]
    again = [SessionPayload.model_validate_json(m.payload) for m in sessions]
    assert [(p.phase, p.ts) for p in again] == [("infusion", later), ("baseline", T0)]
    newest_seq = max(body(m)["seq"] for m in written)
    assert all(p.seq > newest_seq for p in again)


def test_the_first_refresh_after_a_restart_republishes_the_restored_sessions(
    tmp_path: Path,
) -> None:
    out = writer(tmp_path)
    restored = TreatmentSession(
        session_id="chair-1.s1", bed="chair-1", phase="baseline", started_at=T0
    )
    live = restored.model_copy(update={"session_id": "chair-2.s1", "bed": "chair-2"})
    newer = live.model_copy(update={"phase": "infusion", "infusion_started_at": T0})
    later = T0 + timedelta(minutes=1)
    out.messages_for(SessionEvent(session=newer, change="infusion_started", at=later))
    old_ones = (
        SessionEvent(session=restored, change="started", at=T0),
        SessionEvent(session=live, change="started", at=T0),  # older than the one seen since
    )
    messages = out.messages_for(AlarmRefresh((), later, old_ones))
    again = {m.topic: SessionPayload.model_validate_json(m.payload) for m in messages[1:]}
    assert {topic: (p.phase, p.ts) for topic, p in again.items()} == {
        f"{ROOT}/beds/chair-2/session": ("infusion", later),
        f"{ROOT}/beds/chair-1/session": ("baseline", T0),
    }


def test_a_removed_beds_session_is_cleared_and_never_refreshed_again(tmp_path: Path) -> None:
    out = writer(tmp_path)
    gone = TreatmentSession(session_id="chair-1.s1", bed="chair-1", phase="closed", started_at=T0)
    kept = gone.model_copy(update={"session_id": "chair-2.s1", "bed": "chair-2"})
    out.messages_for(SessionEvent(session=gone, change="closed", at=T0))
    out.messages_for(SessionEvent(session=kept, change="started", at=T0))
    [cleared] = out.messages_for(BedRemoved("chair-1"))
    assert (cleared.topic, cleared.payload, cleared.retain) == (
        f"{ROOT}/beds/chair-1/session",
        b"",
        True,
    )
    refreshed = out.messages_for(AlarmRefresh((), T0 + timedelta(minutes=1)))[1:]
    assert [m.topic for m in refreshed] == [f"{ROOT}/beds/chair-2/session"]


def test_the_session_payload_carries_the_bed_label_when_the_config_gives_one(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", 1000, 3600)
    labelled = OutboxWriter(
        outbox,
        Topics("infusion-edge/v1", "north"),
        EnvelopeFactory("edge-a"),
        labels={"chair-1": "Chair 1 (window)"},
    )
    for bed, label in (("chair-1", "Chair 1 (window)"), ("chair-2", None)):
        session = TreatmentSession(session_id=f"{bed}.s1", bed=bed, phase="baseline", started_at=T0)
        [message] = labelled.messages_for(SessionEvent(session=session, change="started", at=T0))
        assert message.topic == f"{ROOT}/beds/{bed}/session"
        assert message.retain
        payload = SessionPayload.model_validate_json(message.payload)
        assert payload.label == label

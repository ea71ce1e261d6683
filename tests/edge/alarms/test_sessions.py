"""Treatment sessions: baseline -> infusion -> observation (60 min) -> closed."""

from __future__ import annotations

from collections.abc import Iterable

from edge.alarms.models import SessionEvent
from edge.alarms.sessions import TreatmentSessions
from tests.edge.alarms.timeline import (
    BED,
    ORDER,
    Reading,
    at,
    infusion,
    merged,
    monitor,
    pump,
)


def feed(
    sessions: TreatmentSessions, readings: Iterable[tuple[float, Reading]]
) -> list[SessionEvent]:
    return [event for _, reading in readings for event in sessions.on_reading(reading)]


def changes(events: list[SessionEvent]) -> list[tuple[str, object]]:
    return [(e.change, e.at) for e in events]


def test_a_whole_session_with_its_times_and_baseline() -> None:
    sessions = TreatmentSessions({BED: ORDER})
    nibp = [(0, 130, 90), (600, 118, 76), (1500, 122, 78), (2400, 140, 90)]
    readings = merged(monitor(0, 2500, period=10, nibp=nibp), infusion(1900, 4300))
    readings.append((4305.0, pump(4305, volume=36.0, state="stopped")))
    events = feed(sessions, readings)
    assert changes(events) == [
        ("started", at(0)),
        ("infusion_started", at(1900)),
        ("infusion_stopped", at(4305)),
    ]
    session = sessions.get(BED)
    assert session is not None
    # the mean of the measurements in the 30 min before the infusion (not the one at 0)
    assert (session.baseline_systolic, session.baseline_diastolic) == (120.0, 77.0)
    assert session.baseline_count == 2
    assert session.phase == "observation"
    assert session.observation_ends_at == at(4305 + 3600)
    assert session.order is not None
    assert session.order.rate_ml_per_h == 54.0
    assert "weight" not in session.model_dump_json()
    assert sessions.tick(at(4305 + 3599)) == []
    [closed] = sessions.tick(at(4305 + 3605))
    assert (closed.change, closed.at, closed.session.phase) == ("closed", at(7905), "closed")
    assert closed.session.closed_at == at(7905)
    assert session.session_id.startswith(f"{BED}.")


def test_a_pump_that_starts_first_opens_the_session_without_baseline() -> None:
    sessions = TreatmentSessions()
    events = feed(sessions, infusion(0, 20))
    assert [e.change for e in events] == ["started", "infusion_started"]
    session = sessions.get(BED)
    assert session is not None
    assert session.baseline_systolic is None
    assert session.order is None


def test_restarting_during_observation_resumes_the_infusion() -> None:
    sessions = TreatmentSessions()
    feed(sessions, infusion(0, 100))
    feed(sessions, [(100.0, pump(100, volume=1.5, state="stopped"))])
    events = feed(sessions, [(700.0, pump(700, volume=1.5))])
    assert [e.change for e in events] == ["infusion_resumed"]
    session = sessions.get(BED)
    assert session is not None
    assert session.phase == "infusion"
    assert session.observation_ends_at is None


def test_kvo_ends_the_infusion_and_a_pump_alarm_does_not() -> None:
    sessions = TreatmentSessions()
    feed(sessions, infusion(0, 100))
    assert feed(sessions, [(100.0, pump(100, volume=1.5, state="alarm"))]) == []
    events = feed(sessions, [(105.0, pump(105, volume=1.5, state="kvo"))])
    assert [e.change for e in events] == ["infusion_stopped"]


def test_a_reading_after_the_end_of_observation_closes_it() -> None:
    sessions = TreatmentSessions(observation_s=600)
    feed(sessions, infusion(0, 100))
    feed(sessions, [(100.0, pump(100, volume=1.5, state="stopped"))])
    events = feed(sessions, [(800.0, pump(800, volume=1.5, state="stopped"))])
    assert changes(events) == [("closed", at(700))]


def test_a_new_session_starts_on_a_measurement_taken_after_the_last_closed() -> None:
    sessions = TreatmentSessions(observation_s=600)
    feed(sessions, merged(monitor(0, 60, period=10, nibp=[(0, 120, 80)]), infusion(60, 100)))
    feed(sessions, [(100.0, pump(100, volume=0.6, state="stopped"))])
    # the monitor keeps repeating the old measurement after the close: no new session
    assert [
        e.change for e in feed(sessions, monitor(700, 800, period=10, nibp=[(0, 120, 80)]))
    ] == ["closed"]
    events = feed(sessions, monitor(800, 820, period=10, nibp=[(805, 125, 82)]))
    assert [e.change for e in events] == ["started"]


def test_restore_takes_up_sessions_without_events() -> None:
    first = TreatmentSessions()
    feed(first, infusion(0, 100))
    second = TreatmentSessions()
    second.restore(first.all())
    assert second.get(BED) == first.get(BED)
    assert feed(second, infusion(100, 120)) == []


# -- a session first seen mid-infusion ---------------------------------------------------------


def test_a_pump_first_seen_mid_infusion_gets_an_estimated_start() -> None:
    sessions = TreatmentSessions({BED: ORDER})
    # the edge starts 30 min into an infusion at 54 mL/h: 27 mL infused
    events = feed(sessions, infusion(1800, 1830, volume0=27.0))
    assert changes(events) == [("started", at(1800)), ("infusion_started", at(1800))]
    session = sessions.get(BED)
    assert session is not None
    assert (session.started_at, session.infusion_started_at) == (at(0), at(0))
    assert session.infusion_started_estimated
    assert session.model_dump(mode="json")["infusion_started_estimated"] is True


def test_a_pump_plugged_in_mid_infusion_sets_the_baseline_before_its_estimated_start() -> None:
    sessions = TreatmentSessions({BED: ORDER})
    nibp = [(0, 120, 80), (600, 124, 82), (1200, 150, 95)]  # the last during the infusion
    feed(sessions, monitor(0, 1500, period=10, nibp=nibp))
    # plugged in at 1500 with 9 mL infused at 54 mL/h: started 600 s before, at 900
    events = feed(sessions, infusion(1500, 1510, volume0=9.0))
    assert changes(events) == [("infusion_started", at(1500))]
    session = sessions.get(BED)
    assert session is not None
    assert session.started_at == at(0)
    assert session.infusion_started_at == at(900)
    assert session.infusion_started_estimated
    assert (session.baseline_systolic, session.baseline_diastolic) == (122.0, 81.0)


def test_a_pump_seen_before_it_starts_has_its_real_start() -> None:
    sessions = TreatmentSessions()
    feed(sessions, [(0.0, pump(0, volume=12.0, state="stopped"))])  # a previous bag's volume
    events = feed(sessions, infusion(60, 70, volume0=12.0))
    assert changes(events) == [("started", at(60)), ("infusion_started", at(60))]
    session = sessions.get(BED)
    assert session is not None
    assert session.infusion_started_at == at(60)
    assert not session.infusion_started_estimated


def test_an_estimate_is_capped_and_never_before_the_previous_session_closed() -> None:
    capped = TreatmentSessions()
    feed(capped, infusion(20000, 20010, volume0=500.0))  # 9.3 h at 54 mL/h
    session = capped.get(BED)
    assert session is not None
    assert session.infusion_started_at == at(20000 - 4 * 3600)
    closed = TreatmentSessions(observation_s=600)
    feed(closed, infusion(0, 100))
    feed(closed, [(100.0, pump(100, volume=1.5, state="stopped"))])
    feed(closed, [(800.0, pump(800, volume=1.5, state="stopped"))])  # closed at 700
    after_restart = TreatmentSessions()
    after_restart.restore(closed.all())
    feed(after_restart, infusion(1000, 1010, volume0=9.0))  # 600 s would be 400
    session = after_restart.get(BED)
    assert session is not None
    assert session.infusion_started_at == at(700)


def test_a_bed_removed_mid_infusion_closes_its_session_then_and_a_new_one_can_start() -> None:
    sessions = TreatmentSessions({BED: ORDER})
    feed(sessions, merged(monitor(0, 600, period=10, nibp=[(0, 130, 90)]), infusion(300, 900)))
    held = sessions.get(BED)
    assert held is not None
    assert held.phase == "infusion"
    [closed] = sessions.end(BED, at(950))
    assert (closed.change, closed.at) == ("closed", at(950))
    assert (closed.session.phase, closed.session.closed_at) == ("closed", at(950))
    assert closed.session.session_id == held.session_id
    assert sessions.end(BED, at(960)) == []  # closed already
    assert sessions.end("another-bed", at(960)) == []  # never had one
    # the bed added back later: its first cuff starts a new session
    [started] = feed(sessions, monitor(2000, 2010, period=10, nibp=[(2000, 125, 80)]))
    assert started.change == "started"
    assert started.session.session_id != held.session_id

"""One cuff, one measurement: NIBP identity with a stamp tolerance, the high level's two
distinct cuffs, and the last cuff per monitor kept in the alarm log across a restart."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from drivers.readings import Observation, VitalsReading
from edge.alarms.engine import AlarmEngine
from edge.alarms.log import AlarmLog
from edge.alarms.log_guard import GuardedAlarmLog
from edge.alarms.models import AlarmEvent
from edge.alarms.vitals import SAME_CUFF_S, LastCuff, NibpTracker
from tests.edge.alarms.timeline import (
    BED,
    MONITOR,
    FakeClock,
    Run,
    at,
    engine_for,
    vitals,
)

JITTER_S = (0.0, 0.0004, -0.0003, 0.0007, 0.0001, -0.0006)  # IntelliVue-like, per poll


def jittered(
    start: float, end: float, cuffs: Sequence[tuple[float, float, float]], jitter: float = 1.0
) -> Iterator[tuple[float, VitalsReading]]:
    """A reading a second from ``start`` to ``end``, each carrying the latest cuff
    ((t, systolic, diastolic)) with its stamp off by a fraction of a ms (x ``jitter``)."""
    t, n = start, 0
    while t < end:
        taken = [c for c in cuffs if c[0] <= t]
        nibp = None
        if taken:
            when, sys, dia = taken[-1]
            nibp = (sys, dia, when + JITTER_S[n % len(JITTER_S)] * jitter)
        yield t, vitals(t, hr=80, nibp=nibp)
        t, n = t + 1.0, n + 1


def unstamped(t: float, sys: float, dia: float) -> VitalsReading:
    """A textline-like reading: NIBP without a measurement time."""
    obs = (
        Observation(code="MDC_PRESS_BLD_NONINV_SYS", value=sys, unit="mm[Hg]"),
        Observation(code="MDC_PRESS_BLD_NONINV_DIA", value=dia, unit="mm[Hg]"),
    )
    return VitalsReading(device_id=MONITOR, bed=BED, ts=at(t), observations=obs)


def monitor_run(engine: AlarmEngine | None = None, clock: FakeClock | None = None) -> Run:
    clock = clock or FakeClock()
    return Run(engine or engine_for(clock, devices=(MONITOR,)), clock)


# -- the tracker -------------------------------------------------------------------------------


def test_jittered_stamps_of_one_cuff_count_once() -> None:
    tracker = NibpTracker()
    new = [tracker.update(r)[0] for _, r in jittered(600, 900, [(600, 183, 113)])]
    assert [n for n in new if n is not None] == [new[0]]
    assert new[0] is not None
    assert (new[0].systolic, new[0].diastolic) == (183, 113)


def test_stamps_within_the_tolerance_are_one_cuff_beyond_it_two() -> None:
    tracker = NibpTracker()
    assert tracker.update(vitals(60, nibp=(183, 113, 30)))[0] is not None
    assert tracker.update(vitals(61, nibp=(183, 113, 30 + SAME_CUFF_S - 0.5)))[0] is None
    assert tracker.update(vitals(62, nibp=(183, 113, 30 - SAME_CUFF_S + 0.5)))[0] is None
    new, previous = tracker.update(vitals(90, nibp=(183, 113, 30 + SAME_CUFF_S + 5)))
    assert new is not None
    assert previous is not None
    assert previous.at == at(30)


def test_a_revised_cuff_is_reported_with_the_cuff_before_it_never_with_itself() -> None:
    tracker = NibpTracker()
    tracker.update(vitals(10, nibp=(150, 90, 0)))
    tracker.update(vitals(200, nibp=(183, 113, 190)))
    revised, previous = tracker.update(vitals(201, nibp=(185, 114, 190.002)))
    assert revised is not None
    assert (revised.systolic, revised.diastolic) == (185, 114)
    assert previous is not None
    assert previous.at == at(0)


def test_a_stamp_older_than_the_last_cuff_is_ignored() -> None:
    tracker = NibpTracker()
    tracker.update(vitals(400, nibp=(140, 90, 300)))
    assert tracker.update(vitals(401, nibp=(150, 95, 100))) == (None, None)


def test_unstamped_values_are_new_only_when_they_change() -> None:
    tracker = NibpTracker()
    assert tracker.update(unstamped(0, 183, 113))[0] is not None
    for t in (1, 30, 300, 600):  # repeated in every line, minutes long: still one cuff
        assert tracker.update(unstamped(t, 183, 113)) == (None, None)
    new, previous = tracker.update(unstamped(700, 184, 113))
    assert new is not None
    assert previous is not None
    assert previous.at == at(0)


# -- the high level on the engine -----------------------------------------------------------


def test_one_high_cuff_polled_with_jitter_raises_medium_only() -> None:
    timeline = monitor_run().feed(jittered(0, 900, [(100, 120, 80), (400, 183, 113)]))
    assert timeline.raised() == [(400, "hypertension", "medium")]


def test_two_high_cuffs_minutes_apart_confirm_the_high_level() -> None:
    cuffs = [(100, 183, 113), (280, 186, 112)]
    timeline = monitor_run().feed(jittered(0, 400, cuffs))
    assert timeline.raised() == [(100, "hypertension", "medium"), (280, "hypertension", "high")]
    assert "confirmed by 183/113 mmHg 3 min before" in timeline.alarm_events()[-1].alarm.message


def test_two_cuffs_in_a_stat_series_45_s_apart_confirm_too() -> None:
    timeline = monitor_run().feed(jittered(0, 200, [(100, 183, 113), (145, 184, 111)]))
    assert timeline.raised() == [(100, "hypertension", "medium"), (145, "hypertension", "high")]
    assert "confirmed by 183/113 mmHg 45 s before" in timeline.alarm_events()[-1].alarm.message


# -- across a restart -------------------------------------------------------------------------


def first_life(log_path: Path) -> None:
    """The first daemon: one high cuff at 100 s, saved as the stage saves it."""
    clock = FakeClock()
    engine = engine_for(clock, devices=(MONITOR,))
    with AlarmLog(log_path) as log:
        for t, reading in jittered(0, 150, [(100, 183, 113)]):
            clock.t = t
            log.append(e for e in engine.on_reading(reading) if isinstance(e, AlarmEvent))
            log.save_cuffs(engine.take_cuffs())
        assert [c.systolic for c in log.cuffs()] == [183]


def second_life(log_path: Path, *, restore_cuffs: bool) -> Run:
    """The daemon restarted after a down time during which the monitor took its second high
    cuff (3 min after the first): the first reading after the restart carries it."""
    clock = FakeClock()
    clock.t = 290
    engine = engine_for(clock, devices=(MONITOR,))
    with AlarmLog(log_path) as log:
        cuffs = log.cuffs() if restore_cuffs else []
        engine.restore(log.open_alarms(), log.sessions(), cuffs=cuffs)
    restarted = jittered(290, 400, [(100, 183, 113), (280, 185, 114)], jitter=300)
    return Run(engine, clock).feed(restarted)


def test_a_restart_keeps_the_previous_cuff_so_the_next_high_cuff_confirms(
    tmp_path: Path,
) -> None:
    first_life(tmp_path / "alarms.sqlite")
    timeline = second_life(tmp_path / "alarms.sqlite", restore_cuffs=True)
    assert timeline.raised() == [(290, "hypertension", "high")]
    assert "confirmed by 183/113 mmHg 3 min before" in timeline.alarm_events()[-1].alarm.message


def test_without_the_restored_cuff_the_confirmation_would_start_again(tmp_path: Path) -> None:
    first_life(tmp_path / "alarms.sqlite")
    assert second_life(tmp_path / "alarms.sqlite", restore_cuffs=False).raised() == []


def test_a_cuff_restored_before_its_device_is_known_waits_for_it() -> None:
    clock = FakeClock()
    engine = AlarmEngine(clock)  # no configured devices
    cuff = LastCuff(device_id=MONITOR, systolic=183, diastolic=113, at=at(100), stamped=True)
    engine.restore([], cuffs=[cuff])
    timeline = Run(engine, clock).feed(jittered(150, 300, [(100, 183, 113), (280, 190, 112)]))
    assert ("hypertension", "high") in [(r, p) for _, r, p in timeline.raised()]


def test_cuffs_wait_in_memory_while_the_log_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the directory should be")
    log = GuardedAlarmLog(blocker / "alarms.sqlite")
    log.open()
    assert log.faulted
    first = LastCuff(device_id=MONITOR, systolic=150, diastolic=90, at=at(0), stamped=True)
    log.save_cuffs([first])
    log.save_cuffs([first.model_copy(update={"systolic": 183, "at": at(300)})])
    blocker.unlink()
    log.close()  # the disk allows again: written before closing
    with AlarmLog(blocker / "alarms.sqlite") as reopened:
        [kept] = reopened.cuffs()
    assert (kept.systolic, kept.at - at(0)) == (183, timedelta(seconds=300))

"""``storage_fault``: a technical alarm on every bed while one of the edge's stores is
faulted, never latching; and the alarm log behind its guard, on real SQLite files: a failed
append never loses an event, a corrupt log is moved aside and a fresh one begun."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from edge.alarms.engine import AlarmEngine
from edge.alarms.log import AlarmLog
from edge.alarms.log_guard import GuardedAlarmLog
from edge.alarms.models import AlarmEvent
from tests.edge.alarms.timeline import FakeClock


def storage_engine(clock: FakeClock) -> AlarmEngine:
    return AlarmEngine(clock, beds=["chair-1", "chair-2"])


def on_storage(engine: AlarmEngine, faulted: bool) -> list[AlarmEvent]:
    events = engine.on_storage(faulted)
    alarm_events = [e for e in events if isinstance(e, AlarmEvent)]
    assert alarm_events == events
    return alarm_events


def test_a_bed_removed_by_a_reload_ends_its_storage_fault_and_gets_no_new_one() -> None:
    clock = FakeClock()
    engine = storage_engine(clock)
    on_storage(engine, True)
    clock.t = 3.0
    [ended] = engine.remove_bed("chair-2")  # no session there: only its alarm
    assert isinstance(ended, AlarmEvent)
    assert (ended.transition, ended.alarm.bed, ended.alarm.ended_reason) == (
        "ended",
        "chair-2",
        "bed removed",
    )
    assert [a.bed for a in engine.active()] == ["chair-1"]  # the other bed's goes on
    assert not engine.has_bed("chair-2")
    assert on_storage(engine, False)[0].alarm.bed == "chair-1"  # ends where it is
    assert [e.alarm.bed for e in on_storage(engine, True)] == ["chair-1"]  # none on chair-2


def test_storage_fault_is_raised_on_every_bed_and_ends_with_the_fault() -> None:
    clock = FakeClock()
    engine = storage_engine(clock)
    assert on_storage(engine, False) == []
    raised = on_storage(engine, True)
    assert [(e.transition, e.alarm.bed) for e in raised] == [
        ("raised", "chair-1"),
        ("raised", "chair-2"),
    ]
    alarm = raised[0].alarm
    assert (alarm.rule, alarm.kind, alarm.priority, alarm.device_id) == (
        "storage_fault",
        "technical",
        "low",
        None,
    )
    assert alarm.message == "Edge storage fault: alarms still work but are not saved to disk"
    assert on_storage(engine, True) == []  # still the same episode
    clock.t = 5.0
    ended = on_storage(engine, False)
    assert [(e.transition, e.alarm.state) for e in ended] == [("ended", "ended")] * 2
    assert engine.active() == []


def test_an_acknowledged_storage_fault_ends_too_it_never_latches() -> None:
    clock = FakeClock()
    engine = storage_engine(clock)
    alarm_id = on_storage(engine, True)[0].alarm.alarm_id
    assert engine.acknowledge(alarm_id, "nurse.kim")[0].alarm.state == "acknowledged"
    assert {e.alarm.state for e in on_storage(engine, False)} == {"ended"}


def test_a_restored_storage_fault_ends_when_the_stores_are_well() -> None:
    clock = FakeClock()
    first = storage_engine(clock)
    alarms = [e.alarm for e in on_storage(first, True)]
    again = storage_engine(clock)
    again.restore(alarms)
    assert len(again.active()) == 2
    assert {e.transition for e in on_storage(again, False)} == {"ended"}


def some_events(count: int = 3) -> list[AlarmEvent]:
    """``count`` alarm events (raised on beds 1..count)."""
    engine = AlarmEngine(FakeClock(), beds=[f"bed-{n}" for n in range(1, count + 1)])
    return [e for e in on_storage(engine, True) if isinstance(e, AlarmEvent)]


def test_a_failed_append_keeps_the_events_and_writes_them_when_the_disk_allows(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the directory should be")
    log = GuardedAlarmLog(blocker / "alarms.sqlite")
    log.open()
    assert log.faulted
    assert log.open_alarms() == []
    events = some_events()
    log.append(events[:2])
    log.append(events[2:])
    assert log.pending == 3
    blocker.unlink()
    log.close()  # the disk allows again: written before closing
    with AlarmLog(blocker / "alarms.sqlite") as reopened:
        assert [e.event for e in reopened.events()] == events


def test_a_full_disk_during_append_keeps_the_events_in_order(tmp_path: Path) -> None:
    log = GuardedAlarmLog(tmp_path / "alarms.sqlite")
    log.open()
    assert not log.faulted
    db = log._log._db  # type: ignore[union-attr]
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    events = some_events(60)
    for event in events:  # each append fills the tables' free space a little more
        log.append([event])
    assert log.state.fault is not None
    assert log.state.fault.kind == "full"
    assert 0 < log.pending < 60
    asyncio.run(log.retry())  # still full
    assert log.faulted
    db.execute("PRAGMA max_page_count=1073741823")
    asyncio.run(log.retry())
    assert not log.faulted
    assert log.pending == 0
    log.close()
    with AlarmLog(tmp_path / "alarms.sqlite") as reopened:
        assert [e.event for e in reopened.events()] == events


def test_the_memory_list_is_bounded_oldest_dropped_first(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("")
    log = GuardedAlarmLog(blocker / "alarms.sqlite", pending_max=2)
    log.open()
    events = some_events()
    log.append(events)
    assert (log.pending, log.dropped) == (2, 1)
    log.close()


@pytest.mark.parametrize("size", [0, 100, 64 * 1024])
def test_a_corrupt_log_is_moved_aside_and_a_fresh_one_begun(
    tmp_path: Path, size: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alarms.sqlite"
    with AlarmLog(path) as original:
        original.append(some_events())
    if size:
        path.write_bytes(os.urandom(size))
    else:  # keep the header, lose the rest: the tables point at pages that are gone
        with path.open("r+b") as f:
            f.truncate(2 * 4096)
    log = GuardedAlarmLog(path, corrupt_notice_s=60)
    log.open()
    try:
        aside = list(tmp_path.glob("alarms.sqlite.corrupt-*"))
        assert len(aside) == 1
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert any(getattr(r, "moved_to", None) == str(aside[0]) for r in errors)
        assert log.open_alarms() == []  # nothing to restore
        assert log.state.fault is None
        assert log.faulted  # for the notice time: the history is lost
        log.append(some_events(1))
        assert log.pending == 0
    finally:
        log.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM alarm_transitions").fetchone()[0] == 1

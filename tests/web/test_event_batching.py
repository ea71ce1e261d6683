"""How the event streams batch changes: a bed only in its newest state per chunk, bed updates
held for ``BED_BATCH_S``, an urgent change (an alarm) sent within ``BATCH_S`` even then; one
snapshot serves the streams that open within ``SNAPSHOT_REUSE_S``."""

from __future__ import annotations

import asyncio

import pytest

from edge.web import events
from edge.web.dashboard import Dashboard
from edge.web.events import BATCH_S, BED_BATCH_S, EncodedEvents, newest_only, until_due
from edge.web.journal import EventJournal, JournalEvent
from edge.web.state import Change
from tests.web.helpers import web_config


def bed(number: int, key: str, volume: float) -> JournalEvent:
    return JournalEvent(number, "bed", {"key": key, "volume": volume})


def test_a_chunk_holds_each_bed_in_its_newest_state_in_order() -> None:
    alarm = JournalEvent(3, "alarm", {"key": "site/a1"})
    events = [bed(1, "site/bed-1", 1.0), bed(2, "site/bed-2", 7.0), alarm]
    events += [bed(4, "site/bed-1", 2.0), JournalEvent(5, "alarm", {"key": "site/a1"})]
    kept = newest_only(events)
    assert [e.number for e in kept] == [2, 3, 4, 5]  # alarms are never merged
    assert kept[-1] is events[-1]  # the last id of the chunk is the last id it covers


def journal_with_bed_update() -> EventJournal:
    journal = EventJournal()
    journal.extend([Change("bed", {"key": "site/bed-1"})])
    return journal


async def test_bed_updates_wait_for_the_slow_tick() -> None:
    journal = journal_with_bed_update()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await until_due(journal, 0, loop, phase=started)  # the slow tick is BED_BATCH_S away
    assert loop.time() - started >= BED_BATCH_S * 0.9


async def test_an_urgent_change_is_not_held_back_by_bed_updates() -> None:
    journal = journal_with_bed_update()
    loop = asyncio.get_running_loop()
    started = loop.time()
    due = asyncio.create_task(until_due(journal, 0, loop, phase=started))
    await asyncio.sleep(BATCH_S / 2)
    journal.extend([Change("alarm", {"key": "site/a1"})])
    async with asyncio.timeout(BED_BATCH_S):
        await due
    assert loop.time() - started < BED_BATCH_S * 0.8  # the next fast tick, not the slow one


async def test_a_pending_urgent_change_goes_at_the_next_fast_tick() -> None:
    journal = EventJournal()
    journal.extend([Change("bed", {"key": "site/bed-1"}), Change("alarm", {"key": "site/a1"})])
    loop = asyncio.get_running_loop()
    started = loop.time()
    await until_due(journal, 0, loop, phase=started)
    assert loop.time() - started < BED_BATCH_S * 0.8


def test_a_snapshot_serves_the_streams_that_open_soon_after() -> None:
    dashboard = Dashboard(web_config("mqtt://127.0.0.1:1"))
    encoded = EncodedEvents(dashboard)
    cursor, snapshot = encoded.snapshot()
    dashboard.journal.extend([Change("alarm", {"key": "site/a1"})])
    assert encoded.snapshot() == (cursor, snapshot)  # reused, one encoding
    assert [e.type for e in dashboard.journal.after(cursor) or []] == ["alarm"]  # sent next
    assert b"event: snapshot" in snapshot


def test_a_snapshot_is_made_again_when_old_or_past_the_journal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashboard = Dashboard(web_config("mqtt://127.0.0.1:1"), journal_capacity=2)
    encoded = EncodedEvents(dashboard)
    cursor, _ = encoded.snapshot()
    dashboard.journal.extend([Change("alarm", {"key": f"site/a{n}"}) for n in range(3)])
    assert encoded.snapshot()[0] == dashboard.journal.last  # the events after it are gone
    dashboard.journal.extend([Change("alarm", {"key": "site/a9"})])
    monkeypatch.setattr(events, "SNAPSHOT_REUSE_S", 0.0)
    assert encoded.snapshot()[0] == dashboard.journal.last != cursor

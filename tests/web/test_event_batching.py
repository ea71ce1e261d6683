"""How the event streams batch changes: a bed only in its newest state per chunk, bed updates
held for ``BED_BATCH_S``, an urgent change (an alarm) sent within ``BATCH_S`` even then."""

from __future__ import annotations

import asyncio

from edge.web.events import BATCH_S, BED_BATCH_S, newest_only, until_due
from edge.web.journal import EventJournal, JournalEvent
from edge.web.state import Change


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

"""The event journal: numbering, replay after an id, foreign and too-old ids."""

from __future__ import annotations

import asyncio

import pytest

from edge.web.journal import EventJournal
from edge.web.state import Change


def changes(*numbers: int) -> list[Change]:
    return [
        Change("bed", {"key": f"site/bed-{n}", "n": n, "vitals": {}, "pumps": [], "devices": []})
        for n in numbers
    ]


def test_events_are_numbered_and_replayed_after_an_id() -> None:
    journal = EventJournal(capacity=5, epoch="abc")
    journal.extend(changes(1, 2, 3))
    assert journal.event_id(3) == "abc-3"
    assert journal.parse_id("abc-1") == 1
    assert [e.data["n"] for e in journal.after(1) or []] == [2, 3]
    assert journal.after(3) == []


def test_ids_that_cannot_be_replayed() -> None:
    journal = EventJournal(capacity=3, epoch="abc")
    journal.extend(changes(*range(1, 8)))
    assert journal.after(2) is None  # older than what is kept: a snapshot is needed
    assert [e.number for e in journal.after(4) or []] == [5, 6, 7]
    for foreign in (None, "", "zzz-3", "abc-x", "abc-99", "3"):
        assert journal.parse_id(foreign) is None, foreign


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one"):
        EventJournal(capacity=0)


async def test_a_reader_wakes_up_on_new_events() -> None:
    journal = EventJournal()
    waiter = asyncio.create_task(journal.wait_after(0))
    await asyncio.sleep(0)
    assert not waiter.done()
    journal.extend(changes(1))
    async with asyncio.timeout(1):
        await waiter


async def test_only_an_urgent_event_wakes_the_urgent_wait() -> None:
    journal = EventJournal()
    waiter = asyncio.create_task(journal.wait_urgent_after(0))
    journal.extend(changes(1, 2))  # bed updates may wait
    await asyncio.sleep(0.01)
    assert not waiter.done()
    assert (journal.last, journal.last_urgent) == (2, 0)
    journal.extend([Change("alarm", {"key": "site/a1"})])
    async with asyncio.timeout(1):
        await waiter
    assert journal.last_urgent == 3


async def test_wake_ends_both_waits() -> None:
    journal = EventJournal()
    waiters = [
        asyncio.create_task(journal.wait_after(0)),
        asyncio.create_task(journal.wait_urgent_after(0)),
    ]
    await asyncio.sleep(0)
    journal.wake()
    async with asyncio.timeout(1):
        await asyncio.gather(*waiters)


def test_a_bed_back_after_its_removal_goes_out_whole() -> None:
    journal = EventJournal(epoch="abc")
    journal.extend(changes(1))
    journal.extend(changes(1))  # unchanged since: a delta of nothing
    journal.extend([Change("bed_removed", {"key": "site/bed-1"})])
    journal.extend(changes(1))  # the same view again: the pages dropped it, so whole
    first, second, removed, back = journal.after(0) or []
    assert (first.parts, second.parts) == (None, frozenset())
    assert removed.type == "bed_removed"
    assert journal.last_urgent == removed.number  # it goes out at once
    assert back.parts is None

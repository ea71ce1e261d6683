"""How the event streams batch changes: a bed once per chunk, its newest state with the parts
its events changed (whole when one of them or the replay says so), bed updates held for
``BED_BATCH_S``, an urgent change (an alarm) sent within ``BATCH_S`` even then; one snapshot
serves the streams that open within ``SNAPSHOT_REUSE_S``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edge.web import events
from edge.web.bed_changes import Part
from edge.web.dashboard import Dashboard
from edge.web.events import BATCH_S, BED_BATCH_S, EncodedEvents, chunk_events, until_due
from edge.web.journal import EventJournal, JournalEvent
from edge.web.state import Change
from tests.web.helpers import web_config

BED = {"key": "site/bed-1", "vitals": {}, "pumps": [], "devices": []}
HR, P1, P2 = ("vitals", "hr", "value"), ("pumps", "p1", "ts"), ("pumps", "p2", "ts")


def bed(number: int, key: str, volume: float, parts: frozenset[Part] | None) -> JournalEvent:
    return JournalEvent(number, "bed", {"key": key, "volume": volume}, parts)


def test_a_chunk_holds_each_bed_once_in_order_with_what_its_events_changed() -> None:
    alarm = JournalEvent(3, "alarm", {"key": "site/a1"})
    events = [bed(1, "site/bed-1", 1.0, frozenset({HR}))]
    events += [bed(2, "site/bed-2", 7.0, frozenset({P1})), alarm]
    events += [bed(4, "site/bed-1", 2.0, frozenset({P2}))]
    events += [JournalEvent(5, "alarm", {"key": "site/a1"})]
    chunk = chunk_events(events)
    assert [e.number for e, _ in chunk] == [2, 3, 4, 5]  # alarms are never merged
    assert chunk[-1][0] is events[-1]  # the last id of the chunk is the last id it covers
    assert [parts for _, parts in chunk] == [
        frozenset({P1}),
        None,
        frozenset({HR, P2}),  # both events of bed-1: the newest state of each
        None,
    ]


def test_a_whole_bed_in_a_chunk_or_a_replay_sends_the_bed_whole() -> None:
    events = [bed(1, "site/bed-1", 1.0, None), bed(2, "site/bed-1", 2.0, frozenset({("x",)}))]
    events += [bed(3, "site/bed-2", 1.0, frozenset({("y",)}))]
    assert [(e.number, parts) for e, parts in chunk_events(events)] == [
        (2, None),
        (3, frozenset({("y",)})),
    ]
    assert [parts for _, parts in chunk_events(events, whole_beds=True)] == [None, None]


def test_the_chunk_encodes_deltas_and_leaves_out_a_bed_that_did_not_change() -> None:
    dashboard = Dashboard(web_config("mqtt://127.0.0.1:1"))
    whole: dict[str, Any] = {
        "key": "s/b",
        "label": None,
        "vitals": {"hr": {"value": 80}},
        "pumps": [],
    }
    whole |= {"devices": []}
    dashboard.journal.extend([Change("bed", whole)])
    faster = whole | {"vitals": {"hr": {"value": 90}}}
    dashboard.journal.extend([Change("bed", faster), Change("bed", faster)])
    encoded = EncodedEvents(dashboard)
    first, second, repeated = dashboard.journal.after(0) or []
    assert b"\nevent: bed\r\n" in encoded.encode([first])
    delta = encoded.encode([second])
    assert b"\nevent: bed_delta\r\n" in delta
    assert b'data: {"key":"s/b","vitals":{"hr":{"value":90}}}' in delta
    assert f"id: {dashboard.journal.epoch}-2".encode() in delta
    assert encoded.encode([repeated]) == b""  # nothing changed: nothing sent
    merged = encoded.encode([second, repeated])  # one event, id 3 covers 2
    assert merged.count(b"event: bed_delta") == 1
    assert f"id: {dashboard.journal.epoch}-3".encode() in merged


def journal_with_bed_update() -> EventJournal:
    journal = EventJournal()
    journal.extend([Change("bed", BED)])
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
    journal.extend([Change("bed", BED), Change("alarm", {"key": "site/a1"})])
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

"""Bed deltas: the parts a bed event changed, the ``bed_delta`` data, a page merging deltas ends
with the server's bed, and the journal sends the whole bed when a delta cannot say it all."""

from __future__ import annotations

import copy
from typing import Any

from edge.web.bed_changes import bed_delta, changed_parts
from edge.web.journal import WHOLE_BED_EVERY, EventJournal
from edge.web.state import Change
from tests.web.helpers import merge_bed


def measured(value: float, ts: str = "2026-01-01T10:00:00+00:00") -> dict[str, Any]:
    return {"value": value, "unit": "/min", "state": "valid", "code": "X", "ts": ts}


def pump(device_id: str, volume: float) -> dict[str, Any]:
    values = {"rate": measured(50.0), "volume": measured(volume)}
    return {"device_id": device_id, "state": "infusing", "drug": None, "bolus": False} | {
        "flags": [],
        "values": values,
        "ts": "2026-01-01T10:00:00+00:00",
    }


def device(device_id: str, kind: str, connection: str | None = "connected") -> dict[str, Any]:
    return {"device_id": device_id, "kind": kind, "connection": connection}


def whole_bed() -> dict[str, Any]:
    return {
        "key": "site/bed-1",
        "site": "site",
        "bed": "bed-1",
        "label": None,
        "edge_id": "edge-a",
        "vitals": {"hr": measured(80.0), "spo2": measured(97.0)},
        "pumps": [pump("p1", 1.0), pump("p2", 5.0)],
        "devices": [device("m1", "vitals"), device("p1", "pump"), device("p2", "pump")],
        "session": None,
    }


def test_a_reading_changes_only_its_values() -> None:
    old = whole_bed()
    new = copy.deepcopy(old)
    new["vitals"]["hr"] = measured(92.0, "2026-01-01T10:00:01+00:00")
    new["pumps"][1] = pump("p2", 6.0)
    parts = changed_parts(old, new)
    volume = ("pumps", "p2", "values", "volume", "value")
    assert parts == frozenset({("vitals", "hr", "value"), ("vitals", "hr", "ts"), volume})
    assert parts is not None
    delta = bed_delta(new, parts)
    assert delta == {
        "key": "site/bed-1",
        "vitals": {"hr": {"value": 92.0, "ts": "2026-01-01T10:00:01+00:00"}},
        "pumps": {"p2": {"values": {"volume": {"value": 6.0}}}},
    }
    assert merge_bed(old, delta) == new


def test_fields_of_the_bed_and_a_device_go_by_name() -> None:
    old = whole_bed()
    new = copy.deepcopy(old)
    new["label"] = "Window"
    new["session"] = {"session_id": "s1", "phase": "infusion"}  # was None: sent whole
    new["devices"][0] = device("m1", "vitals", "lost")
    parts = changed_parts(old, new)
    assert parts == frozenset({("label",), ("session",), ("devices", "m1", "connection")})
    assert parts is not None
    assert merge_bed(old, bed_delta(new, parts)) == new
    later = copy.deepcopy(new)
    later["session"]["phase"] = "observation"
    assert changed_parts(new, later) == frozenset({("session", "phase")})
    assert changed_parts(new, copy.deepcopy(new)) == frozenset()  # a repeated reading


def test_a_part_within_a_part_sent_whole_is_not_sent_twice() -> None:
    bed = whole_bed()
    parts = frozenset({("vitals", "hr"), ("vitals", "hr", "value")})
    assert bed_delta(bed, parts) == {"key": "site/bed-1", "vitals": {"hr": bed["vitals"]["hr"]}}


def test_a_device_or_a_value_that_comes_or_goes_needs_the_whole_bed() -> None:
    old = whole_bed()
    more = copy.deepcopy(old)
    more["pumps"].append(pump("p3", 0.0))
    more["devices"].append(device("p3", "pump"))
    assert changed_parts(old, more) is None
    assert changed_parts(more, old) is None
    assert changed_parts(None, old) is None
    fewer = copy.deepcopy(old)
    del fewer["vitals"]["spo2"]
    assert changed_parts(old, fewer) is None  # a value that goes away has no delta
    deeper = copy.deepcopy(old)
    del deeper["pumps"][0]["values"]["rate"]
    assert changed_parts(old, deeper) is None
    spo2 = copy.deepcopy(fewer)
    spo2["vitals"]["spo2"] = measured(95.0)
    assert changed_parts(fewer, spo2) == frozenset({("vitals", "spo2")})  # a new one: whole


def test_the_journal_records_the_parts_and_sends_the_whole_bed_now_and_then() -> None:
    journal = EventJournal()
    bed = whole_bed()
    journal.extend([Change("bed", bed)])
    for n in range(1, 2 * WHOLE_BED_EVERY):
        bed = copy.deepcopy(bed)
        bed["vitals"]["hr"] = measured(60.0 + n)
        journal.extend([Change("bed", bed)])
    parts = [event.parts for event in journal.after(0) or []]
    whole = [number for number, p in enumerate(parts) if p is None]
    assert whole == [0, WHOLE_BED_EVERY]  # the first, then every WHOLE_BED_EVERY th
    assert parts[1] == frozenset({("vitals", "hr", "value")})
    other = {"key": "site/bed-2", "vitals": {}, "pumps": [], "devices": []}
    journal.extend([Change("bed", other), Change("alarm", {"key": "site/a1"})])
    assert [event.parts for event in journal.after(journal.last - 2) or []] == [None, None]


def test_a_page_merging_every_delta_holds_the_servers_bed() -> None:
    journal = EventJournal()
    bed = whole_bed()
    page: dict[str, Any] | None = None
    for n in range(30):
        bed = copy.deepcopy(bed)
        if n % 3 == 0:
            bed["vitals"]["spo2"] = measured(90.0 + n % 7)
        if n % 5 == 0:
            bed["pumps"][0] = pump("p1", float(n))
        if n == 17:
            bed["pumps"].append(pump("p3", 0.0))
            bed["devices"].append(device("p3", "pump"))
        journal.extend([Change("bed", bed)])
        [event] = journal.after(journal.last - 1) or []
        page = bed if event.parts is None else merge_bed(page or {}, bed_delta(bed, event.parts))
        assert page == bed, n

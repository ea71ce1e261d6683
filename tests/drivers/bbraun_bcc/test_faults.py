"""Errors at a pump's address and answers from another rack: surfaced as device errors,
counted, never dropped, and never published as our pumps' readings."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from drivers.base import DeviceError, DeviceTarget
from drivers.bbraun_bcc.conversation import BccConversation
from drivers.bbraun_bcc.device import ComDevice, Pump
from drivers.bbraun_bcc.driver import build_conversation
from drivers.bbraun_bcc.faults import SLOT_ABSENT, reason
from drivers.bbraun_bcc.frames import BccFrame, stuff
from drivers.bbraun_bcc.identity import LEARNED, BedIdMemory
from drivers.bbraun_bcc.records import mem_get_slot_request
from drivers.readings import PumpReading
from tests.drivers.bbraun_bcc.harness import Wire

SLOTS = ("11", "12", "13")
TARGETS = [DeviceTarget(f"pump-{slot}", "bed-3", slot) for slot in SLOTS]
RACK = {slot: Pump(rate_ml_h=10.0, vtbi_ml=50.0, running=True) for slot in SLOTS}

# Golden bytes, checked by the sheet's rules below (length = 19 + bedId + information; check =
# sum SOH..ETX mod 256). G41 is the spec's own p.16 record, with the check the rule gives
# (00154; the sheet §11 notes the printed 00058 does not verify).
G41_PLAIN = b"\x0100046\x02ComSystem/1/1>207,50111,GNERR,41\x0300154\x04"
G41_WIRE = b"\x0100046\x02ComSysteem/1/1>207,50111,GNEERR,41\x0300154\x04"
G39_PLAIN = b"\x0100067\x02ComSystem/1/1>3605,50100,GNERR,11\x1e3605,50112,GNERR,39\x0300032\x04"
G811_PLAIN = b"\x0100048\x02ComSystem/1/1>3605,50113,GNERR,811\x0300008\x04"
G811_WIRE = b"\x0100048\x02ComSysteem/1/1>3605,50113,GNEERR,811\x0300008\x04"
FOREIGN_ALIVE_WIRE = b"\x0100046\x02OtheerRack/1/1>3605,50100,GNACK,0\x0300093\x04"


@pytest.fixture(autouse=True)
def forget_bed_ids() -> Iterator[None]:
    yield
    LEARNED.forget()


@pytest.mark.parametrize("plain", [G41_PLAIN, G39_PLAIN, G811_PLAIN])
def test_golden_error_answers_follow_the_sheets_rules(plain: bytes) -> None:
    assert int(plain[1:6]) == len(plain)
    assert int(plain[-6:-1]) == sum(plain[: plain.index(b"\x03") + 1]) % 256
    bed_id, _, information = plain[7 : plain.index(b"\x03")].partition(b"/1/1>")
    assert BccFrame(bed_id.decode(), information).to_bytes(stuffing=False) == plain


def test_golden_stuffed_forms() -> None:
    assert BccFrame("ComSystem", b"207,50111,GNERR,41").to_bytes(stuffing=True) == G41_WIRE
    assert BccFrame("OtherRack", b"3605,50100,GNACK,0").to_bytes(stuffing=True) == (
        FOREIGN_ALIVE_WIRE
    )


def test_the_simulator_answers_an_empty_slot_with_811() -> None:
    device = ComDevice({"11": Pump()})
    assert device.receive(mem_get_slot_request("ComSystem", "13").to_bytes(), 3605) == G811_WIRE


def polled(w: Wire) -> None:
    """Open and run through the ALIVE exchange, ready for MEM:GET."""
    w.open()
    w.run(0.2)


@pytest.mark.parametrize(
    ("wire_bytes", "device_id", "why"),
    [
        (G41_WIRE, "pump-11", "pump communication error (GNERR 41)"),
        (G811_WIRE, "pump-13", "slot empty: no pump at this address (GNERR 811)"),
    ],
)
def test_golden_error_answers_become_counted_device_errors(
    wire_bytes: bytes, device_id: str, why: str
) -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice(RACK))
    polled(w)
    w.device.muted = True  # the host's MEM:GET goes unanswered: we answer by hand
    w.run(0.5)
    exchange = w.host.receive(wire_bytes, w.at())
    assert exchange.readings == []
    assert DeviceError(device_id, why) in exchange.device_errors
    assert exchange.errors == []


def test_gnerr_39_and_11_in_one_answer() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice(RACK))
    polled(w)
    w.device.muted = True
    w.run(0.5)
    exchange = w.host.receive(stuff(G39_PLAIN), w.at())
    no_pumps = reason(11)
    assert exchange.device_errors == [
        DeviceError("pump-11", no_pumps, counted=False),
        DeviceError("pump-12", "slot empty: pump removed or not reachable (GNERR 39)"),
        DeviceError("pump-13", no_pumps, counted=False),
    ]


def test_a_communication_error_is_surfaced_every_poll_and_clears_with_data() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice(RACK))
    w.device.set_slot_error("12", 43)
    w.open()
    w.run_until(4)  # two polls of the two healthy pumps
    assert {r.device_id for r in w.readings} == {"pump-11", "pump-13"}
    assert w.device_errors == [DeviceError("pump-12", "pump communication error (GNERR 43)")] * 2
    w.device.set_slot_error("12", None)
    w.run_until(7)
    assert w.readings[-2].device_id == "pump-12"
    assert len(w.device_errors) == 2


def test_a_removed_pump_reads_as_slot_empty_once() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice(RACK))
    w.open()
    w.run_until(3)
    w.device.set_pumps({s: p for s, p in RACK.items() if s != "13"})
    w.run(3.0)  # three more polls
    assert w.device_errors == [
        DeviceError("pump-13", "slot empty: pump removed or not reachable (GNERR 39)")
    ]
    w.device.set_pumps(RACK)
    before = len(w.readings)
    w.run(1.5)
    assert "pump-13" in {r.device_id for r in w.readings[before:]}
    w.device.set_pumps({s: p for s, p in RACK.items() if s != "13"})
    w.run(1.5)
    assert len(w.device_errors) == 2  # removed again: reported again


def test_a_configured_slot_without_a_pump_reads_as_empty_uncounted_once() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice({"11": Pump()}))
    w.open()
    w.run(3.5)
    assert w.device_errors == [
        DeviceError("pump-12", SLOT_ABSENT, counted=False),
        DeviceError("pump-13", SLOT_ABSENT, counted=False),
    ]
    assert {r.device_id for r in w.readings} == {"pump-11"}


def test_an_empty_rack_reads_as_gnerr_11_once_per_pump() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice({}))
    w.open()
    w.run(3.5)
    assert w.device_errors == [DeviceError(t.device_id, reason(11), counted=False) for t in TARGETS]


def test_reasons_table() -> None:
    assert reason(39).startswith("slot empty")
    assert reason(811).startswith("slot empty")
    assert reason(45) == "pump communication error (GNERR 45)"
    assert "topology" in reason(52)
    assert reason(-1) == "rack error, unreadable GNERR code"
    assert reason(7) == "rack error (GNERR 7)"


def refusals(w: Wire) -> list[DeviceError]:
    return [e for e in w.device_errors if "another rack" in e.reason]


def test_an_answer_from_another_rack_is_refused_counted_and_alive_is_rerun() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice(RACK))
    w.open()
    w.run_until(3)
    w.device.answer_bed_id = "OtherRack"
    before = len(w.readings)
    w.run(3.0)
    assert len(w.readings) == before  # nothing from the other rack is published
    why = "answer from another rack refused (bedId 'OtherRack', expected 'ComSystem')"
    assert refusals(w)[:3] == [DeviceError(t.device_id, why) for t in TARGETS]
    assert len(refusals(w)) >= 6  # the MEM:GET answer, then the ALIVE answers, each refused
    said = [text for _, text in w.host_said()]
    assert "1:ADMIN:ALIVE" in said[said.index("ACK", 8) :]
    assert w.host.bed_id == "1"  # not adopted
    w.device.answer_bed_id = None
    w.run_until(before + 3)
    assert w.host.bed_id == "ComSystem"


def test_a_renamed_or_swapped_rack_is_refused_after_alive_too() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice(RACK))
    w.open()
    w.run_until(3)
    w.device.bed_id = "Bed7Rack"  # MEM:GET with ComSystem: GNERR 68, ALIVE answered as Bed7Rack
    w.run(4.0)
    assert len(w.readings) == 3
    assert refusals(w)[0] == DeviceError(
        "pump-11", "answer from another rack refused (bedId 'Bed7Rack', expected 'ComSystem')"
    )
    alives = [t for t, text in w.host_said() if text == "1:ADMIN:ALIVE"]
    assert len(alives) >= 3
    assert min(b - a for a, b in itertools.pairwise(alives[1:])) >= 1.0 - 1e-6


def test_the_configured_bed_id_is_required_from_the_first_contact() -> None:
    host = build_conversation(TARGETS, {"bed_id": "Bed7Rack", "poll_period_s": 1.0})
    assert isinstance(host, BccConversation)
    w = Wire(host, ComDevice(RACK))
    w.open()
    w.run(2.5)
    assert w.readings == []
    assert refusals(w)[0].reason == (
        "answer from another rack refused (bedId 'ComSystem', expected 'Bed7Rack')"
    )
    w.device.bed_id = "Bed7Rack"
    w.run_until(3)


def test_the_learned_bed_id_outlives_the_conversation() -> None:
    memory = BedIdMemory()
    first = Wire(BccConversation(TARGETS, poll_period_s=1.0, bed_ids=memory), ComDevice(RACK))
    first.open()
    first.run_until(3)
    swapped = ComDevice(RACK, bed_id="OtherRack")  # the link reopened on another rack
    second = Wire(BccConversation(TARGETS, poll_period_s=1.0, bed_ids=memory), swapped)
    second.open()
    second.run(2.5)
    assert second.readings == []
    assert len(refusals(second)) >= 3
    fresh = Wire(BccConversation(TARGETS, poll_period_s=1.0, bed_ids=BedIdMemory()), swapped)
    fresh.open()
    fresh.run_until(3)  # a restart forgets: the first rack answering is the one
    assert all(isinstance(r, PumpReading) for r in fresh.readings)


def test_bed_id_option_is_validated() -> None:
    with pytest.raises(ValueError, match="bed_id"):
        build_conversation(TARGETS, {"bed_id": "no spaces"})


def test_the_simulator_error_slot_and_bed_id_hooks() -> None:
    device = ComDevice({"11": Pump()})
    with pytest.raises(ValueError, match="slot"):
        device.set_slot_error("4Z", 41)
    device.set_slot_error("12", 41)  # no pump there: the record rides in the first block
    device.answer_bed_id = "OtherRack"
    w = Wire(BccConversation(TARGETS[:2], poll_period_s=1.0), device)
    w.open()
    assert any(b"OtheerRack" in data for _, who, data in w.log if who == "device")

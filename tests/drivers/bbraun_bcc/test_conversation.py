"""The host conversation wired to the ComDevice side: cycles, NAK, timeouts, GNERR."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Conversation, DeviceTarget, Instant
from drivers.bbraun_bcc.conversation import BccConversation
from drivers.bbraun_bcc.device import ComDevice, Pump
from drivers.bbraun_bcc.frames import BccFrame
from drivers.readings import PumpReading, VitalsReading
from tests.drivers.bbraun_bcc.harness import UPTIME0, WALL0, Wire
from tests.drivers.bbraun_bcc.vectors import S1_WIRE, S2_WIRE, S4_BLOCK2

SLOTS = ("11", "12", "13", "21")
TARGETS = [DeviceTarget(f"pump-{slot}", "bed-7", slot) for slot in SLOTS]
RACK = {
    slot: Pump(rate_ml_h=10.0 * n, vtbi_ml=100.0, infused_ml=float(n), running=True)
    for n, slot in enumerate(SLOTS, start=1)
}
ALIVE_1 = "1:ADMIN:ALIVE"
GET = "ComSystem:MEM:GET"


def wire(poll_period_s: float = 5.0, response_timeout_s: float = 5.0) -> Wire:
    host = BccConversation(
        TARGETS, poll_period_s=poll_period_s, response_timeout_s=response_timeout_s
    )
    return Wire(host, ComDevice(RACK))


def pump_readings(w: Wire) -> list[PumpReading]:
    return pump_readings_of(w.readings)


def pump_readings_of(readings: list[PumpReading | VitalsReading]) -> list[PumpReading]:
    return [r for r in readings if isinstance(r, PumpReading)]


def test_is_a_conversation() -> None:
    conversation: Conversation = BccConversation(TARGETS)
    assert conversation.next_tick_at() is None  # nothing due before open


def test_next_tick_at_names_the_ack_then_the_poll() -> None:
    w = wire(poll_period_s=1.0)
    w.open()  # ALIVE at 0; the answer arrives at once
    assert w.host.next_tick_at() == pytest.approx(0.1)  # its ACK, ACK_DELAY_S later
    w.run(0.1)
    assert w.host.next_tick_at() == pytest.approx(0.6)  # MEM:GET, MIN_POLL_GAP_S after the ACK
    w.run(0.5)
    assert w.host.next_tick_at() == pytest.approx(0.7)  # the ACK of the first answer block


def test_ticked_only_when_due_it_polls_every_period() -> None:
    host = BccConversation(TARGETS, poll_period_s=1.0)
    device = ComDevice(RACK)
    readings: list[PumpReading] = []

    def at(t: float) -> Instant:
        return Instant(t, WALL0 + timedelta(seconds=t))

    def deliver(data: bytes, t: float) -> None:
        answer = device.receive(data, UPTIME0 + t) if data else b""
        if answer:
            readings.extend(pump_readings_of(host.receive(answer, at(t)).readings))

    deliver(host.open(at(0.0)), 0.0)
    ticks, t = 0, 0.0
    while t < 10.0:
        due = host.next_tick_at()
        assert due is not None  # always something ahead
        assert due >= t  # never in the past
        t, ticks = due, ticks + 1
        deliver(host.tick(at(t)), t)
    polls = len(readings) // len(SLOTS)
    assert polls >= 9  # one answer per second
    assert ticks <= polls * (2 + len(SLOTS)) + 4  # a request and the ACKs, not 20 ticks a second


def test_full_cycle_with_a_rack_of_four() -> None:
    w = wire()
    w.open()
    w.run(1.0)
    assert w.host.bed_id == "ComSystem"
    assert w.host_said() == [
        (0.0, ALIVE_1),
        (0.1, "ACK"),
        (0.6, GET),
        (0.7, "ACK"),
        (0.8, "ACK"),
        (0.9, "ACK"),
        (1.0, "ACK"),
    ]
    readings = pump_readings(w)
    assert [r.device_id for r in readings] == [t.device_id for t in TARGETS]
    assert [r.value("MDC_FLOW_FLUID_PUMP") for r in readings] == [10.0, 20.0, 30.0, 40.0]
    assert [r.value("MDC_VOL_FLUID_TBI_REMAIN") for r in readings] == [99.0, 98.0, 97.0, 96.0]
    assert {r.pump.state for r in readings} == {"infusing"}
    # each reading carries the arrival time of its own block: GET at 0.6, then one per ACK
    assert [r.ts for r in readings] == [WALL0 + timedelta(seconds=s) for s in (0.6, 0.7, 0.8, 0.9)]
    assert w.frames_ok == 5
    assert w.errors == []


def test_polls_every_period_and_never_sooner_than_half_a_second_after_the_ack() -> None:
    w = wire(poll_period_s=2.0)
    w.open()
    w.run(7.0)
    gets = [time for time, said in w.host_said() if said == GET]
    assert gets == [0.6, 2.6, 4.6, 6.6]
    assert len(pump_readings(w)) == 16

    w = wire(poll_period_s=0.5)
    w.open()
    w.run(3.0)
    said = w.host_said()
    for index, (time, text) in enumerate(said):
        if text == GET and index > 1:
            assert said[index - 1][1] == "ACK"
            assert time - said[index - 1][0] >= 0.5 - 1e-9


def test_nak_and_retransmission() -> None:
    w = wire()
    w.open()
    w.run(1.0)
    w.device.corrupt_next_block()
    w.run(5.5)
    assert w.host_said()[7:13] == [
        (5.6, GET),
        (5.7, "NAK"),
        (5.8, "ACK"),
        (5.9, "ACK"),
        (6.0, "ACK"),
        (6.1, "ACK"),
    ]
    assert w.errors == ["checksum mismatch"]
    assert [r.value("MDC_FLOW_FLUID_PUMP") for r in pump_readings(w)[4:]] == [10, 20, 30, 40]


def test_bad_block_in_the_middle_of_an_answer() -> None:
    w = wire()
    w.open()
    w.run(0.75)  # GET at 0.6, ACKs at 0.7 and 0.8: the next block goes out at 0.8
    w.device.corrupt_next_block()
    w.run(0.5)
    assert w.host_said()[2:] == [
        (0.6, GET),
        (0.7, "ACK"),
        (0.8, "ACK"),
        (0.9, "NAK"),
        (1.0, "ACK"),
        (1.1, "ACK"),
    ]
    readings = pump_readings(w)
    assert [r.device_id for r in readings] == [t.device_id for t in TARGETS]
    assert readings[2].ts == WALL0 + timedelta(seconds=0.9)  # the retransmission's arrival


def test_device_that_stops_answering_gets_alive_again() -> None:
    w = wire(response_timeout_s=3.0)
    w.open()
    w.run(1.0)
    w.device.muted = True
    w.run(14.0)
    said = w.host_said()[7:]
    assert said == [(5.6, GET), (8.6, ALIVE_1), (11.6, ALIVE_1), (14.6, ALIVE_1)]
    alive_bytes = [data for time, who, data in w.log if who == "host" and time >= 8.6]
    assert set(alive_bytes) == {S1_WIRE}
    w.device.muted = False
    w.run_until(8)
    assert w.host_said()[11:14] == [(17.6, ALIVE_1), (17.7, "ACK"), (18.2, GET)]
    assert w.errors == []


def test_pump_removed_gives_no_reading_for_it() -> None:
    w = wire()
    w.open()
    w.run(1.0)
    w.device.set_pumps({slot: pump for slot, pump in RACK.items() if slot != "12"})
    w.run(10.0)
    later = pump_readings(w)[4:]
    assert [r.device_id for r in later] == ["pump-11", "pump-13", "pump-21"] * 2
    assert w.errors == []
    get_times = [time for time, said in w.host_said() if said == GET]
    assert get_times == [0.6, 5.6, 10.6]


def test_gnerr_68_runs_alive_again_and_refuses_a_new_bed_id() -> None:
    w = wire()
    w.open()
    w.run(1.0)
    w.device.bed_id = "Bed7Rack"  # its GNERR 68 comes framed as Bed7Rack: refused too
    w.run(12.0)
    assert [text for _, text in w.host_said()[7:11]] == [GET, "ACK", ALIVE_1, "ACK"]
    assert w.host_said()[9][0] - w.host_said()[7][0] >= 5.0 - 1e-6  # a poll period later
    assert w.host.bed_id == "1"  # another bedId than the one learned: refused (test_faults.py)
    assert len(w.readings) == 4
    assert "Bed7Rack:MEM:GET" not in [text for _, text in w.host_said()]


def test_endless_bad_blocks_start_over_with_alive() -> None:
    def spoil(data: bytes) -> bytes:
        return data[:-3] + b"9" + data[-2:]  # a checksum digit

    w = Wire(BccConversation(TARGETS), ComDevice(RACK), line=spoil)
    w.open()
    w.run(3.0)
    said = [text for _, text in w.host_said()]
    assert said[:9] == [ALIVE_1, "NAK", "NAK", "NAK", ALIVE_1, "NAK", "NAK", "NAK", ALIVE_1]
    assert w.readings == []
    assert len(w.errors) >= 8


@pytest.mark.parametrize("seed", range(3))
def test_noisy_line_never_gives_wrong_readings(seed: int) -> None:
    rng = random.Random(seed)

    def noisy(data: bytes) -> bytes:
        fault = rng.random()
        spoiled = bytearray(data)
        if not data:
            return data
        if fault < 0.15:
            spoiled[rng.randrange(len(spoiled))] ^= 1 << rng.randrange(8)
        elif fault < 0.25:
            del spoiled[rng.randrange(len(spoiled)) :]
        elif fault < 0.3:
            spoiled[rng.randrange(len(spoiled)) : 0] = rng.randbytes(rng.randrange(1, 20))
        return bytes(spoiled)

    w = Wire(BccConversation(TARGETS, poll_period_s=1.0, response_timeout_s=2.0), ComDevice(RACK))
    w.line = noisy
    w.open()
    w.run(120.0)
    readings = pump_readings(w)
    assert len(readings) > 100
    expected = {t.device_id: 10.0 * n for n, t in enumerate(TARGETS, start=1)}
    assert all(r.value("MDC_FLOW_FLUID_PUMP") == expected[r.device_id] for r in readings)
    assert w.errors


def test_alive_refused_is_retried_after_a_poll_period() -> None:
    host = BccConversation(TARGETS, poll_period_s=2.0)
    at = Instant(0.0, WALL0)
    assert host.open(at) == S1_WIRE
    refused = BccFrame("ComSystem", b"1,50100,GNERR,41").to_bytes()
    assert host.receive(refused, at).frames_ok == 1
    assert host.tick(Instant(0.1, WALL0)) == b"\x06"
    assert host.tick(Instant(1.95, WALL0)) == b""
    assert host.tick(Instant(2.0, WALL0)) == S1_WIRE
    assert host.bed_id == "1"


def test_empty_rack_keeps_polling_without_errors() -> None:
    w = Wire(BccConversation(TARGETS, poll_period_s=1.0), ComDevice({}))
    w.open()
    w.run(3.0)
    assert [text for _, text in w.host_said()].count(GET) == 3
    assert w.readings == []
    assert w.errors == []


def test_without_stuffing_on_both_ends() -> None:
    w = Wire(BccConversation(TARGETS, stuffing=False), ComDevice(RACK, stuffing=False))
    w.open()
    w.run_until(4)
    assert b"ComSystem" in w.log[1][2]
    assert w.errors == []


def test_stuffing_mismatch_is_reported_not_read() -> None:
    w = Wire(BccConversation(TARGETS, stuffing=False), ComDevice(RACK))
    w.open()
    w.run(2.0)
    assert w.readings == []
    assert w.errors
    assert all("length field" in e or "bedId" in e for e in w.errors)


def test_unexpected_blocks_are_counted_but_not_acknowledged() -> None:
    host = BccConversation(TARGETS)
    at = Instant(0.0, WALL0)
    host.open(at)
    host.receive(S2_WIRE, at)
    assert host.tick(Instant(0.1, WALL0)) == b"\x06"
    exchange = host.receive(S2_WIRE + b"\x01garbage\x04", Instant(0.2, WALL0))
    assert (exchange.frames_ok, len(exchange.errors)) == (1, 1)
    assert host.tick(Instant(0.35, WALL0)) == b""


def test_undecodable_block_is_acknowledged_and_reported() -> None:
    host = BccConversation(TARGETS[:1])
    at = Instant(0.0, WALL0)
    host.open(at)
    exchange = host.receive(BccFrame("ComSystem", b"not,a record").to_bytes(), at)
    assert exchange.frames_ok == 0
    assert exchange.errors == ["BCC record has 2 fields, expected 3 or 4"]
    assert host.tick(Instant(0.1, WALL0)) == b"\x06"


def test_close_sends_nothing_and_stops() -> None:
    host = BccConversation(TARGETS)
    host.open(Instant(0.0, WALL0))
    assert host.close(Instant(0.1, WALL0)) == b""
    assert host.tick(Instant(60.0, WALL0)) == b""


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ([], "at least one pump"),
        ([None], "None is not a B. Braun pump slot"),
        (["41"], "'41' is not"),
        (["10"], "'10' is not"),
        (["1P"], "'1P' is not"),
        (["1a"], "'1a' is not"),
        (["11", "11"], "slot 11 is used twice"),
        ([f"1{c}" for c in "123456789ABCDEFGHIJKLMNO"] + ["21"], "25 pumps"),
    ],
)
def test_targets_are_validated(addresses: list[str | None], message: str) -> None:
    targets = [DeviceTarget(f"p{n}", "b", address) for n, address in enumerate(addresses)]
    with pytest.raises(ValueError, match=message):
        BccConversation(targets)


def test_poll_period_has_a_floor() -> None:
    with pytest.raises(ValueError, match="poll_period_s"):
        BccConversation(TARGETS, poll_period_s=0.4)


def answer_phase_host(slot: str) -> BccConversation:
    """A host that has just sent MEM:GET to ComSystem, for one pump at ``slot``."""
    host = BccConversation([DeviceTarget("p", "b", slot)])
    host.open(Instant(0.0, WALL0))
    host.receive(S2_WIRE, Instant(0.0, WALL0))
    assert host.tick(Instant(0.1, WALL0)) == b"\x06"
    assert host.tick(Instant(0.6, WALL0)).endswith(b"MEEM:GEET\x0300153\x04")
    return host


def test_s4_block_gives_a_reading() -> None:
    exchange = answer_phase_host("12").receive(S4_BLOCK2.to_bytes(), Instant(0.7, WALL0))
    assert [r.value("MDC_FLOW_FLUID_PUMP") for r in exchange.readings] == [100.0]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_corrupted_block_never_yields_a_reading(data: st.DataObject) -> None:
    wire_bytes = bytearray(S4_BLOCK2.to_bytes())
    position = data.draw(st.integers(min_value=0, max_value=len(wire_bytes) - 1))
    wire_bytes[position] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    exchange = answer_phase_host("12").receive(bytes(wire_bytes), Instant(0.7, WALL0))
    assert exchange.readings == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8), st.booleans())
def test_host_never_raises_on_any_bytes(chunks: list[bytes], stuffing: bool) -> None:
    host = BccConversation(TARGETS, stuffing=stuffing)
    host.open(Instant(0.0, WALL0))
    for n, chunk in enumerate(chunks):
        at = Instant(0.3 * n, WALL0)
        host.receive(chunk, at)
        host.tick(at)

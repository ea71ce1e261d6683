"""The Asena host conversation with its pump side (sans I/O): the poll cycle, decoding into a
pump Reading, errors and retries, the remote-mode hint, and the read-only promise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.alaris_asena.codec import decode_inf, decode_syringe, decode_vtbi
from drivers.alaris_asena.commands import (
    QUERIES,
    REFUSED_COMMANDS,
    RefusedCommandError,
    encode_query,
    is_refused,
)
from drivers.alaris_asena.conversation import REMOTE_MODE_HINT, AsenaConversation
from drivers.alaris_asena.device import AsenaPump, PumpValues
from drivers.alaris_asena.framer import AsenaFrame, AsenaFramer, parse_frame
from drivers.base import DeviceTarget, Exchange, Instant
from drivers.errors import DecodeError
from drivers.readings import PumpReading
from drivers.registry import get_driver

TARGET = DeviceTarget("pump-1", "bed-1")
WALL0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
E2 = b"!INF^8002-51740^-^SET^75.00^ml/h^^12.500^ml^17.91^mmHg^24+^EVENT^127904|A9C5\r"


def at(t: float) -> Instant:
    return Instant(t, WALL0 + timedelta(seconds=t))


class Loop:
    """The conversation and a pump, wired byte for byte on a virtual clock."""

    def __init__(self, pump: AsenaPump, **options: float) -> None:
        self.pump = pump
        self.conversation = AsenaConversation([TARGET], **options)
        self.t = 0.0
        self.exchanges: list[Exchange] = []
        self.wire = self.conversation.open(at(0.0))

    def run(self, until: float) -> None:
        for _ in range(100_000):
            while self.wire:
                answer, self.wire = self.pump.receive(self.wire), b""
                if answer:
                    exchange = self.conversation.receive(answer, at(self.t))
                    self.exchanges.append(exchange)
                    self.wire = exchange.send
            due = self.conversation.next_tick_at()
            if due is None or due > until:
                return
            self.t = max(self.t, due)
            self.wire = self.conversation.tick(at(self.t))
        raise AssertionError("loop did not end")

    @property
    def readings(self) -> list[PumpReading]:
        found = [r for e in self.exchanges for r in e.readings]
        assert all(isinstance(r, PumpReading) for r in found)
        return [r for r in found if isinstance(r, PumpReading)]


def test_a_poll_cycle_gives_one_reading_with_every_value() -> None:
    pump = AsenaPump(PumpValues(rate_ml_h=75, infused_ml=12.5, vtbi_ml=35))
    loop = Loop(pump)
    loop.run(10.0)
    assert loop.conversation.serial == "8002-51740"
    assert pump.queries[:5] == ["INST_SERIALNO", "INF", "INF_VTBI", "SYRINGE_STATUS", "INF"]
    first = loop.readings[0]
    assert first.pump.state == "infusing"
    assert first.value("MDC_FLOW_FLUID_PUMP") == 75
    assert first.value("MDC_VOL_FLUID_DELIV") == 12.5
    assert first.value("MDC_VOL_FLUID_TBI_REMAIN") == 22.5
    assert first.value("X_ALARIS_PRESS_LINE") == pytest.approx(17.91)
    assert first.pump.drug == "syringe BD PLASTIPAK 50 mL"
    assert (first.conditions, first.pump.alarm_code) == ((), None)
    times = [(r.ts - WALL0).total_seconds() for r in loop.readings]
    assert times == [0.0, 3.0, 6.0, 9.0]  # every poll period


def test_an_alarm_code_is_published_raw_and_mapped_to_nothing() -> None:
    pump = AsenaPump(PumpValues(rate_ml_h=5, vtbi_ml=None, alarm_code="AL_UNKNOWN_42"))
    loop = Loop(pump)
    loop.run(1.0)
    (reading,) = loop.readings
    assert "ALARM" in pump.queries
    assert reading.conditions == ("device_alarm",)
    assert reading.pump.alarm_code == "AL_UNKNOWN_42"
    assert reading.pump.flags.model_dump() == dict.fromkeys(reading.pump.flags.model_dump(), False)
    assert reading.value("MDC_VOL_FLUID_TBI_REMAIN") is None  # no VTBI set


@pytest.mark.parametrize(
    ("values", "state", "end_of_volume"),
    [
        (PumpValues(rate_ml_h=0, infused_ml=3), "stopped", False),
        (PumpValues(rate_ml_h=1, infused_ml=35, vtbi_ml=35), "kvo", True),
        (PumpValues(rate_ml_h=52.5, infused_ml=34.9, vtbi_ml=35), "infusing", False),
    ],
)
def test_the_state_is_derived_from_rate_and_volumes(
    values: PumpValues, state: str, end_of_volume: bool
) -> None:
    loop = Loop(AsenaPump(values))
    loop.run(1.0)
    (reading,) = loop.readings
    assert (reading.pump.state, reading.pump.flags.end_of_volume) == (state, end_of_volume)


def test_the_sheet_example_decodes() -> None:
    inf = decode_inf(parse_frame(E2).fields)
    assert (inf.serial, inf.alarm, inf.rate_ml_h, inf.infused_ml) == ("8002-51740", "-", 75, 12.5)
    assert (inf.pressure_mmhg, inf.time_remaining, inf.log_id) == (17.91, "24+", "127904")
    vtbi = decode_vtbi(("INF_VTBI", "ACTIV", "11.000", "ml", "STOP"))
    assert (vtbi.active, vtbi.vtbi_ml) == (True, 11.0)
    assert decode_vtbi(("INF_VTBI", "DEACT", "", "ml", "STOP")).vtbi_ml is None
    syringe = parse_frame(b"!SYRINGE_STATUS^BD PLASTIPAK^ 50^CONF|1CF8\r").fields
    assert decode_syringe(syringe) == "syringe BD PLASTIPAK 50 mL"


@pytest.mark.parametrize(
    "fields",
    [
        ("INF", "s", "-", "SET", "75.00", "l/h", "", "1", "ml", "1", "mmHg", "24+", "E", "1"),
        ("INF", "s", "-", "SET", "75.00", "ml/h", "", "1", "ml", "1", "kPa", "24+", "E", "1"),
        ("INF", "s", "-", "SET", "nan", "ml/h", "", "1", "ml", "1", "mmHg", "24+", "E", "1"),
        ("INF", "s", "-", "SET", "75.00", "ml/h", "", "1", "ml"),
        ("ALARM", "AL_NOALM"),
    ],
)
def test_an_inf_answer_with_wrong_units_or_fields_does_not_decode(fields: tuple[str, ...]) -> None:
    with pytest.raises(DecodeError):
        decode_inf(fields)


def test_a_spoiled_answer_is_asked_again_and_the_cycle_completes() -> None:
    pump = AsenaPump(PumpValues(rate_ml_h=10))
    loop = Loop(pump)
    loop.run(0.0)
    pump.spoil_next_frame()
    loop.run(3.0)
    assert sum(len(e.errors) for e in loop.exchanges) == 1
    assert len(loop.readings) == 2
    assert pump.queries.count("INF") == 3  # one INF asked twice


def test_a_silent_pump_is_retried_then_the_handshake_redone() -> None:
    pump = AsenaPump(PumpValues(rate_ml_h=10))
    loop = Loop(pump)
    loop.run(0.0)
    pump.muted = True
    loop.run(60.0)
    # each cycle: INF, once more after 4 s; three failed cycles: INST_SERIALNO again
    assert loop.conversation.sent[4:11] == ["INF"] * 6 + ["INST_SERIALNO"]
    pump.muted = False
    before = len(loop.readings)
    loop.run(200.0)
    assert len(loop.readings) > before


def test_a_pump_that_will_not_answer_status_gets_the_remote_mode_hint_and_nothing_more() -> None:
    pump = AsenaPump(PumpValues(rate_ml_h=10))
    pump.status_needs_remote = True
    loop = Loop(pump)
    loop.run(120.0)
    errors = [d for e in loop.exchanges for d in e.device_errors]
    assert errors
    assert {d.reason for d in errors} == {REMOTE_MODE_HINT}
    assert "remote mode enabled on its own panel" in REMOTE_MODE_HINT
    assert not loop.readings
    assert pump.refused == []
    assert set(pump.queries) == {"INST_SERIALNO", "INF"}


# -- the read-only promise ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        *sorted(REFUSED_COMMANDS),
        "REMOTE_CTRL^ENABLED^3CC1",
        "REMOTE_CTRL^DISABLED",
        "INF_RATE^10.00^ml/h",
        "INF_VTBI^ACTIV^11.000^ml^STOP",
        "INF_VTBI^DEACT",
        "INF_BOLUS^ENABLED",
        "REMQUERY^DEACT",
        "INF^X",
    ],
)
def test_the_encoder_refuses_every_command_that_changes_the_pump(body: str) -> None:
    assert is_refused(body)
    with pytest.raises(RefusedCommandError):
        encode_query(body)


def test_only_bare_queries_are_allowed() -> None:
    assert not QUERIES & REFUSED_COMMANDS
    assert all(not is_refused(name) for name in QUERIES)


def _sent_bodies(data: bytes) -> list[str]:
    return [item.body for item in AsenaFramer().feed(data) if isinstance(item, AsenaFrame)]


def _run_against_a_pump(steps: list[tuple[float, str]], noise: bytes) -> tuple[bytes, AsenaPump]:
    """Drive a conversation with a simulated pump through ``steps`` (gap s, action: a tick,
    ``noise`` received, the pump's answer, or its answer with the next frame spoiled), then
    close it; every byte the host sent, and the pump."""
    conversation = get_driver("alaris_asena").conversation([TARGET], None)
    pump = AsenaPump(PumpValues(rate_ml_h=3, alarm_code="AL_X", vtbi_ml=2))
    t = 0.0
    sent = conversation.open(at(t))
    for gap, action in steps:
        t += gap
        if action == "tick":
            sent += conversation.tick(at(t))
        elif action == "noise":
            sent += conversation.receive(noise, at(t)).send
        else:
            if action == "spoil":
                pump.spoil_next_frame()
            sent += conversation.receive(pump.receive(sent), at(t)).send
    return sent + conversation.close(at(t)), pump


def test_a_cycle_that_fails_while_a_resync_waits_leaves_nothing_to_resend() -> None:
    """A wrong answer schedules a resend after the resync pause; the query's deadline passing
    first ends the cycle, and with it the resend (found by the property test below: the next
    tick raised on a resend of nothing, which restarts the link)."""
    steps = [(4.0, "tick"), (0.0, "answer"), (0.0, "tick"), (4.0, "tick"), (4.0, "tick")]
    steps += [(0.0, "tick"), (0.0, "spoil"), (1.0, "tick"), (4.0, "answer"), (0.0, "tick")]
    steps += [(1.0, "tick"), (5.0, "tick"), (0.0, "answer")]
    sent, pump = _run_against_a_pump(steps, b"")  # raised before the fix
    assert all(body in QUERIES for body in _sent_bodies(sent))
    assert pump.refused == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 20), st.sampled_from(["tick", "noise", "answer", "spoil"])),
        max_size=40,
    ),
    st.binary(max_size=80),
)
def test_whatever_comes_in_the_conversation_sends_only_read_only_queries(
    steps: list[tuple[float, str]], noise: bytes
) -> None:
    sent, pump = _run_against_a_pump(steps, noise)
    assert all(body in QUERIES for body in _sent_bodies(sent))
    assert pump.refused == []

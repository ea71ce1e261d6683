"""textline framer: whole, byte by byte, with garbage, corruption, truncation; never raises."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadFrame, DeviceTarget, Instant, StreamConversation
from drivers.textline.codec import decode, encode_pump, encode_vitals
from drivers.textline.frames import MAX_LINE, LineFrame, TextLineFramer

VITALS = encode_vitals({"SBP": 120, "DBP": 80, "HR": 72})
PUMP = encode_pump("infusing", {"RATE": 52.5, "VI": 3.25}, drug="Ketamine", flags=("near_end",))
AT = Instant(0.0, datetime(2026, 11, 24, tzinfo=UTC))
TARGET = DeviceTarget("dev-1", "bed-1")


def frames(out: list[LineFrame | BadFrame]) -> list[LineFrame]:
    return [item for item in out if isinstance(item, LineFrame)]


def test_golden_bytes() -> None:
    assert VITALS.to_bytes() == b"$VIT,SBP=120,DBP=80,HR=72*69\r\n"


def test_round_trip() -> None:
    framer = TextLineFramer()
    assert framer.feed(VITALS.to_bytes() + PUMP.to_bytes()) == [VITALS, PUMP]


def test_byte_by_byte() -> None:
    framer = TextLineFramer()
    out: list[LineFrame | BadFrame] = []
    for byte in VITALS.to_bytes() + PUMP.to_bytes():
        out += framer.feed(bytes([byte]))
    assert out == [VITALS, PUMP]


def test_garbage_between_frames_is_skipped() -> None:
    framer = TextLineFramer()
    out = framer.feed(b"\x00\xffnoise" + VITALS.to_bytes() + b"\r\n\r\nxx" + PUMP.to_bytes())
    assert frames(out) == [VITALS, PUMP]


def test_flipped_bit_is_a_bad_frame_then_resync() -> None:
    corrupted = bytearray(VITALS.to_bytes())
    corrupted[8] ^= 0x04
    out = TextLineFramer().feed(bytes(corrupted) + PUMP.to_bytes())
    assert out == [BadFrame("checksum mismatch"), PUMP]


def test_truncated_line_is_reported_when_the_next_starts() -> None:
    out = TextLineFramer().feed(VITALS.to_bytes()[:12] + PUMP.to_bytes())
    assert isinstance(out[0], BadFrame)
    assert out[1:] == [PUMP]


def test_overlong_line_is_dropped_and_buffer_capped() -> None:
    framer = TextLineFramer()
    out = framer.feed(b"$" + b"A" * (MAX_LINE + 10))
    assert out == [BadFrame(f"line longer than {MAX_LINE} bytes")]
    assert framer.feed(VITALS.to_bytes()) == [VITALS]


def test_decode_vitals_and_pump() -> None:
    (vitals,) = decode(VITALS, TARGET, AT)
    assert vitals.kind == "vitals"
    assert vitals.value("MDC_PRESS_BLD_NONINV_SYS") == 120
    (pump,) = decode(PUMP, TARGET, AT)
    assert pump.kind == "pump"
    assert pump.pump.state == "infusing"
    assert pump.pump.flags.near_end
    assert pump.value("MDC_VOL_FLUID_DELIV") == 3.25


def test_bad_content_is_an_error_not_a_reading() -> None:
    conversation = StreamConversation(TextLineFramer(), decode, TARGET)
    bad = LineFrame("VIT", (("SBP", "high"),)).to_bytes()
    bad += encode_pump("flying", {"RATE": 1}).to_bytes()  # type: ignore[arg-type]
    bad += LineFrame("XYZ", ()).to_bytes()
    exchange = conversation.receive(bad + VITALS.to_bytes(), AT)
    assert len(exchange.errors) == 3
    assert exchange.frames_ok == 1
    assert [r.kind for r in exchange.readings] == ["vitals"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_no_input_makes_the_framer_raise(chunks: list[bytes]) -> None:
    framer = TextLineFramer()
    for chunk in chunks:
        for item in framer.feed(chunk):
            assert isinstance(item, LineFrame | BadFrame)
    assert len(framer._buffer) <= MAX_LINE + 300


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=len(VITALS.to_bytes()) - 5), st.integers(1, 255))
def test_a_corrupted_line_never_yields_a_reading(position: int, flip: int) -> None:
    corrupted = bytearray(VITALS.to_bytes())
    corrupted[position] ^= flip
    conversation = StreamConversation(TextLineFramer(), decode, TARGET)
    exchange = conversation.receive(bytes(corrupted), AT)
    # A flip inside the body changes the XOR, so the line is refused, never decoded wrongly.
    assert exchange.readings == []
    assert exchange.errors

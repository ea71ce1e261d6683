"""The Asena framer and CRC against the fact sheet's worked examples (§2, §3, §6), and fed
whole, byte by byte, with garbage, flipped bits and truncation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.alaris_asena.commands import encode_query
from drivers.alaris_asena.framer import (
    MAX_FRAME,
    AsenaFrame,
    AsenaFramer,
    FrameError,
    crc16_ccitt_false,
    parse_frame,
)
from drivers.base import BadFrame

PROPERTY = settings(max_examples=300, deadline=None)

E1 = bytes.fromhex("21 49 4E 46 7C 34 39 36 31 0D")  # !INF|4961
E2 = b"!INF^8002-51740^-^SET^75.00^ml/h^^12.500^ml^17.91^mmHg^24+^EVENT^127904|A9C5\r"
E3 = bytes.fromhex("21 49 4E 46 5F 56 54 42 49 7C 38 34 35 36 0D")  # !INF_VTBI|8456
E4 = bytes.fromhex("21 41 4C 41 52 4D 7C 35 30 42 32 0D")  # !ALARM|50B2
E5 = b"!ALARM^AL_NOALM^ ^ |C73B\r"
E6 = b"!COMMS_PROTOCOL^Asena Rev 2.1.5|661A\r"
CAPTURES = [
    E1,
    E2,
    E3,
    E4,
    E5,
    E6,
    b"!INST_SERIALNO|457D\r",
    b"!INST_SERIALNO^8002-51740|050B\r",
    b"!COMMS_PROTOCOL|E8DA\r",
    b"!COMMS_RESPONSE_MAX^4000^ms|DFDF\r",
    b"!SYRINGE_STATUS|4102\r",
    b"!SYRINGE_STATUS^BD PLASTIPAK^ 50^CONF|1CF8\r",
    b"!INF_RATE_MAX_SYRINGE^1200.00^ml/h|8575\r",
]
STREAM = b"".join(CAPTURES)


def frames(items: list[AsenaFrame | BadFrame]) -> list[AsenaFrame]:
    return [item for item in items if isinstance(item, AsenaFrame)]


def test_crc_check_value_and_remote_keys() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"INF") == 0x4961
    # the remote-control key is the CRC of the serial (recognised, never sent)
    assert crc16_ccitt_false(b"8002-51740") == 0x3CC1
    assert crc16_ccitt_false(b"8002-51733") == 0x9535


@pytest.mark.parametrize("wire", CAPTURES)
def test_every_published_capture_parses_and_round_trips(wire: bytes) -> None:
    frame = parse_frame(wire)
    assert frame.to_bytes() == wire
    assert AsenaFrame.of(*frame.fields) == frame


def test_the_queries_encode_as_the_sheet_gives_them() -> None:
    assert encode_query("INF") == E1
    assert encode_query("INF_VTBI") == E3
    assert encode_query("ALARM") == E4


def test_the_inf_example_has_fourteen_fields() -> None:
    fields = parse_frame(E2).fields
    assert len(fields) == 14
    assert fields[:5] == ("INF", "8002-51740", "-", "SET", "75.00")


def test_the_capture_whose_crc_does_not_verify_is_a_bad_frame() -> None:
    (item,) = AsenaFramer().feed(b"!REMQUERY^DEACT^^^|E5C9\r")
    assert isinstance(item, BadFrame)
    assert "expected B968" in item.reason


def test_whole_and_byte_by_byte_give_the_same_frames() -> None:
    whole = AsenaFramer().feed(STREAM)
    framer = AsenaFramer()
    one_by_one = [item for byte in STREAM for item in framer.feed(bytes((byte,)))]
    assert whole == one_by_one
    assert [f.to_bytes() for f in frames(whole)] == CAPTURES


def test_garbage_between_frames_is_dropped_and_counted() -> None:
    framer = AsenaFramer()
    items = framer.feed(b"\x00\xffnoise\r" + E1 + b"junk" + E5)
    assert [f.to_bytes() for f in frames(items)] == [E1, E5]
    assert not [item for item in items if isinstance(item, BadFrame)]
    assert framer.dropped == len(b"\x00\xffnoise\r") + len(b"junk")


def test_a_truncated_frame_is_reported_and_the_next_one_read() -> None:
    items = AsenaFramer().feed(E2[:30] + E5)
    assert isinstance(items[0], BadFrame)
    assert "cut short" in items[0].reason
    assert frames(items) == [parse_frame(E5)]


def test_an_overlong_frame_is_dropped_until_the_next_start() -> None:
    items = AsenaFramer().feed(b"!" + b"A" * (MAX_FRAME + 10) + b"\r" + E1)
    assert isinstance(items[0], BadFrame)
    assert frames(items) == [parse_frame(E1)]


@pytest.mark.parametrize(
    "wire",
    [b"!INF4961\r", b"!INF|4961x\r", b"!INF|4g61\r", b"!INF|4961", b"!|FFFF\r", b"!INF|4961\n"],
)
def test_malformed_frames_are_refused(wire: bytes) -> None:
    with pytest.raises(FrameError):
        parse_frame(wire)


def test_a_lower_case_check_is_refused() -> None:
    with pytest.raises(FrameError):
        parse_frame(b"!ALARM^AL_NOALM^ ^ |c73b\r")


@PROPERTY
@given(st.binary(max_size=600), st.integers(1, 64))
def test_any_bytes_in_any_chunks_never_raise(data: bytes, chunk: int) -> None:
    framer = AsenaFramer()
    for start in range(0, len(data), chunk):
        for item in framer.feed(data[start : start + chunk]):
            assert isinstance(item, AsenaFrame | BadFrame)


@PROPERTY
@given(st.sampled_from(CAPTURES), st.data())
def test_a_flipped_bit_never_yields_a_changed_frame(wire: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(wire) - 1))
    bit = data.draw(st.integers(0, 7))
    spoiled = wire[:index] + bytes((wire[index] ^ (1 << bit),)) + wire[index + 1 :]
    for item in AsenaFramer().feed(spoiled):
        # CRC-16 catches every single-bit error: no frame but an intact one comes out
        assert isinstance(item, BadFrame) or item.to_bytes() in CAPTURES


@PROPERTY
@given(st.sampled_from(CAPTURES), st.data())
def test_a_truncated_capture_never_yields_a_frame(wire: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(1, len(wire) - 1))
    framer = AsenaFramer()
    assert not frames(framer.feed(wire[:cut] + wire[cut + 1 :]))

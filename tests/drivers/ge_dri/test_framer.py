"""The DRI framer and record layer: golden vectors, escaping, resync, faults, and a property
test that no byte sequence makes it raise or pass a corrupted frame."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadFrame
from drivers.ge_dri.framer import DriFramer, escape, frame
from drivers.ge_dri.records import (
    DISPL,
    MT_PHDB,
    Header,
    PhdbRequest,
    Subrecord,
    build_record,
    parse_record,
)
from tests.drivers.ge_dri.vectors import E1_DISPL_10S_EXT123, E2_DEFAULT_REQUEST, E4_BASIC_RECORD

PROPERTY = settings(max_examples=300, deadline=None)
E4_RECORD = E4_BASIC_RECORD[1:-2]  # no flags, no checksum (none of its bytes is escaped)


def feed(framer: DriFramer, data: bytes, size: int) -> list[bytes | BadFrame]:
    out: list[bytes | BadFrame] = []
    for start in range(0, len(data), size):
        out += framer.feed(data[start : start + size])
    return out


def records(items: Sequence[bytes | BadFrame]) -> list[bytes]:
    return [item for item in items if isinstance(item, bytes)]


def bad(items: Sequence[bytes | BadFrame]) -> list[str]:
    return [item.reason for item in items if isinstance(item, BadFrame)]


def test_requests_match_the_spec_examples_byte_for_byte() -> None:
    assert frame(PhdbRequest(DISPL, 10, 0x0E).to_record()) == E1_DISPL_10S_EXT123
    assert frame(PhdbRequest().to_record()) == E2_DEFAULT_REQUEST
    assert E1_DISPL_10S_EXT123[-2] == 0x49
    assert E2_DEFAULT_REQUEST[-2] == 0x36


def test_the_example_record_is_accepted_and_reframed_identically() -> None:
    (record,) = DriFramer().feed(E4_BASIC_RECORD)
    assert record == E4_RECORD
    assert len(record) == 0x13E
    assert frame(record) == E4_BASIC_RECORD
    header, subrecords = parse_record(record)
    assert header == Header(0x13E, 0, 10, 0, 0x67751220, MT_PHDB)
    assert [(sub.type, len(sub.data)) for sub in subrecords] == [(1, 278)]


def test_a_checksum_of_0x7d_goes_out_escaped() -> None:
    # The 60 s trend example sums to 0x7D: its checksum is sent as 7D 5D.
    record = PhdbRequest(3, 60, 0x0E).to_record()  # 0x31 + 0xFF + 0x03 + 0x3C + 0x0E
    assert sum(record) & 0xFF == 0x7D
    wire = frame(record)
    assert wire[-3:] == b"\x7d\x5d\x7e"
    assert DriFramer().feed(wire) == [record]


def test_escaping_round_trips_flags_and_escapes() -> None:
    assert escape(b"\x7e\x7d\x01") == b"\x7d\x5e\x7d\x5d\x01"
    record = build_record(MT_PHDB, (Subrecord(1, bytes([0x7E, 0x7D] * 10)),))
    assert DriFramer().feed(frame(record)) == [record]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 10_000])
def test_fed_whole_or_in_pieces(chunk: int) -> None:
    wire = E4_BASIC_RECORD + E2_DEFAULT_REQUEST
    assert feed(DriFramer(), wire, chunk) == [E4_RECORD, E2_DEFAULT_REQUEST[1:-2]]


def test_garbage_between_frames_is_reported_and_frames_survive() -> None:
    wire = b"\x00noise" + E4_BASIC_RECORD + b"junk\x01\x02" + E2_DEFAULT_REQUEST + b"\x7e\x7e"
    items = DriFramer().feed(wire)
    assert records(items) == [E4_RECORD, E2_DEFAULT_REQUEST[1:-2]]
    assert len(bad(items)) == 1  # the junk between the two frames


def test_a_flipped_bit_is_rejected_by_the_checksum() -> None:
    for index in (5, 60, 200, len(E4_BASIC_RECORD) - 2):
        wire = bytearray(E4_BASIC_RECORD)
        wire[index] ^= 0x04
        items = DriFramer().feed(bytes(wire) + E2_DEFAULT_REQUEST)
        assert records(items) == [E2_DEFAULT_REQUEST[1:-2]], index
        assert len(bad(items)) == 1
        assert "checksum" in bad(items)[0] or "length" in bad(items)[0]


def test_a_truncated_frame_is_dropped_and_the_next_one_read() -> None:
    items = DriFramer().feed(E4_BASIC_RECORD[:150] + E2_DEFAULT_REQUEST)
    assert records(items) == [E2_DEFAULT_REQUEST[1:-2]]
    assert bad(items)
    assert "length" in bad(items)[0]


def test_an_overlong_frame_is_dropped() -> None:
    framer = DriFramer(max_record=100)
    items = framer.feed(b"\x7e" + bytes(500) + E2_DEFAULT_REQUEST)
    assert bad(items) == ["frame longer than 101 bytes"]
    assert records(items) == [E2_DEFAULT_REQUEST[1:-2]]


def test_an_escape_before_the_closing_flag_is_bad() -> None:
    assert bad(DriFramer().feed(E2_DEFAULT_REQUEST[:-1] + b"\x7d\x7e")) != []


@PROPERTY
@given(st.binary(max_size=600), st.integers(1, 64))
def test_no_input_makes_the_framer_raise(data: bytes, chunk: int) -> None:
    items = feed(DriFramer(), data, chunk)
    for item in items:
        if isinstance(item, bytes):  # anything accepted is a self-consistent record
            assert len(item) >= 40
            assert int.from_bytes(item[:2], "little") == len(item)


@PROPERTY
@given(st.integers(1, len(E4_BASIC_RECORD) - 2), st.integers(0, 7))
def test_no_single_flipped_bit_yields_a_record(index: int, bit: int) -> None:
    wire = bytearray(E4_BASIC_RECORD)
    wire[index] ^= 1 << bit
    assert records(DriFramer().feed(bytes(wire))) == []

"""The BCC framer: whole, byte by byte, with garbage, flipped bits, truncation, overlong."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadFrame
from drivers.bbraun_bcc.framer import BccFramer, FramerItem
from drivers.bbraun_bcc.frames import BccFrame, Control
from tests.drivers.bbraun_bcc.vectors import (
    S1_WIRE,
    S2_PLAIN,
    S2_WIRE,
    S3_WIRE,
    S4_BLOCK1,
    S4_BLOCK2,
)

S4_WIRE = S4_BLOCK1.to_bytes() + S4_BLOCK2.to_bytes()
PROPERTY = settings(max_examples=250, deadline=None)


def feed_in_chunks(framer: BccFramer, data: bytes, size: int) -> list[FramerItem]:
    out: list[FramerItem] = []
    for start in range(0, len(data), size):
        out += framer.feed(data[start : start + size])
    return out


def frames(items: Sequence[FramerItem]) -> list[BccFrame]:
    return [item for item in items if isinstance(item, BccFrame)]


def bad(items: Sequence[FramerItem]) -> list[str]:
    return [item.reason for item in items if isinstance(item, BadFrame)]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 10_000])
def test_fed_whole_or_in_pieces(chunk: int) -> None:
    items = feed_in_chunks(BccFramer(), S4_WIRE, chunk)
    assert items == [S4_BLOCK1, S4_BLOCK2]


def test_controls_between_frames_in_wire_order() -> None:
    data = b"\x06" + S1_WIRE + b"\x15\x15" + S2_WIRE + b"\x06"
    items = BccFramer().feed(data)
    assert items[0] is Control.ACK
    assert isinstance(items[1], BccFrame)
    assert items[2:4] == [Control.NAK, Control.NAK]
    assert isinstance(items[4], BccFrame)
    assert items[5] is Control.ACK


def test_garbage_between_frames_is_dropped_and_counted() -> None:
    framer = BccFramer()
    data = b"\x00noise\xff" + S1_WIRE + b"\x04\x03xyz" + S3_WIRE + b"tail"
    items = feed_in_chunks(framer, data, 3)
    assert [f.information for f in frames(items)] == [b"ADMIN:ALIVE", b"MEM:GET"]
    assert bad(items) == []
    assert framer.dropped == len(b"\x00noise\xff\x04\x03xyztail")


def test_unstuffed_framer_reads_unstuffed_frames() -> None:
    framer = BccFramer(stuffing=False)
    assert frames(framer.feed(S2_PLAIN)) == [BccFrame("ComSystem", b"3605,50100,GNACK,0")]
    assert bad(framer.feed(S2_WIRE)) == ["length field says 46 bytes, frame has 47"]


def test_stuffed_framer_rejects_unstuffed_frames() -> None:
    assert bad(BccFramer().feed(S2_PLAIN)) == ["bad stuffing escape at byte 14"]  # the e of "tem"


def test_truncated_frame_resyncs_on_the_next_soh() -> None:
    framer = BccFramer()
    items = framer.feed(S4_BLOCK1.to_bytes()[:300] + S4_BLOCK2.to_bytes())
    assert len(bad(items)) == 1
    assert "cut short" in bad(items)[0]
    assert frames(items) == [S4_BLOCK2]


def test_truncated_frame_at_the_end_is_held() -> None:
    framer = BccFramer()
    assert framer.feed(S1_WIRE[:-1]) == []
    assert framer.in_frame
    framer.reset()
    assert not framer.in_frame
    assert frames(framer.feed(S1_WIRE)) == [BccFrame("1", b"ADMIN:ALIVE")]


def test_overlong_frame_is_dropped_then_resyncs() -> None:
    framer = BccFramer(max_frame=1024)
    items = feed_in_chunks(framer, b"\x01" + b"A" * 5000 + b"\x04" + S1_WIRE, 100)
    assert bad(items) == ["frame longer than 1024 bytes"]
    assert len(frames(items)) == 1
    assert not framer.in_frame


def test_default_cap_takes_a_large_real_block() -> None:
    block = BccFrame("ComSystem", b"1,50111,INSOL," + b"d" * 3000)  # 6 KB when stuffed
    assert frames(BccFramer().feed(block.to_bytes())) == [block]


def test_one_huge_chunk_does_not_grow_the_buffer() -> None:
    framer = BccFramer()
    items = framer.feed(b"\x01" + b"x" * 1_000_000)
    assert bad(items) == ["frame longer than 8192 bytes"]
    assert not framer.in_frame


@pytest.mark.parametrize("wire", [S1_WIRE, S2_WIRE, S4_BLOCK2.to_bytes()], ids=["S1", "S2", "S4b2"])
def test_every_single_bit_flip_is_caught(wire: bytes) -> None:
    for position in range(len(wire)):
        for bit in range(8):
            corrupted = bytearray(wire)
            corrupted[position] ^= 1 << bit
            items = BccFramer().feed(bytes(corrupted) + S1_WIRE)
            good = frames(items)
            assert good in ([], [BccFrame("1", b"ADMIN:ALIVE")]), (position, bit)


def test_flipped_checksum_bit_gives_a_reason() -> None:
    wire = bytearray(S4_BLOCK2.to_bytes())
    wire[-3] ^= 0x01  # a checksum digit
    assert bad(BccFramer().feed(bytes(wire))) == ["checksum mismatch"]


@PROPERTY
@given(st.binary(max_size=3000), st.booleans(), st.integers(min_value=1, max_value=64))
def test_framer_never_raises(data: bytes, stuffing: bool, chunk: int) -> None:
    framer = BccFramer(stuffing=stuffing, max_frame=2048)
    for item in feed_in_chunks(framer, data, chunk):
        assert isinstance(item, BccFrame | BadFrame | Control)


@PROPERTY
@given(
    st.lists(
        st.sampled_from([S1_WIRE, S2_WIRE, S3_WIRE, b"\x06", b"\x15", b"\x01", b"\x04", b"E"])
        | st.binary(max_size=20),
        max_size=12,
    ),
    st.integers(min_value=1, max_value=40),
)
def test_frame_soup_gives_the_same_items_whole_or_in_pieces(parts: list[bytes], chunk: int) -> None:
    whole, pieces = BccFramer(), BccFramer()
    assert feed_in_chunks(pieces, b"".join(parts), chunk) == whole.feed(b"".join(parts))
    assert pieces.dropped == whole.dropped
    assert pieces.in_frame == whole.in_frame

"""The framer fed whole, byte by byte, with garbage, damage, truncation and aborts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadFrame
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.frames import MAX_USER_DATA, Frame, parse_content
from tests.drivers.intellivue.vectors import EXAMPLES, S3_MDS_CREATE_EVENT, S6_EXTENDED_POLL_RESULT

ALL_WIRE = b"".join(example[1] for example in EXAMPLES)
ALL_FRAMES = [Frame.from_bytes(example[1]) for example in EXAMPLES]


def frames(items: list[Frame | BadFrame]) -> list[Frame]:
    return [item for item in items if isinstance(item, Frame)]


def bad(items: list[Frame | BadFrame]) -> list[str]:
    return [item.reason for item in items if isinstance(item, BadFrame)]


def test_whole_stream() -> None:
    assert IntelliVueFramer().feed(ALL_WIRE) == ALL_FRAMES


def test_byte_by_byte() -> None:
    framer = IntelliVueFramer()
    out = [item for byte in ALL_WIRE for item in framer.feed(bytes((byte,)))]
    assert out == ALL_FRAMES


def test_garbage_between_frames_is_ignored() -> None:
    garbage = bytes.fromhex("00 FF 7D 11 01 C1 C1 41 42 7D")
    stream = garbage + S3_MDS_CREATE_EVENT + garbage + S6_EXTENDED_POLL_RESULT + garbage
    out = IntelliVueFramer().feed(stream)
    assert frames(out) == [
        Frame.from_bytes(S3_MDS_CREATE_EVENT),
        Frame.from_bytes(S6_EXTENDED_POLL_RESULT),
    ]
    assert bad(out) == []


def test_flipped_bit_is_a_bad_frame() -> None:
    damaged = bytearray(S6_EXTENDED_POLL_RESULT)
    damaged[40] ^= 0x04
    out = IntelliVueFramer().feed(bytes(damaged) + S3_MDS_CREATE_EVENT)
    assert bad(out) == ["FCS mismatch"]
    assert frames(out) == [Frame.from_bytes(S3_MDS_CREATE_EVENT)]


def test_truncated_frame_is_reported_and_the_next_one_kept() -> None:
    truncated = S6_EXTENDED_POLL_RESULT[:60]
    out = IntelliVueFramer().feed(truncated + S3_MDS_CREATE_EVENT)
    assert bad(out) == ["frame cut short by a new start byte 0xC0"]
    assert frames(out) == [Frame.from_bytes(S3_MDS_CREATE_EVENT)]


def test_lost_bytes_inside_a_frame_fail_the_length_check() -> None:
    lossy = S6_EXTENDED_POLL_RESULT[:30] + S6_EXTENDED_POLL_RESULT[31:]
    out = IntelliVueFramer().feed(lossy)
    assert len(bad(out)) == 1
    assert "length field" in bad(out)[0]


def test_frame_abort_sequence() -> None:
    aborted = S6_EXTENDED_POLL_RESULT[:50] + bytes.fromhex("7D C1")
    out = IntelliVueFramer().feed(aborted + b"\x55\x66" + S3_MDS_CREATE_EVENT)
    assert bad(out) == ["frame aborted by the sender (0x7D 0xC1)"]
    assert frames(out) == [Frame.from_bytes(S3_MDS_CREATE_EVENT)]


def test_empty_and_tiny_frames() -> None:
    out = IntelliVueFramer().feed(bytes.fromhex("C0 C1 C0 C0 11 C1"))
    assert bad(out) == ["frame of 0 bytes is too short", "frame of 1 bytes is too short"]


def test_overlong_frame_is_dropped_and_the_framer_resyncs() -> None:
    framer = IntelliVueFramer(max_user_data=100)
    out = framer.feed(b"\xc0" + b"\x11" * 200 + b"\xc1")
    assert bad(out) == ["frame longer than 106 bytes"]
    assert framer.feed(S3_MDS_CREATE_EVENT) == [Frame.from_bytes(S3_MDS_CREATE_EVENT)]


def test_frame_at_the_limit_passes() -> None:
    frame = Frame(bytes(MAX_USER_DATA))
    assert IntelliVueFramer().feed(frame.to_bytes()) == [frame]


def test_partial_frame_survives_between_calls() -> None:
    framer = IntelliVueFramer()
    assert framer.feed(S6_EXTENDED_POLL_RESULT[:-1]) == []
    assert framer.feed(S6_EXTENDED_POLL_RESULT[-1:]) == [Frame.from_bytes(S6_EXTENDED_POLL_RESULT)]


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=12))
def test_no_byte_sequence_makes_the_framer_raise(chunks: list[bytes]) -> None:
    framer = IntelliVueFramer(max_user_data=256)
    for chunk in chunks:
        for item in framer.feed(chunk):
            assert isinstance(item, Frame | BadFrame)
    # whatever came before, the next good frame is delivered, last
    assert framer.feed(S3_MDS_CREATE_EVENT)[-1] == Frame.from_bytes(S3_MDS_CREATE_EVENT)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_split_gives_the_same_frames(data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ALL_WIRE)), max_size=20)))
    framer = IntelliVueFramer()
    out: list[Frame | BadFrame] = []
    for start, end in zip([0, *cuts], [*cuts, len(ALL_WIRE)], strict=True):
        out += framer.feed(ALL_WIRE[start:end])
    assert out == ALL_FRAMES


class ByteByByteFramer:
    """The framer's rules applied one byte at a time (its first form): the reference."""

    def __init__(self, max_user_data: int) -> None:
        self.limit = max_user_data + 6
        self.content = bytearray()
        self.in_frame = self.escaped = False

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        out: list[Frame | BadFrame] = []
        for byte in data:
            if byte == 0xC0:
                if self.content or self.escaped:
                    out.append(BadFrame("frame cut short by a new start byte 0xC0"))
                self.content, self.escaped, self.in_frame = bytearray(), False, True
            elif not self.in_frame:
                continue
            elif byte == 0xC1:
                if self.escaped:
                    out.append(BadFrame("frame aborted by the sender (0x7D 0xC1)"))
                else:
                    out.append(parse_content(bytes(self.content)))
                self.content, self.escaped, self.in_frame = bytearray(), False, False
            elif self.escaped or byte != 0x7D:
                self.content.append(byte ^ 0x20 if self.escaped else byte)
                self.escaped = False
                if len(self.content) > self.limit:
                    out.append(BadFrame(f"frame longer than {self.limit} bytes"))
                    self.content, self.escaped, self.in_frame = bytearray(), False, False
            else:
                self.escaped = True
        return out


WIRE_PIECES = [b"\xc0", b"\xc1", b"\x7d", b"\x11\x01", b"\x00" * 5, *(e[1] for e in EXAMPLES)]
wire_chunks = st.lists(
    st.lists(st.sampled_from(WIRE_PIECES)).map(b"".join) | st.binary(max_size=30),
    max_size=8,
)


@given(wire_chunks, st.sampled_from([4, 16, MAX_USER_DATA]))
def test_the_run_at_a_time_framer_matches_the_byte_by_byte_rules(
    chunks: list[bytes], max_user_data: int
) -> None:
    fast, reference = IntelliVueFramer(max_user_data), ByteByByteFramer(max_user_data)
    for chunk in chunks:
        assert fast.feed(chunk) == reference.feed(chunk)

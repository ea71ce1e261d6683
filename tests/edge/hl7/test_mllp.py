"""MLLP framing and ACK reading: whole, byte by byte, with garbage and overlong frames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.hl7.mllp import AckError, MllpDecoder, frame, parse_ack
from tests.edge.hl7.receiver import ack

MESSAGES = ["MSH|^~\\&|A\rPID|||\r", "MSH|^~\\&|B\rOBX|1|NM|x||1.5\r"]


def test_frames_have_the_mllp_bytes_around_utf8() -> None:
    assert frame("MSH|é\r") == b"\x0bMSH|\xc3\xa9\r\x1c\x0d"


def test_messages_come_out_whole_and_byte_by_byte() -> None:
    stream = b"".join(frame(m) for m in MESSAGES)
    assert [m.decode() for m in MllpDecoder().feed(stream)] == MESSAGES
    decoder = MllpDecoder()
    out = [m for byte in stream for m in decoder.feed(bytes([byte]))]
    assert [m.decode() for m in out] == MESSAGES
    assert decoder.bad == 0


@given(st.binary(max_size=64).filter(lambda b: b"\x0b" not in b))
def test_garbage_between_frames_is_skipped_and_counted(garbage: bytes) -> None:
    decoder = MllpDecoder()
    out = decoder.feed(garbage + frame(MESSAGES[0]) + garbage + frame(MESSAGES[1]))
    assert [m.decode() for m in out] == MESSAGES


def test_an_unfinished_frame_is_dropped_at_the_next_start() -> None:
    decoder = MllpDecoder()
    out = decoder.feed(b"\x0bMSH|half" + frame(MESSAGES[0]))
    assert [m.decode() for m in out] == [MESSAGES[0]]
    assert decoder.bad == 1


def test_an_overlong_frame_is_dropped_and_the_next_one_read() -> None:
    decoder = MllpDecoder(max_bytes=16)
    out = decoder.feed(b"\x0b" + b"x" * 40 + b"\x1c\x0d" + frame("MSH|ok\r"))
    assert out == [b"MSH|ok\r"]
    assert decoder.bad >= 1


@pytest.mark.parametrize(
    ("code", "accepted", "refused"),
    [("AA", True, False), ("CA", True, False), ("AE", False, True), ("AR", False, True)],
)
def test_ack_codes(code: str, accepted: bool, refused: bool) -> None:
    reply = parse_ack(ack("C1", code, "bad thing").encode())
    assert (reply.code, reply.control_id) == (code, "C1")
    assert (reply.accepted, reply.refused) == (accepted, refused)
    assert reply.detail == "bad thing"


def test_err_segment_gives_the_detail_when_msa3_is_empty() -> None:
    text = ack("C2", "AE") + "ERR||PID^1^3|101^Required field missing^HL70357|E||||PID-3 needed\r"
    assert parse_ack(text.encode()).detail == "PID-3 needed"


@pytest.mark.parametrize("reply", [b"", b"hello", b"MSH|^~\\&|X\rPID|||\r", b"MSH|^~\\&\rMSA|\r"])
def test_a_reply_without_msa_is_no_ack(reply: bytes) -> None:
    with pytest.raises(AckError):
        parse_ack(reply)

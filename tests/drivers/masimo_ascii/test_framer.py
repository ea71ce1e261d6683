"""masimo_ascii framer: whole, byte by byte, garbage between lines, flipped bits, truncated,
overlong, and no input that makes it raise."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import BadFrame
from drivers.errors import DecodeError
from drivers.masimo_ascii.codec import decode
from drivers.masimo_ascii.conversation import MasimoConversation
from drivers.masimo_ascii.framer import MAX_LINE, MasimoFramer, MasimoLine
from tests.drivers.masimo_ascii.vectors import AT, COLOR, E1, E2, E3, RADICAL5, TARGET, TREND

ALL = (E1, E2, E3, RADICAL5, COLOR, TREND)


def lines_of(items: list[MasimoLine | BadFrame]) -> list[MasimoLine]:
    return [item for item in items if isinstance(item, MasimoLine)]


def test_whole_and_byte_by_byte_give_the_same_lines() -> None:
    whole = MasimoFramer().feed(b"".join(ALL))
    assert len(whole) == len(ALL)
    assert all(isinstance(item, MasimoLine) for item in whole)
    framer = MasimoFramer()
    single = [item for byte in b"".join(ALL) for item in framer.feed(bytes((byte,)))]
    assert single == whole
    first = whole[0]
    assert isinstance(first, MasimoLine)
    assert first.stamp == "01/02/25 10:00:00"
    assert first.fields[1] == ("SPO2", "098%")
    assert lines_of(whole)[-1].fields[0] == ("SPO2", "096")  # names upper-cased


def test_garbage_between_lines_is_one_bad_frame_and_the_next_line_comes_through() -> None:
    out = MasimoFramer().feed(E1 + b"\x00\xff binary noise\r\n" + E2)
    assert [type(item) for item in out] == [MasimoLine, BadFrame, MasimoLine]


def test_a_line_without_a_date_is_reported_as_a_mode_problem() -> None:
    (item,) = MasimoFramer().feed(b"SPO2=098 BPM=072\r\n")
    assert isinstance(item, BadFrame)
    assert "ASCII 2" in item.reason


def test_a_truncated_line_cut_by_the_next_one_is_dropped() -> None:
    out = MasimoFramer().feed(E1[:60] + E2)
    assert isinstance(out[0], BadFrame)  # '... PI=02.35%01/02/25 ...' is no NAME=value
    assert len(out) == 1


def test_the_first_line_after_opening_can_be_skipped_and_blank_lines_are_nothing() -> None:
    out = MasimoFramer(skip_first=True).feed(E1[40:] + b"\r\n" + E2)
    assert lines_of(out)[0].stamp == "01/02/25 10:00:01"
    assert len(out) == 1


def test_an_overlong_line_is_dropped_once_and_the_framer_resyncs() -> None:
    framer = MasimoFramer()
    out = framer.feed(b"x" * (MAX_LINE + 1))
    out += framer.feed(b"y" * 500 + b"\r\n" + E1)
    assert [type(item) for item in out] == [BadFrame, MasimoLine]


def test_a_flipped_high_bit_is_a_bad_frame() -> None:
    spoiled = bytearray(E1)
    spoiled[40] ^= 0x80
    (item,) = MasimoFramer().feed(bytes(spoiled))
    assert isinstance(item, BadFrame)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_no_input_makes_the_framer_or_codec_raise(chunks: list[bytes]) -> None:
    framer = MasimoFramer()
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, MasimoLine):
                with contextlib.suppress(DecodeError):
                    decode(item, TARGET, AT)
            assert len(framer._buffer) <= MAX_LINE


SPO2_VALUE = range(E1.index(b"SPO2=") + 5, E1.index(b"SPO2=") + 9)  # "098%"


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=len(E1) - 3), st.integers(1, 255))
def test_a_corrupted_line_never_yields_an_spo2_it_did_not_carry(position: int, flip: int) -> None:
    """No checksum exists, so a flipped SpO2 digit can pass (the plausibility check is the
    net there). Any other corruption yields the true SpO2 or none, never raises, and the next
    good line still comes through."""
    corrupted = bytearray(E1)
    corrupted[position] ^= flip
    conversation = MasimoConversation(TARGET, skip_first_line=False)
    exchange = conversation.receive(bytes(corrupted) + E2, AT)
    assert exchange.readings[-1].value("MDC_PULS_OXIM_SAT_O2") == 88
    if position not in SPO2_VALUE:
        for reading in exchange.readings[:-1]:
            assert reading.value("MDC_PULS_OXIM_SAT_O2") in (98, None)

"""Basic types: FLOAT-Type (incl. special values), AbsoluteTime, String, lists."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DecodeError
from drivers.intellivue.datatypes import (
    NO_ABS_TIME,
    Ava,
    FloatSpecial,
    FloatType,
    Reader,
    decode_abs_time,
    decode_attributes,
    decode_string,
    encode_abs_time,
    encode_attributes,
    encode_string,
)


@pytest.mark.parametrize(
    ("word", "value"),
    [
        (0x00000048, 72.0),
        (0xFF00016D, 36.5),
        (0xFD007D00, 32.0),
        (0xFF000140, 32.0),
        (0xFEFE7960, -1000.0),
        (0x02000003, 300.0),
        (0x00FFFFFF, -1.0),
    ],
)
def test_float_values(word: int, value: float) -> None:
    number = FloatType.from_word(word)
    assert number.value == value
    assert number.special is None
    assert number.to_word() == word


@pytest.mark.parametrize(
    ("word", "special"),
    [
        (0x007FFFFF, FloatSpecial.NAN),
        (0x00800000, FloatSpecial.NRES),
        (0x007FFFFE, FloatSpecial.POS_INF),
        (0x00800002, FloatSpecial.NEG_INF),
        (0x00800001, FloatSpecial.RESERVED),
        (0xFF7FFFFF, FloatSpecial.NAN),  # the mantissa decides, whatever the exponent
        (0x02800000, FloatSpecial.NRES),
    ],
)
def test_float_specials(word: int, special: FloatSpecial) -> None:
    number = FloatType.from_word(word)
    assert number.special is special
    assert number.value is None
    assert number.to_word() == word


def test_float_encoding_picks_the_resolution() -> None:
    assert FloatType.of(72).to_word() == 0x00000048
    assert FloatType.of(36.5, 1).to_word() == 0xFF00016D
    assert FloatType.of(-1000, 2).to_word() == 0xFEFE7960
    assert FloatType.special_value(FloatSpecial.NAN).to_word() == 0x007FFFFF


@pytest.mark.parametrize(("value", "decimals"), [(8_388_606, 0), (1e6, 2), (1, 129)])
def test_float_encoding_refuses_what_does_not_fit(value: float, decimals: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        FloatType.of(value, decimals)


@settings(max_examples=300, deadline=None)
@given(word=st.integers(0, 0xFFFFFFFF))
def test_float_word_round_trip(word: int) -> None:
    number = FloatType.from_word(word)
    assert number.to_word() == word
    assert (number.value is None) == (number.special is not None)


def test_absolute_time() -> None:
    moment = datetime(2025, 3, 14, 9, 29, 40, 120_000)
    raw = encode_abs_time(moment)
    assert raw == bytes.fromhex("20 25 03 14 09 29 40 12")
    assert decode_abs_time(raw) == moment
    assert encode_abs_time(None) == NO_ABS_TIME
    assert decode_abs_time(NO_ABS_TIME) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes.fromhex("20 25 03 14 09 29 4A 00"), "not BCD"),
        (bytes.fromhex("20 25 13 14 09 29 40 00"), "month"),
        (bytes.fromhex("20 25 03 14"), "4 bytes"),
    ],
)
def test_absolute_time_rejects(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_abs_time(raw)


def test_string() -> None:
    raw = encode_string("BED4")
    assert raw == bytes.fromhex("00 0A 00 42 00 45 00 44 00 34 00 00")
    assert decode_string(raw) == "BED4"
    assert decode_string(bytes.fromhex("00 06 00 41 00 00 00 00")) == "A"
    with pytest.raises(DecodeError, match="odd"):
        decode_string(bytes.fromhex("00 01 41"))


def test_attribute_list_round_trip_and_checks() -> None:
    avas = (Ava(1, b"ab"), Ava(0xF13E, b""))
    raw = encode_attributes(avas)
    assert raw == bytes.fromhex("0002 000A 0001 0002 6162 F13E 0000")
    assert decode_attributes(Reader(raw, "test")) == avas
    with pytest.raises(DecodeError, match="trailing"):
        decode_attributes(Reader(bytes.fromhex("0001 0006 0001 0000 FFFF"), "test"))
    with pytest.raises(DecodeError, match="truncated"):
        decode_attributes(Reader(bytes.fromhex("0002 0004 0001 0000"), "test"))
    with pytest.raises(DecodeError, match="truncated"):
        decode_attributes(Reader(bytes.fromhex("0001 0010 0001"), "test"))


def test_reader_reports_position() -> None:
    reader = Reader(b"\x01\x02\x03", "thing")
    assert reader.u16() == 0x0102
    with pytest.raises(DecodeError, match=r"thing: truncated at byte 2 \(need 4, have 1\)"):
        reader.u32()

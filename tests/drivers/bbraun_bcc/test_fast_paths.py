"""The BCC hot path's fast forms give exactly what the plain, byte-by-byte forms give: the
stuffing both ways (errors included) and record splitting (records, or the same error)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.bbraun_bcc.frames import FrameError, destuff, stuff
from drivers.bbraun_bcc.records import Record, split_records
from drivers.errors import DecodeError

_STUFF = {0x44: b"EX", 0x45: b"EE", 0x64: b"ex", 0x65: b"ee"}
_DESTUFF = {b"EX": b"D", b"EE": b"E", b"ex": b"d", b"ee": b"e"}


def stuff_reference(data: bytes) -> bytes:
    return b"".join(_STUFF.get(byte, bytes((byte,))) for byte in data)


def destuff_reference(data: bytes) -> bytes:
    """One left-to-right pass, an escape consuming the next byte (fact sheet §3)."""
    out, index = bytearray(), 0
    while index < len(data):
        if data[index] in b"Ee":
            pair = data[index : index + 2]
            if pair not in _DESTUFF:
                raise FrameError(f"bad stuffing escape at byte {index}")
            out += _DESTUFF[pair]
            index += 2
        else:
            out.append(data[index])
            index += 1
    return bytes(out)


def split_reference(information: bytes) -> tuple[Record, ...]:
    if not information:
        return ()
    return tuple(Record.from_bytes(part) for part in information.split(b"\x1e"))


stuffable = st.binary(max_size=64) | st.lists(st.sampled_from(b"DEdeXx.\x00")).map(bytes)


@given(stuffable)
def test_stuffing_matches_the_byte_by_byte_form(data: bytes) -> None:
    assert stuff(data) == stuff_reference(data)
    assert destuff(stuff(data)) == data


@given(st.lists(st.sampled_from(b"EeXxDd.")).map(bytes))
def test_destuffing_matches_the_one_pass_form_errors_included(data: bytes) -> None:
    try:
        expected = destuff_reference(data)
    except FrameError as exc:
        with pytest.raises(FrameError, match=re.escape(str(exc))):
            destuff(data)
    else:
        assert destuff(data) == expected


record_text = st.lists(
    st.sampled_from(["1", "0", "9", ",", "501", "11", "0A", "Z", "x", "_NV", "é", "\x1e", ""]),
    max_size=16,
).map(lambda parts: "".join(parts).encode())
records = st.lists(
    st.tuples(st.integers(0, 99999), st.sampled_from(["50100", "50111", "5011A"]), st.text())
).map(lambda rows: "\x1e".join(f"{t},{a},INRT,{v}" for t, a, v in rows).encode())


@given(record_text | records | st.binary(max_size=40))
def test_record_splitting_matches_parsing_each_record(information: bytes) -> None:
    try:
        expected = split_reference(information)
    except DecodeError as exc:
        with pytest.raises(DecodeError, match=re.escape(str(exc))):
            split_records(information)
    else:
        assert split_records(information) == expected

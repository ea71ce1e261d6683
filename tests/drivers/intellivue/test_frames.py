"""Transport frames: FCS check values, escaping and the sheet's wire examples."""

from __future__ import annotations

import pytest

from drivers.checksums import FCS16_GOOD, fcs16, fcs16_update
from drivers.errors import DecodeError
from drivers.intellivue.frames import Frame, escape, parse_content, unescape
from tests.drivers.intellivue.vectors import EXAMPLES, S1_ASSOCIATION_REQUEST


def test_fcs_check_value() -> None:
    assert fcs16(b"123456789") == 0x906E
    assert fcs16(b"123456789").to_bytes(2, "little") == bytes.fromhex("6E 90")


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (bytes.fromhex("3A 71"), bytes.fromhex("C0 3A 71 9B 26 C1")),
        (bytes.fromhex("3A 91"), bytes.fromhex("C0 3A 91 95 7D E1 C1")),
    ],
)
def test_openice_fcs_vectors(data: bytes, wire: bytes) -> None:
    """OpenICE's unit vectors: raw data (no header), FCS little-endian and escaped."""
    framed = data + fcs16(data).to_bytes(2, "little")
    assert b"\xc0" + escape(framed) + b"\xc1" == wire


@pytest.mark.parametrize(("name", "wire", "length", "fcs"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples_decode_and_encode(name: str, wire: bytes, length: int, fcs: int) -> None:
    frame = Frame.from_bytes(wire)
    assert len(frame.user_data) == length
    assert frame.to_bytes() == wire
    content = frame.content()
    assert content[:4] == bytes((0x11, 0x01)) + length.to_bytes(2)
    assert int.from_bytes(content[-2:], "little") == fcs == fcs16(content[:-2])
    assert fcs16_update(0xFFFF, content) == FCS16_GOOD


def test_s1_fcs_is_escaped_on_the_wire() -> None:
    assert S1_ASSOCIATION_REQUEST.endswith(bytes.fromhex("61 7D E0 C1"))
    assert len(S1_ASSOCIATION_REQUEST) == 248


def test_escape_every_special_byte() -> None:
    assert escape(bytes.fromhex("C0 C1 7D 00")) == bytes.fromhex("7D E0 7D E1 7D 5D 00")
    assert unescape(bytes.fromhex("7D E0 7D E1 7D 5D 00")) == bytes.fromhex("C0 C1 7D 00")


def test_round_trip_with_specials_everywhere() -> None:
    frame = Frame(bytes(range(256)) * 3)
    wire = frame.to_bytes()
    assert wire.count(0xC0) == 1
    assert wire.count(0xC1) == 1
    assert Frame.from_bytes(wire) == frame


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"", "must start"),
        (bytes.fromhex("C0 11 01 00 00"), "must start"),
        (bytes.fromhex("C0 11 01 7D C1"), "escape sequence"),
        (bytes.fromhex("C0 11 01 00 01 00 7D"), "must start"),
        (bytes.fromhex("C0 11 01 00 C1"), "too short"),
        (bytes.fromhex("C0 11 01 7D C1 C1"), "unescaped"),
    ],
)
def test_from_bytes_rejects(wire: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        Frame.from_bytes(wire)


def test_dangling_escape() -> None:
    with pytest.raises(DecodeError, match="escape"):
        unescape(bytes.fromhex("11 7D"))


def test_parse_content_checks() -> None:
    good = Frame(b"\x09abc").content()
    assert parse_content(good) == Frame(b"\x09abc")
    bad_length = good[:3] + bytes((good[3] + 1,)) + good[4:]
    assert "length field" in getattr(parse_content(bad_length), "reason", "")
    bad_fcs = good[:-1] + bytes((good[-1] ^ 1,))
    assert getattr(parse_content(bad_fcs), "reason", "") == "FCS mismatch"
    other = Frame(b"\x09abc", protocol_id=0x12).content()
    assert "protocol id" in getattr(parse_content(other), "reason", "")


def test_oversized_user_data_is_refused_on_encode() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        Frame(bytes(0x10000)).to_bytes()

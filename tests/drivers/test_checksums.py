"""Checksums against published check values and the protocol sheets' examples."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.checksums import (
    FCS16_GOOD,
    fcs16,
    fcs16_update,
    fcs16_update_bytewise,
    sum_mod256,
    xor8,
)


def test_fcs16_check_value() -> None:
    assert fcs16(b"123456789") == 0x906E  # CRC-16/X-25 check value (RFC 1662 FCS)


def test_fcs16_openice_vector() -> None:
    assert fcs16(bytes([0x3A, 0x91])).to_bytes(2, "little") == bytes([0x95, 0xC1])


@given(st.binary(max_size=512))
def test_fcs16_good_residue(data: bytes) -> None:
    sent = data + fcs16(data).to_bytes(2, "little")
    assert fcs16_update(0xFFFF, sent) == FCS16_GOOD


def test_sum_mod256_bcc_alive_example() -> None:
    frame = b"\x0100031\x021/1/1>ADMIN:ALIVE\x03"
    assert sum_mod256(frame) == 61  # B. Braun sheet S1: 573 mod 256


def test_xor8() -> None:
    assert xor8(b"") == 0
    assert xor8(b"GPGLL,4916.45,N,12311.12,W,225444,A") == 0x31  # a well-known NMEA sentence


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_fcs16_in_c_matches_the_table_step_per_byte(data: bytes, start: int) -> None:
    assert fcs16_update(start, data) == fcs16_update_bytewise(start, data)

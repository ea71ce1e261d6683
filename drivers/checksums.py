"""Checksums used by the device protocols, each checked against published check values.

- :func:`fcs16`: PPP FCS-16 of RFC 1662 (CRC-16/X-25): reflected polynomial 0x8408
  (x^16+x^12+x^5+1), initial value 0xFFFF, result complemented. Philips IntelliVue frames send
  it low byte first. Check value: ``fcs16(b"123456789") == 0x906E``.
- :func:`sum_mod256`: the byte sum modulo 256 (B. Braun BCC).
- :func:`xor8`: the XOR of all bytes (NMEA-style line protocols).
"""

from __future__ import annotations

import binascii

__all__ = ["FCS16_GOOD", "fcs16", "fcs16_update", "fcs16_update_bytewise", "sum_mod256", "xor8"]

FCS16_GOOD = 0xF0B8
"""Running (uncomplemented) FCS over data plus its two transmitted FCS bytes when intact."""


def _fcs16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fcs = byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
        table.append(fcs)
    return tuple(table)


_FCS16_TABLE = _fcs16_table()


_REVERSED_BYTES = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))


def _reverse16(value: int) -> int:
    return (_REVERSED_BYTES[value & 0xFF] << 8) | _REVERSED_BYTES[value >> 8]


def fcs16_update(fcs: int, data: bytes) -> int:
    """Advance a running FCS-16 (start from 0xFFFF) over ``data``; not complemented.

    Computed in C: the reflected CRC over ``data`` is the mirror image of the plain
    CRC-16/CCITT (polynomial 0x1021, :func:`binascii.crc_hqx`) over ``data`` with every
    byte's bits reversed, started from the mirrored register."""
    mirrored = binascii.crc_hqx(data.translate(_REVERSED_BYTES), _reverse16(fcs))
    return _reverse16(mirrored)


def fcs16_update_bytewise(fcs: int, data: bytes) -> int:
    """:func:`fcs16_update` one table step per byte (the reference it is tested against)."""
    table = _FCS16_TABLE
    for byte in data:
        fcs = (fcs >> 8) ^ table[(fcs ^ byte) & 0xFF]
    return fcs


def fcs16(data: bytes) -> int:
    """The FCS-16 to transmit for ``data``: the complemented CRC-16/X-25."""
    return fcs16_update(0xFFFF, data) ^ 0xFFFF


def sum_mod256(data: bytes) -> int:
    """The sum of all bytes of ``data`` modulo 256."""
    return sum(data) & 0xFF


def xor8(data: bytes) -> int:
    """The XOR of all bytes of ``data``."""
    result = 0
    for byte in data:
        result ^= byte
    return result

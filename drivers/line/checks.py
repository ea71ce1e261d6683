"""The checksums a ``line`` device may append: XOR, byte sum and the common CRC-16 variants.

Each CRC-16 is given by its Rocksoft parameters (polynomial, initial value, reflection, final
XOR) as catalogued by Greg Cook's "Catalogue of parametrised CRC algorithms"; the tests check
each against its published check value over ``b"123456789"``. Lines are short (at most a few
hundred bytes, about one a second), so the CRCs are computed bit by bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from drivers.checksums import sum_mod256, xor8

__all__ = ["CHECKSUMS", "Checksum", "ChecksumKind", "crc16"]

ChecksumKind = Literal[
    "xor8", "sum8", "crc16_x25", "crc16_ccitt_false", "crc16_xmodem", "crc16_kermit",
    "crc16_modbus", "crc16_arc",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Checksum:
    """A checksum and its width in hex digits on the wire."""

    compute: Callable[[bytes], int]
    digits: int


def _reflect(value: int, width: int) -> int:
    return int(f"{value:0{width}b}"[::-1], 2)


def crc16(data: bytes, poly: int, init: int, reflected: bool, xorout: int) -> int:
    """CRC-16 of ``data`` with the given parameters (input and output reflected together)."""
    crc = init
    for byte in data:
        crc ^= (_reflect(byte, 8) if reflected else byte) << 8
        for _ in range(8):
            crc = ((crc << 1) ^ poly if crc & 0x8000 else crc << 1) & 0xFFFF
    if reflected:
        crc = _reflect(crc, 16)
    return crc ^ xorout


def _crc(poly: int, init: int, reflected: bool, xorout: int) -> Checksum:
    return Checksum(lambda data: crc16(data, poly, init, reflected, xorout), 4)


CHECKSUMS: Mapping[ChecksumKind, Checksum] = {
    "xor8": Checksum(xor8, 2),
    "sum8": Checksum(sum_mod256, 2),
    "crc16_x25": _crc(0x1021, 0xFFFF, True, 0xFFFF),  # = drivers.checksums.fcs16
    "crc16_ccitt_false": _crc(0x1021, 0xFFFF, False, 0x0000),
    "crc16_xmodem": _crc(0x1021, 0x0000, False, 0x0000),
    "crc16_kermit": _crc(0x1021, 0x0000, True, 0x0000),
    "crc16_modbus": _crc(0x8005, 0xFFFF, True, 0x0000),
    "crc16_arc": _crc(0x8005, 0x0000, True, 0x0000),
}
"""Checksum kind (the ``checksum.kind`` option) -> how to compute it."""

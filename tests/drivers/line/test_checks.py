"""The line checksums against their published check values over b"123456789"."""

from __future__ import annotations

import pytest

from drivers.checksums import fcs16
from drivers.line.checks import CHECKSUMS

CHECK = b"123456789"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("xor8", 0x31),
        ("sum8", 0xDD),
        ("crc16_x25", 0x906E),
        ("crc16_ccitt_false", 0x29B1),
        ("crc16_xmodem", 0x31C3),
        ("crc16_kermit", 0x2189),
        ("crc16_modbus", 0x4B37),
        ("crc16_arc", 0xBB3D),
    ],
)
def test_check_value(kind: str, value: int) -> None:
    assert CHECKSUMS[kind].compute(CHECK) == value  # type: ignore[index]


def test_every_kind_is_covered_and_x25_is_the_fcs16() -> None:
    assert CHECKSUMS["crc16_x25"].compute(b"\x00\xff" * 40) == fcs16(b"\x00\xff" * 40)
    assert {checksum.digits for checksum in CHECKSUMS.values()} == {2, 4}

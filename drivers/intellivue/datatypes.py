"""IntelliVue basic data types (fact sheet §7, §9): a bounds-checked reader and the value types.

All fields are big-endian. Every list on the wire is ``u16 count, u16 length`` followed by
``count`` items filling exactly ``length`` bytes; decoders check both and raise
:class:`~drivers.errors.DecodeError` (never ``IndexError``/``struct.error``) on any mismatch::

    AttributeList   count u16 | length u16 | AVA ...
    AVA             attribute_id u16 | length u16 | value (length bytes)
    FLOAT-Type      exponent i8 | mantissa i24          value = mantissa x 10^exponent
    AbsoluteTime    century year month day hour minute second 1/100s   (BCD; all 0xFF = none)
    String          length u16 | UTF-16BE text, zero padded
    RelativeTime    u32, 1/8 ms ticks since monitor start, wraps after 2^32
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Self, TypeVar

from drivers.errors import DecodeError

_U16 = struct.Struct(">H")
_U16_PAIR = struct.Struct(">HH")

__all__ = [
    "NO_ABS_TIME",
    "Ava",
    "FloatSpecial",
    "FloatType",
    "ObjectId",
    "Reader",
    "decode_abs_time",
    "decode_attributes",
    "decode_list",
    "decode_string",
    "encode_abs_time",
    "encode_attributes",
    "encode_list",
    "encode_string",
    "u16",
    "u32",
]

T = TypeVar("T")
NO_ABS_TIME = b"\xff" * 8


def u16(value: int) -> bytes:
    """``value`` as a big-endian u16; raises ``OverflowError`` outside 0..65535."""
    return value.to_bytes(2, "big")


def u32(value: int) -> bytes:
    """``value`` as a big-endian u32."""
    return value.to_bytes(4, "big")


class Reader:
    """A cursor over ``data`` that raises :class:`DecodeError` naming ``what`` when short."""

    __slots__ = ("_data", "_pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self.what = what

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self._data) - self._pos

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        start = self._pos
        end = start + size
        if end > len(self._data):
            raise self._short(size)
        self._pos = end
        return self._data[start:end]

    def _short(self, size: int) -> DecodeError:
        return DecodeError(
            f"{self.what}: truncated at byte {self._pos} (need {size}, have {self.remaining})"
        )

    def u8(self) -> int:
        return self.take(1)[0]

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        """The next ``layout.size`` bytes, unpacked by ``layout``."""
        start = self._pos
        if start + layout.size > len(self._data):
            raise self._short(layout.size)
        self._pos = start + layout.size
        return layout.unpack_from(self._data, start)

    def u16(self) -> int:
        start = self._pos
        if start + 2 > len(self._data):
            raise self._short(2)
        self._pos = start + 2
        value: int = _U16.unpack_from(self._data, start)[0]
        return value

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def rest(self) -> bytes:
        """Everything not read yet."""
        return self.take(self.remaining)

    def end(self) -> None:
        """Raise unless every byte was read."""
        if self._pos != len(self._data):
            raise DecodeError(f"{self.what}: {self.remaining} unexpected trailing bytes")


def encode_list(items: Sequence[bytes]) -> bytes:
    """``count, length`` and the encoded ``items``."""
    body = b"".join(items)
    return u16(len(items)) + u16(len(body)) + body


def decode_list(reader: Reader, item: Callable[[Reader], T], what: str) -> tuple[T, ...]:
    """A ``count, length`` list read from ``reader``; each item decoded by ``item``."""
    count, length = reader.unpack(_U16_PAIR)
    body = Reader(reader.take(length), what)
    items = tuple([item(body) for _ in range(count)])
    body.end()
    return items


class Ava(NamedTuple):
    """One attribute value assertion: an attribute id and its raw value (a named tuple: a
    poll result holds dozens, built faster than frozen dataclasses)."""

    attr_id: int
    value: bytes

    def to_bytes(self) -> bytes:
        return u16(self.attr_id) + u16(len(self.value)) + self.value

    @classmethod
    def read(cls, reader: Reader) -> Self:
        attr_id, size = reader.unpack(_U16_PAIR)
        return cls(attr_id, reader.take(size))


def encode_attributes(avas: Sequence[Ava]) -> bytes:
    """An AttributeList."""
    return encode_list([ava.to_bytes() for ava in avas])


def decode_attributes(reader: Reader) -> tuple[Ava, ...]:
    """An AttributeList read from ``reader``."""
    return decode_list(reader, Ava.read, f"{reader.what} attribute list")


@dataclass(frozen=True, slots=True)
class ObjectId:
    """A ManagedObjectId: object class, MDS context and handle (6 bytes)."""

    obj_class: int
    context: int = 0
    handle: int = 0

    def to_bytes(self) -> bytes:
        return u16(self.obj_class) + u16(self.context) + u16(self.handle)

    @classmethod
    def read(cls, reader: Reader) -> Self:
        return cls(reader.u16(), reader.u16(), reader.u16())


class FloatSpecial(enum.Enum):
    """FLOAT-Type special values, by their signed 24-bit mantissa (any exponent)."""

    NAN = 0x7FFFFF
    NRES = -0x800000
    POS_INF = 0x7FFFFE
    NEG_INF = -0x7FFFFE
    RESERVED = -0x7FFFFF  # 11073 FLOAT reserved code; never a measured value


_SPECIALS = {special.value: special for special in FloatSpecial}
_MANTISSA_LIMIT = 0x7FFFFD  # |mantissa| above this is a special value


class FloatType(NamedTuple):
    """A FLOAT-Type: ``mantissa`` (i24) x 10^``exponent`` (i8). Special when the mantissa
    is one of :class:`FloatSpecial`; :attr:`value` is then ``None``. A named tuple: one is
    built per polled value."""

    mantissa: int
    exponent: int = 0

    @classmethod
    def of(cls, value: float, decimals: int = 0) -> Self:
        """``value`` at ``decimals`` decimal places (72 -> 0x00000048, 36.5/1 -> 0xFF00016D)."""
        mantissa = round(value * 10**decimals)
        if abs(mantissa) > _MANTISSA_LIMIT or not -128 <= -decimals <= 127:
            raise ValueError(f"{value} does not fit a FLOAT-Type at {decimals} decimals")
        return cls(mantissa, -decimals)

    @classmethod
    def special_value(cls, special: FloatSpecial) -> Self:
        return cls(special.value, 0)

    @property
    def special(self) -> FloatSpecial | None:
        return _SPECIALS.get(self.mantissa)

    @property
    def value(self) -> float | None:
        """The number, or ``None`` for a special value."""
        if self.mantissa in _SPECIALS:
            return None
        scale: int = 10 ** abs(self.exponent)
        return self.mantissa / scale if self.exponent < 0 else float(self.mantissa * scale)

    def to_word(self) -> int:
        return ((self.exponent & 0xFF) << 24) | (self.mantissa & 0xFFFFFF)

    @classmethod
    def from_word(cls, word: int) -> Self:
        exponent = (word >> 24) & 0xFF
        mantissa = word & 0xFFFFFF
        return cls(
            mantissa - 0x1000000 if mantissa & 0x800000 else mantissa,
            exponent - 0x100 if exponent & 0x80 else exponent,
        )


def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def _from_bcd(byte: int) -> int:
    high, low = byte >> 4, byte & 0x0F
    if high > 9 or low > 9:
        raise DecodeError(f"AbsoluteTime: byte 0x{byte:02X} is not BCD")
    return high * 10 + low


def encode_abs_time(moment: datetime | None) -> bytes:
    """An AbsoluteTime (the monitor's local wall clock, naive); ``None``: all 0xFF."""
    if moment is None:
        return NO_ABS_TIME
    parts = (
        moment.year // 100,
        moment.year % 100,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 10_000,
    )
    return bytes(_bcd(part) for part in parts)


def decode_abs_time(raw: bytes) -> datetime | None:
    """The naive monitor-local time in ``raw`` (8 bytes), ``None`` when all 0xFF."""
    if len(raw) != 8:
        raise DecodeError(f"AbsoluteTime: {len(raw)} bytes, expected 8")
    if raw == NO_ABS_TIME:
        return None
    century, year, month, day, hour, minute, second, hundredths = (_from_bcd(b) for b in raw)
    try:
        return datetime(century * 100 + year, month, day, hour, minute, second, hundredths * 10_000)
    except ValueError as exc:
        raise DecodeError(f"AbsoluteTime: {exc}") from None


def encode_string(text: str) -> bytes:
    """A String: length, then UTF-16BE text with a terminating zero character."""
    data = text.encode("utf-16-be") + b"\x00\x00"
    return u16(len(data)) + data


def decode_string(raw: bytes) -> str:
    """The text of a String value, without its zero padding."""
    reader = Reader(raw, "String")
    data = reader.take(reader.u16())
    if len(data) % 2:
        raise DecodeError("String: odd UTF-16 byte count")
    return data.decode("utf-16-be", errors="replace").rstrip("\x00")

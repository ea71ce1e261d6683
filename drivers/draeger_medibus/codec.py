"""Decoding MEDIBUS response data (fact sheet §4): measured data, alarms, identification.

- measured data (``$``): repeated 6-byte items ``CC VVVV``: a 1-byte code as two ASCII hex
  digits, then a 4-character value, right-aligned, padded with spaces, optional ``-``. A
  value the device does not have now is omitted, so an absent code is simply not published;
- alarms (``'``): repeated 15-byte items: priority (``0x30 + p``, p 1..31, 31 highest), code
  (two ASCII hex digits) and a 12-character phrase;
- device identification (``R``): a 4-character ID number, the name in apostrophes, then the
  revision ``DD.DD:MM.MM`` (device : MEDIBUS).

Each parser raises :class:`~drivers.errors.DecodeError` on a malformed item; a response is
used whole or not at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers.base import DeviceTarget, Instant
from drivers.draeger_medibus.codes import MEASURED
from drivers.errors import DecodeError
from drivers.readings import DeviceCondition, Observation, VitalsReading

__all__ = [
    "ALARM_ITEM",
    "DATA_ITEM",
    "Alarm",
    "DeviceIdentity",
    "encode_alarms",
    "encode_data",
    "format_value",
    "parse_alarms",
    "parse_data",
    "parse_identity",
    "to_reading",
]

DATA_ITEM = 6
ALARM_ITEM = 15
_PHRASE = 12


@dataclass(frozen=True, slots=True)
class Alarm:
    """One current alarm: priority 1..31 (31 highest), code, phrase (trailing spaces cut)."""

    priority: int
    code: int
    phrase: str


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The device's ID number (``8240``), name (``Evita 4``) and revision text."""

    number: str
    name: str
    revision: str


def _code(raw: bytes, where: str) -> int:
    if len(raw) != 2 or not all(chr(c) in "0123456789ABCDEFabcdef" for c in raw):
        raise DecodeError(f"{where}: code {raw!r} is not two hex digits")
    return int(raw.decode("ascii"), 16)


def _value(raw: bytes, where: str) -> float:
    text = raw.decode("ascii", errors="replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise DecodeError(f"{where}: value {raw!r} is not a number") from None
    if not math.isfinite(value) or any(c not in "0123456789.-" for c in text):
        raise DecodeError(f"{where}: value {raw!r} is not a number")
    return value


def parse_data(data: bytes) -> dict[int, float]:
    """Measured data: code -> value in the device's unit (a repeated code: the last wins)."""
    if len(data) % DATA_ITEM:
        raise DecodeError(f"measured data of {len(data)} bytes is not whole 6-byte items")
    values: dict[int, float] = {}
    for start in range(0, len(data), DATA_ITEM):
        where = f"data item {start // DATA_ITEM}"
        values[_code(data[start : start + 2], where)] = _value(data[start + 2 : start + 6], where)
    return values


def parse_alarms(data: bytes) -> tuple[Alarm, ...]:
    """The current alarms, highest priority first."""
    if len(data) % ALARM_ITEM:
        raise DecodeError(f"alarm data of {len(data)} bytes is not whole 15-byte items")
    alarms = []
    for start in range(0, len(data), ALARM_ITEM):
        item = data[start : start + ALARM_ITEM]
        where = f"alarm item {start // ALARM_ITEM}"
        priority = item[0] - 0x30
        if not 1 <= priority <= 31:
            raise DecodeError(f"{where}: priority byte 0x{item[0]:02X} is outside 1..31")
        phrase = item[3:].decode("ascii", errors="replace").rstrip()
        alarms.append(Alarm(priority, _code(item[1:3], where), phrase))
    return tuple(sorted(alarms, key=lambda alarm: -alarm.priority))


def parse_identity(data: bytes) -> DeviceIdentity:
    """The device identification; raises :class:`DecodeError` without ``NNNN'name'``."""
    text = data.decode("ascii", errors="replace")
    number, quote, rest = text[:4], text[4:5], text[5:]
    name, closing, revision = rest.partition("'")
    if quote != "'" or not closing:
        raise DecodeError(f"device identification {text[:40]!r} lacks NNNN'name'")
    return DeviceIdentity(number.strip(), name.strip(), revision.strip())


def format_value(value: float, decimals: int) -> bytes:
    """``value`` as a 4-character MEDIBUS field (right-aligned, space padded)."""
    text = f"{value:.{decimals}f}"
    if len(text) > 4:
        raise ValueError(f"{value} does not fit a 4-character field with {decimals} decimals")
    return text.rjust(4).encode("ascii")


def encode_data(values: dict[int, bytes]) -> bytes:
    """Measured-data items from code -> 4-character field."""
    return b"".join(b"%02X" % code + field for code, field in values.items())


def encode_alarms(alarms: tuple[Alarm, ...]) -> bytes:
    """Alarm items (phrases cut or padded to 12 characters)."""
    return b"".join(
        bytes((0x30 + alarm.priority,))
        + b"%02X" % alarm.code
        + alarm.phrase[:_PHRASE].ljust(_PHRASE).encode("ascii")
        for alarm in alarms
    )


def to_reading(
    values: dict[int, float], alarms: tuple[Alarm, ...], target: DeviceTarget, at: Instant
) -> VitalsReading:
    """One ventilator reading: the published codes of ``values`` in table order, and the
    condition ``device_alarm`` while the device lists any current alarm."""
    observations = []
    seen: set[str] = set()
    for code, measured in MEASURED.items():
        if code in values and measured.code not in seen:
            seen.add(measured.code)
            value = round(values[code] * measured.factor, 6)
            observations.append(Observation(code=measured.code, value=value, unit=measured.unit))
    conditions: tuple[DeviceCondition, ...] = ("device_alarm",) if alarms else ()
    return VitalsReading(
        device_id=target.device_id,
        bed=target.bed,
        ts=at.wall,
        observations=tuple(observations),
        conditions=conditions,
    )

"""masimo_ascii status bits: the ALARM and EXC hex fields as device conditions and what they
do to the values.

Tables over code: each known bit maps to a :data:`~drivers.readings.DeviceCondition` (or
none) and an effect on the numerics: ``hide`` (the device has no value, whatever digits it
sends: state ``unavailable``, value ``None``), ``doubt`` (the values are ``questionable``),
or ``None`` (status only). ``0x000800`` ("Masimo SET" running) is the normal state. Bits the
tables do not know are returned so the conversation can count them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from drivers.readings import DeviceCondition

__all__ = ["ALARM_BITS", "EXC_BITS", "BitMeaning", "Status", "decode_status"]

Effect = Literal["hide", "doubt"]


@dataclass(frozen=True, slots=True)
class BitMeaning:
    """What one status bit means: its name, condition and effect on values (``codes``: only
    on these observation codes; empty: on all)."""

    name: str
    condition: DeviceCondition | None = None
    effect: Effect | None = None
    codes: frozenset[str] = frozenset()


_SPCO = frozenset({"X_MASIMO_SPCO"})
_SPMET = frozenset({"X_MASIMO_SPMET"})

ALARM_BITS: Mapping[int, BitMeaning] = {
    0x0001: BitMeaning("SpO2 above high limit", "device_alarm"),
    0x0002: BitMeaning("SpO2 below low limit", "device_alarm"),
    0x0004: BitMeaning("pulse rate above high limit", "device_alarm"),
    0x0008: BitMeaning("pulse rate below low limit", "device_alarm"),
    0x0010: BitMeaning("alarm active", "device_alarm"),
    0x0020: BitMeaning("alarm silenced", "alarm_silenced"),
    0x0040: BitMeaning("low battery", "low_battery"),
    0x0100: BitMeaning("SpCO above high limit", "device_alarm"),
    0x0200: BitMeaning("SpCO below low limit", "device_alarm"),
    0x0400: BitMeaning("SpMet above high limit", "device_alarm"),
    0x0800: BitMeaning("SpMet below low limit", "device_alarm"),
    0x1000: BitMeaning("desaturation index alarm", "device_alarm"),
    0x2000: BitMeaning("PI rate-of-change alarm", "device_alarm"),
}
"""ALARM bits (Radical-7; 0x0080 reserved)."""

EXC_BITS: Mapping[int, BitMeaning] = {
    0x000001: BitMeaning("no sensor", "no_sensor", "hide"),
    0x000002: BitMeaning("defective sensor", "sensor_fault", "hide"),
    0x000004: BitMeaning("low perfusion", "low_perfusion", "doubt"),
    0x000008: BitMeaning("pulse search", "pulse_search", "doubt"),
    0x000010: BitMeaning("interference", "interference", "doubt"),
    0x000020: BitMeaning("sensor off patient", "sensor_off", "hide"),
    0x000040: BitMeaning("ambient light", "interference", "doubt"),
    0x000080: BitMeaning("unrecognised sensor", "sensor_fault", "hide"),
    0x000100: BitMeaning("incompatible sensor", "sensor_fault", "hide"),
    0x000400: BitMeaning("low signal IQ", "low_signal_quality", "doubt"),
    0x000800: BitMeaning("Masimo SET"),
    0x001000: BitMeaning("no cable", "cable_fault", "hide"),
    0x002000: BitMeaning("cable life expired", "cable_fault", "hide"),
    0x004000: BitMeaning("incompatible cable", "cable_fault", "hide"),
    0x008000: BitMeaning("unrecognised cable", "cable_fault", "hide"),
    0x010000: BitMeaning("defective cable", "cable_fault", "hide"),
    0x020000: BitMeaning("sensor calibrating", "pulse_search", "doubt"),
    0x040000: BitMeaning("sensor life expired", "sensor_fault", "hide"),
    0x080000: BitMeaning("emitter temperature out of range", "sensor_fault", "hide"),
    0x100000: BitMeaning("sensor current limit", "sensor_fault", "hide"),
    0x200000: BitMeaning("SpCO low confidence", None, "doubt", _SPCO),
    0x400000: BitMeaning("SpMet low confidence", None, "doubt", _SPMET),
}
"""EXC bits (low 12 bits: Rad-8 and Rad-57 manuals; upper bits: MD PnP header; 0x000200
and 0x800000 reserved)."""


@dataclass(frozen=True, slots=True)
class Status:
    """The combined meaning of a line's ALARM and EXC bits."""

    conditions: tuple[DeviceCondition, ...] = ()
    hide: frozenset[str] | None = None  # codes hidden; None: none, empty set: every code
    doubt: frozenset[str] | None = None  # codes doubted; same convention
    unknown: tuple[str, ...] = ()  # "EXC 0x000200" for each bit no table knows

    def effect_on(self, code: str) -> Effect | None:
        """What the status does to observation ``code``: hide it, doubt it, or nothing."""
        if self.hide is not None and (not self.hide or code in self.hide):
            return "hide"
        if self.doubt is not None and (not self.doubt or code in self.doubt):
            return "doubt"
        return None


def _bits(value: int) -> list[int]:
    return [1 << shift for shift in range(value.bit_length()) if value >> shift & 1]


def decode_status(alarm: int, exc: int) -> Status:
    """The conditions (ALARM then EXC, in bit order, each once), value effects and unknown bits."""
    conditions: list[DeviceCondition] = []
    effects: dict[Effect, frozenset[str] | None] = {"hide": None, "doubt": None}
    unknown: list[str] = []
    for field, value, table in (("ALARM", alarm, ALARM_BITS), ("EXC", exc, EXC_BITS)):
        for bit in _bits(value):
            meaning = table.get(bit)
            if meaning is None:
                unknown.append(f"{field} 0x{bit:06X}")
                continue
            if meaning.condition is not None and meaning.condition not in conditions:
                conditions.append(meaning.condition)
            if meaning.effect is not None:
                effects[meaning.effect] = _widen(effects[meaning.effect], meaning.codes)
    return Status(tuple(conditions), effects["hide"], effects["doubt"], tuple(unknown))


def _widen(current: frozenset[str] | None, codes: frozenset[str]) -> frozenset[str]:
    """``current`` joined with ``codes`` (an empty set means every code and absorbs all)."""
    if current is None:
        return codes
    if not current or not codes:
        return frozenset()
    return current | codes

"""B. Braun BCC codec: the records of one MEM:GET answer -> one PumpReading per pump.

Records are grouped by address; ``50100`` is the ComDevice, ``501xy`` the pump in slot ``xy``
(the :attr:`~drivers.base.DeviceTarget.address` of a configured pump). A reading is stamped
with the arrival time (``at.wall``) of the block that carried its pump. Choices, where the
protocol leaves room (fact sheet §6-7):

- ``_NV`` / ``_NA`` give an observation with state ``unavailable`` and no value; a parameter
  that is absent gives no observation. Unknown parameters are skipped (spec p.16), which also
  keeps patient data (PATID, PATW, ...) out of readings.
- Remaining volume: the pump's own ``VOLREMAIN`` (BCC 3.36) when it has a value, else
  ``INVTB - INVI`` clamped at 0. ``INVTB`` 0 means no VTBI is programmed (unavailable). Both
  are 0.1 mL resolution; ``INVI`` is the pump's running total, so the difference is only right
  while the volume counter and the VTBI belong to the same programme.
- Dose rate: the delivered ``DORT``/``DORTU`` (3.36) when it has a value, else the programmed
  ``INDORT``/``INDORTU``; none while dose mode is off (``INDOCAL`` 0) or for a unit code
  without a UCUM mapping (:mod:`.units`).
- ``INRMT`` 65535 s means the infusion has no end: unavailable.
- State: ``alarm`` > ``kvo`` > ``infusing`` > ``stopped``, from :data:`INDICATORS` (INAxx and
  INMxx flags, or RUNSTATE, ALARM1/2, STATUS1, PREALARM bits, which replace them when enabled).
  Bit fields are read as hex when written ``0x...`` or ``...h``, else decimal; bit ``n`` is
  condition ``n`` of §7.4 (bit 0, "no alarm", is ignored).
- ``GNERR`` at a pump's address (39 removed or unreachable, 811 no such pump, 4x
  communication error): no reading for that pump, its code in :attr:`Answer.pump_errors`.
  ``GNERR`` at ``50100`` (11 no pumps, 68 bad request) is reported in
  :attr:`Answer.general_error`. Both are turned into device errors by :mod:`.faults`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from drivers.base import DeviceTarget, Instant
from drivers.bbraun_bcc.records import GENERAL_ADDRESS, NO_VALUE, Record
from drivers.bbraun_bcc.units import ucum_unit
from drivers.errors import DecodeError
from drivers.readings import (
    Observation,
    PumpFlags,
    PumpReading,
    PumpState,
    PumpStatus,
    shared_observation,
)

__all__ = [
    "INDICATORS",
    "MEASURES",
    "Answer",
    "Block",
    "Indicator",
    "Measure",
    "decode_answer",
    "decode_pump",
]

Values = Mapping[str, str | None]
"""Parameter -> raw value of one pump; ``None`` for ``_NV``/``_NA``."""

_REMAIN = "MDC_VOL_FLUID_TBI_REMAIN"
_DOSE = "MDC_RATE_DOSE"
_DOSE_SOURCES = (("DORT", "DORTU"), ("INDORT", "INDORTU"))
_DRUG_SOURCES = ("INSOL", "INSOLSN")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_ALL_BUT_BIT0 = 0xFFFF_FFFE
_DEC_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdef")


def _state(active: set[str]) -> PumpState:
    """alarm > KVO > infusing > stopped; at its volume limit a pump keeping the vein open is in
    ``kvo`` (its ``end_of_volume`` flag stays set), one that stopped there is in ``alarm``."""
    if "alarm" in active:
        return "alarm"
    if "kvo" in active:
        return "kvo"
    if "end_of_volume" in active:
        return "alarm"
    return "infusing" if "infusing" in active else "stopped"


@dataclass(frozen=True, slots=True)
class Block:
    """The records of one answer block and when it arrived."""

    records: tuple[Record, ...]
    at: Instant


@dataclass(frozen=True, slots=True)
class Measure:
    """A numeric BCC parameter read as one observation; ``no_value`` is a sentinel meaning
    "no value" (INRMT 65535)."""

    parameter: str
    code: str
    unit: str
    no_value: float | None = None


MEASURES: tuple[Measure, ...] = (
    Measure("INRT", "MDC_FLOW_FLUID_PUMP", "mL/h"),
    Measure("INVI", "MDC_VOL_FLUID_DELIV", "mL"),
    Measure("INRMT", "MDC_TIME_PD_REMAIN", "s", no_value=65535),
    Measure("INP2", "X_BBRAUN_PRESS_REL_ALARM", "%"),
)


def _bits(*positions: int) -> int:
    return sum(1 << position for position in positions)


@dataclass(frozen=True, slots=True)
class Indicator:
    """A pump condition: ``name`` is a :class:`PumpFlags` field or ``alarm``, ``kvo``,
    ``infusing``, ``bolus``; set by a 0/1 flag (``mask`` None) or by any bit of ``mask``."""

    name: str
    parameter: str
    mask: int | None = None


INDICATORS: tuple[Indicator, ...] = (
    # 0/1 flags (BCC 3.25/3.26)
    # End of volume (INA2, INA7, INA16; ALARM1 bits 9, 13, 19) is not an "alarm" here: with
    # KVO running it is the normal end of an infusion; see _state.
    *(Indicator("alarm", f"INA{n}") for n in (1, 3, 5, 6, 8, 9, 14, 15)),
    Indicator("occlusion", "INA3"),
    Indicator("air_in_line", "INA15"),
    *(Indicator("end_of_volume", p) for p in ("INA2", "INA7", "INA16")),
    Indicator("near_end", "INA12"),
    *(Indicator("battery", p) for p in ("INA1", "INA11")),
    Indicator("infusing", "INM3"),
    Indicator("kvo", "INM10"),
    Indicator("bolus", "INM2"),
    # bit fields (BCC 3.3x), §7.4
    Indicator("infusing", "RUNSTATE", _bits(1)),
    Indicator("alarm", "RUNSTATE", _bits(2)),
    Indicator("kvo", "RUNSTATE", _bits(3)),
    Indicator("alarm", "ALARM1", _ALL_BUT_BIT0 & ~_bits(9, 13, 19)),
    Indicator("alarm", "ALARM2", _ALL_BUT_BIT0),
    Indicator("occlusion", "ALARM1", _bits(10, 11, 20)),
    Indicator("air_in_line", "ALARM1", _bits(28, 29, 30)),
    Indicator("end_of_volume", "ALARM1", _bits(9, 13, 19)),
    Indicator("battery", "ALARM1", _bits(2, 5, 6, 7)),
    Indicator("near_end", "PREALARM", _bits(2, 3)),
    Indicator("battery", "PREALARM", _bits(4, 15)),
    Indicator("infusing", "STATUS1", _bits(7)),
    Indicator("kvo", "STATUS1", _bits(13)),
    Indicator("bolus", "STATUS1", _bits(10, 11)),
)
_FLAG_NAMES = tuple(PumpFlags.model_fields)


@dataclass(slots=True)
class Answer:
    """A decoded MEM:GET answer: readings, per-pump decode errors (one line each), the
    ComDevice's own GNERR code if any, GNERR codes by pump slot, and the slots with data
    (``-1`` stands for a code that is not a number)."""

    readings: list[PumpReading] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    general_error: int | None = None
    pump_errors: dict[str, int] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)


def decode_answer(blocks: Sequence[Block], targets: Sequence[DeviceTarget]) -> Answer:
    """One reading per target whose slot has data and no GNERR in ``blocks``."""
    answer = Answer()
    by_slot: dict[str, list[Record]] = {}
    arrived: dict[str, Instant] = {}
    for block in blocks:
        records: list[Record] | None = None
        address = ""  # the pump of ``records``: a pump's records come one after another
        for record in block.records:
            if record.parameter == "GNERR":
                _note_error(answer, record)
            elif record.address != GENERAL_ADDRESS:
                if record.address != address or records is None:
                    address = record.address
                    records = by_slot.setdefault(address[3:], [])
                    arrived.setdefault(address[3:], block.at)
                records.append(record)
    answer.present = set(by_slot) - answer.pump_errors.keys()
    for target in targets:
        slot = target.address
        if slot is None or slot in answer.pump_errors or slot not in by_slot:
            continue
        try:
            answer.readings.append(decode_pump(by_slot[slot], target, arrived[slot]))
        except DecodeError as exc:
            answer.errors.append(f"pump {slot}: {exc}")
    return answer


def _note_error(answer: Answer, record: Record) -> None:
    text = (record.value or "").strip()
    code = int(text) if text.isascii() and text.isdigit() else -1
    if record.address == GENERAL_ADDRESS:
        answer.general_error = code
    else:
        answer.pump_errors[record.slot] = code


def decode_pump(records: Sequence[Record], target: DeviceTarget, at: Instant) -> PumpReading:
    """The reading of one pump from its records; :class:`DecodeError` on a bad value."""
    values: dict[str, str | None] = {
        r.parameter: None if r.value is None or r.value in NO_VALUE else r.value for r in records
    }
    observations = [_measure(values, measure) for measure in MEASURES]
    observations += [_remaining(values), _dose_rate(values)]
    active = _active(values)
    try:
        return PumpReading(
            device_id=target.device_id,
            bed=target.bed,
            ts=at.wall,
            observations=tuple(obs for obs in observations if obs is not None),
            pump=PumpStatus(
                state=_state(active),
                drug=_drug(values),
                bolus="bolus" in active,
                flags=PumpFlags(**{name: name in active for name in _FLAG_NAMES}),
            ),
        )
    except ValidationError as exc:
        raise DecodeError(f"invalid reading: {exc.errors()[0]['msg']}") from None


def _number(parameter: str, text: str) -> float:
    text = text.strip()
    if _NUMBER.fullmatch(text) is None:
        raise DecodeError(f"{parameter} {text[:12]!r} is not a decimal number")
    return float(text)


def _observation(code: str, unit: str, value: float | None) -> Observation:
    if value is None:
        return shared_observation(code, None, unit, "unavailable")
    return shared_observation(code, value, unit)


def _measure(values: Values, measure: Measure) -> Observation | None:
    if measure.parameter not in values:
        return None
    raw = values[measure.parameter]
    number = None if raw is None else _number(measure.parameter, raw)
    if number is not None and number == measure.no_value:
        number = None
    return _observation(measure.code, measure.unit, number)


def _remaining(values: Values) -> Observation | None:
    own = values.get("VOLREMAIN")
    if own is not None:
        return _observation(_REMAIN, "mL", _number("VOLREMAIN", own))
    if "INVTB" not in values:
        return _observation(_REMAIN, "mL", None) if "VOLREMAIN" in values else None
    vtbi, infused = values["INVTB"], values.get("INVI")
    total = None if vtbi is None else _number("INVTB", vtbi)
    if not total or infused is None:  # 0: no VTBI programmed
        return _observation(_REMAIN, "mL", None)
    left = total - _number("INVI", infused)
    return _observation(_REMAIN, "mL", round(max(left, 0.0), 3))


def _dose_rate(values: Values) -> Observation | None:
    if (values.get("INDOCAL") or "").strip() == "0":
        return None
    fallback = None
    for rate, unit_parameter in _DOSE_SOURCES:
        unit = ucum_unit(values.get(unit_parameter))
        if rate not in values or unit is None:
            continue
        raw = values[rate]
        if raw is not None:
            return _observation(_DOSE, unit, _number(rate, raw))
        fallback = fallback or _observation(_DOSE, unit, None)
    return fallback


def _long(parameter: str, text: str) -> int:
    """A 32-bit field: ``0x...``/``...h`` as hex, else decimal."""
    text = text.strip().lower()
    is_hex = text.startswith("0x") or text.endswith("h")
    digits = text.removeprefix("0x").removesuffix("h")
    if not digits or not set(digits) <= (_HEX_DIGITS if is_hex else _DEC_DIGITS):
        raise DecodeError(f"{parameter} {text[:12]!r} is not a bit field")
    return int(digits, 16 if is_hex else 10) & 0xFFFF_FFFF


def _is_set(indicator: Indicator, raw: str) -> bool:
    if indicator.mask is not None:
        return bool(_long(indicator.parameter, raw) & indicator.mask)
    flag = raw.strip()
    if flag not in ("0", "1"):
        raise DecodeError(f"{indicator.parameter} {flag[:12]!r} is not 0 or 1")
    return flag == "1"


def _active(values: Values) -> set[str]:
    active: set[str] = set()
    for indicator in INDICATORS:
        raw = values.get(indicator.parameter)
        if raw is not None and _is_set(indicator, raw):
            active.add(indicator.name)
    return active


def _drug(values: Values) -> str | None:
    for parameter in _DRUG_SOURCES:
        name = (values.get(parameter) or "").strip()
        if name:
            return name
    return None

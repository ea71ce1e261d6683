"""masimo_ascii codec: a :class:`MasimoLine` to a vitals Reading, and back for the simulator.

Fields are read by name (:data:`FIELDS`); order and presence vary by model. A value whose
digits are all dashes (``---``, ``--.--``, ``+--``) is "no value": state ``unavailable``,
never zero. ALARM and EXC (hex, any width; EXC cut at ``:`` as in the trend spelling
``EXC=800:SET``) become the reading's ``conditions`` and hide or doubt its values
(:mod:`.status`). Fields the tables do not know are skipped and reported in
:attr:`Decoded.unknown`, as are unknown status bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import ValidationError

from drivers.base import DeviceTarget, Instant
from drivers.errors import DecodeError
from drivers.masimo_ascii.framer import MasimoLine
from drivers.masimo_ascii.status import Status, decode_status
from drivers.readings import Observation, VitalsReading

__all__ = ["FIELDS", "IGNORED", "Decoded", "FieldMap", "decode", "encode", "no_value"]


@dataclass(frozen=True, slots=True)
class FieldMap:
    """A Masimo field name and the observation it carries; ``width`` (digits before and
    after the point) and ``suffix`` are its wire format, for the simulator."""

    name: str
    code: str
    unit: str
    width: tuple[int, int]
    suffix: str = ""

    def format(self, value: float | None) -> str:
        """``value`` as the device writes it: zero-padded, or dashes for no value."""
        whole, decimals = self.width
        if value is None:
            text = "-" * whole + ("." + "-" * decimals if decimals else "")
        else:
            size = whole + (decimals + 1 if decimals else 0)
            text = f"{value:0{size}.{decimals}f}"
        return text + self.suffix


FIELDS: tuple[FieldMap, ...] = (
    FieldMap("SPO2", "MDC_PULS_OXIM_SAT_O2", "%", (3, 0), "%"),
    FieldMap("BPM", "MDC_PULS_OXIM_PULS_RATE", "/min", (3, 0)),
    FieldMap("PR", "MDC_PULS_OXIM_PULS_RATE", "/min", (3, 0)),  # trend spelling of BPM
    FieldMap("PI", "MDC_PULS_OXIM_PERF_REL", "%", (2, 2), "%"),
    FieldMap("SPCO", "X_MASIMO_SPCO", "%", (2, 1), "%"),
    FieldMap("SPMET", "X_MASIMO_SPMET", "%", (2, 1), "%"),
    FieldMap("PVI", "X_MASIMO_PVI", "%", (3, 0)),
)
_BY_NAME = {field.name: field for field in FIELDS}

IGNORED = frozenset({"SN", "SPHB", "SPOC", "DESAT", "PIDELTA", "RESVD", "EXC1", "ALARM", "EXC"})
"""Known fields that carry no observation here (serial number, SpHb and SpOC, indices,
undocumented EXC1) or are read as status."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded line: its reading and what was not understood (field names, status bits)."""

    reading: VitalsReading
    unknown: tuple[str, ...] = ()


def no_value(raw: str) -> bool:
    """Whether ``raw`` (``%`` stripped) means "no value": empty, or only dashes, ``+``, ``.``."""
    return not raw or (set(raw) <= set("+-.") and "-" in raw)


def _number(name: str, raw: str) -> float | None:
    value = raw.removesuffix("%")
    if no_value(value):
        return None
    try:
        number = float(value)
    except ValueError:
        raise DecodeError(f"masimo {name}: {raw[:12]!r} is not a number") from None
    if not math.isfinite(number) or not value.lstrip("+-").replace(".", "", 1).isdigit():
        raise DecodeError(f"masimo {name}: {raw[:12]!r} is not a decimal number")
    return number


def _hex(name: str, raw: str | None) -> int:
    if raw is None:
        return 0
    digits = raw.partition(":")[0]
    if not digits or len(digits) > 8 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise DecodeError(f"masimo {name}: {raw[:12]!r} is not a hex bit field")
    return int(digits, 16)


def _observation(field: FieldMap, raw: str, status: Status) -> Observation:
    number = _number(field.name, raw)
    effect = status.effect_on(field.code)
    if number is None or effect == "hide":
        return Observation(code=field.code, value=None, unit=field.unit, state="unavailable")
    state = "questionable" if effect == "doubt" else "valid"
    return Observation(code=field.code, value=number, unit=field.unit, state=state)


def decode(line: MasimoLine, target: DeviceTarget, at: Instant) -> Decoded:
    """The reading in ``line``, stamped with the receive time ``at.wall`` (the device clock
    has no time zone). Raises :class:`DecodeError` for a value that is neither a number nor
    dashes, or a status field that is not hex."""
    values: dict[str, str] = {}
    for name, raw in line.fields:
        values.setdefault(name, raw)  # a repeated field: the first one counts
    status = decode_status(_hex("ALARM", values.get("ALARM")), _hex("EXC", values.get("EXC")))
    observations: list[Observation] = []
    seen: set[str] = set()
    unknown = [f"field {name}" for name in values if name not in _BY_NAME and name not in IGNORED]
    for name, raw in values.items():
        field = _BY_NAME.get(name)
        if field is None or field.code in seen:
            continue
        seen.add(field.code)
        observations.append(_observation(field, raw, status))
    try:
        reading = VitalsReading(
            device_id=target.device_id,
            bed=target.bed,
            ts=at.wall,
            observations=tuple(observations),
            conditions=status.conditions,
        )
    except ValidationError as exc:
        raise DecodeError(f"masimo: {exc.errors()[0]['msg']}") from exc
    return Decoded(reading, (*unknown, *status.unknown))


def encode(
    stamp: str, values: dict[str, float | None], *, alarm: int = 0, exc: int = 0x800
) -> MasimoLine:
    """A Radical-7 style line: ``SN``, the ``values`` by field name (keys of
    :data:`FIELDS`, in the given order), then ``ALARM`` (4 hex digits) and ``EXC`` (6)."""
    fields = [("SN", "0000000000")]
    fields += [(name, _BY_NAME[name].format(value)) for name, value in values.items()]
    fields += [("ALARM", f"{alarm:04X}"), ("EXC", f"{exc:06X}")]
    return MasimoLine(stamp, tuple(fields))

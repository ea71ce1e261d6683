"""textline codec: a :class:`LineFrame` to a pump or vitals Reading.

Keys map to observations by the tables below; unknown keys are skipped so a newer device can
send more. A value of ``-`` means the device has no value now (state ``unavailable``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from drivers.base import DeviceTarget, Instant
from drivers.errors import DecodeError
from drivers.readings import (
    Observation,
    PumpFlags,
    PumpReading,
    PumpState,
    PumpStatus,
    VitalsReading,
)
from drivers.textline.frames import LineFrame

__all__ = ["PUMP_FIELDS", "VITALS_FIELDS", "decode", "encode_pump", "encode_vitals"]


@dataclass(frozen=True, slots=True)
class FieldMap:
    """A textline key and the observation it carries."""

    key: str
    code: str
    unit: str


VITALS_FIELDS: tuple[FieldMap, ...] = (
    FieldMap("SBP", "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]"),
    FieldMap("DBP", "MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]"),
    FieldMap("MAP", "MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]"),
    FieldMap("HR", "MDC_ECG_HEART_RATE", "/min"),
    FieldMap("PR", "MDC_PULS_OXIM_PULS_RATE", "/min"),
    FieldMap("SPO2", "MDC_PULS_OXIM_SAT_O2", "%"),
    FieldMap("RR", "MDC_RESP_RATE", "/min"),
)
PUMP_FIELDS: tuple[FieldMap, ...] = (
    FieldMap("RATE", "MDC_FLOW_FLUID_PUMP", "mL/h"),
    FieldMap("VI", "MDC_VOL_FLUID_DELIV", "mL"),
    FieldMap("VTBI", "MDC_VOL_FLUID_TBI_REMAIN", "mL"),
)
_PUMP_STATES: frozenset[PumpState] = frozenset({"infusing", "stopped", "kvo", "alarm"})
_FLAG_NAMES = frozenset(PumpFlags.model_fields)


def decode(
    frame: LineFrame, target: DeviceTarget, at: Instant
) -> list[PumpReading | VitalsReading]:
    """The reading in ``frame``, stamped with the receive time ``at.wall``."""
    values = dict(frame.fields)
    try:
        if frame.kind == "VIT":
            return [
                VitalsReading(
                    device_id=target.device_id,
                    bed=target.bed,
                    ts=at.wall,
                    observations=_observations(values, VITALS_FIELDS),
                )
            ]
        if frame.kind == "PMP":
            return [
                PumpReading(
                    device_id=target.device_id,
                    bed=target.bed,
                    ts=at.wall,
                    observations=_observations(values, PUMP_FIELDS),
                    pump=_pump_status(values),
                )
            ]
    except ValidationError as exc:
        raise DecodeError(f"textline {frame.kind}: {exc.errors()[0]['msg']}") from exc
    raise DecodeError(f"textline: unknown line kind {frame.kind!r}")


def _observations(values: dict[str, str], table: tuple[FieldMap, ...]) -> tuple[Observation, ...]:
    out = []
    for field in table:
        raw = values.get(field.key)
        if raw is None:
            continue
        if raw == "-":
            out.append(
                Observation(code=field.code, value=None, unit=field.unit, state="unavailable")
            )
            continue
        try:
            number = float(raw)
        except ValueError:
            raise DecodeError(f"textline {field.key}: {raw!r} is not a number") from None
        if not math.isfinite(number):
            raise DecodeError(f"textline {field.key}: {raw!r} is not a finite number")
        out.append(Observation(code=field.code, value=number, unit=field.unit))
    return tuple(out)


def _pump_status(values: dict[str, str]) -> PumpStatus:
    state = values.get("STATE", "")
    if state not in _PUMP_STATES:
        raise DecodeError(f"textline STATE: {state!r} is not one of {sorted(_PUMP_STATES)}")
    flags = {name for name in values.get("FLAGS", "").split("|") if name}
    unknown = flags - _FLAG_NAMES
    if unknown:
        raise DecodeError(f"textline FLAGS: unknown flag {sorted(unknown)[0]!r}")
    drug = values.get("DRUG") or None
    return PumpStatus(
        state=state,
        drug=drug,
        bolus=values.get("BOLUS") == "1",
        flags=PumpFlags(**dict.fromkeys(flags, True)),
    )


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def encode_vitals(values: Mapping[str, float | None]) -> LineFrame:
    """A VIT line from ``{"SBP": 120, ...}`` (keys of :data:`VITALS_FIELDS`)."""
    return LineFrame("VIT", tuple((key, _format(value)) for key, value in values.items()))


def encode_pump(
    state: PumpState,
    values: Mapping[str, float | None],
    drug: str | None = None,
    flags: tuple[str, ...] = (),
) -> LineFrame:
    """A PMP line: ``state``, the values of :data:`PUMP_FIELDS`, the drug and set flags."""
    fields: list[tuple[str, str]] = [("STATE", state)]
    fields += [(key, _format(value)) for key, value in values.items()]
    if drug:
        fields.append(("DRUG", drug))
    if flags:
        fields.append(("FLAGS", "|".join(flags)))
    return LineFrame("PMP", tuple(fields))

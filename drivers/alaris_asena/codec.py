"""Decoding Asena answers (fact sheet §3.1, §4) and building one pump Reading per poll cycle.

Field meanings marked *inferred* in the sheet are used as follows:

- ``INF`` field 2 (alarm notification): ``-`` is no alarm; anything else makes the host ask
  ``ALARM``. The ``ALARM`` code is published raw (``PumpStatus.alarm_code`` and the
  condition ``device_alarm``); only ``AL_NOALM`` (no alarm) is public, so no code is mapped
  to occlusion, air in line or end of volume.
- ``INF`` field 3 (mode, ``SET`` in every example) is not used; field 11 (time remaining,
  ``24+``) is not published: its format below 24 h is unknown.
- State: the sheet names no running state. It is derived from the values: rate 0 is
  ``stopped``; a positive rate with the VTBI active and reached (volume infused >= VTBI) is
  ``kvo`` with the ``end_of_volume`` flag (derived from the volumes, not from an alarm code);
  any other positive rate is ``infusing``.
- ``INF_VTBI``: field 1 is the VTBI state (``ACTIV`` = set), field 2 the VTBI in mL (empty:
  none, as OpenICE reads it).
- ``SYRINGE_STATUS``: brand and size (mL); shown as the pump's ``drug`` text
  (``"syringe BD PLASTIPAK 50 mL"``): the Asena reports its syringe, not a drug.

Units are checked: a rate not in ``ml/h``, a volume not in ``ml`` or a pressure not in
``mmHg`` makes the answer undecodable (:class:`~drivers.errors.DecodeError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers.base import DeviceTarget, Instant
from drivers.errors import DecodeError
from drivers.readings import (
    DeviceCondition,
    Observation,
    PumpFlags,
    PumpReading,
    PumpState,
    PumpStatus,
)

__all__ = [
    "NO_ALARM",
    "NO_ALARM_CODE",
    "InfStatus",
    "Vtbi",
    "build_reading",
    "decode_alarm",
    "decode_inf",
    "decode_syringe",
    "decode_vtbi",
]

NO_ALARM = "-"
"""``INF`` field 2 when no alarm is notified (*inferred*)."""
NO_ALARM_CODE = "AL_NOALM"
"""The only public ``ALARM`` code: no alarm."""
INF_FIELDS = 14
PRESSURE_CODE = "X_ALARIS_PRESS_LINE"


@dataclass(frozen=True, slots=True)
class InfStatus:
    """The ``INF`` answer: serial, alarm notification, mode, rate (mL/h), volume infused
    (mL), line pressure (mmHg), time remaining (raw), last log entry id."""

    serial: str
    alarm: str
    mode: str
    rate_ml_h: float
    infused_ml: float
    pressure_mmhg: float | None
    time_remaining: str
    log_id: str


@dataclass(frozen=True, slots=True)
class Vtbi:
    """The ``INF_VTBI`` answer: whether a VTBI is set (``ACTIV``) and its volume (mL)."""

    active: bool
    vtbi_ml: float | None


def _number(text: str, what: str, *, optional: bool = False) -> float | None:
    text = text.strip()
    if not text and optional:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DecodeError(f"{what}: not a number: {text[:12]!r}") from None
    if not math.isfinite(value):
        raise DecodeError(f"{what}: not a finite number")
    return value


def _echo(fields: tuple[str, ...], command: str, count: int) -> None:
    if fields[0] != command:
        raise DecodeError(f"answer echoes {fields[0][:20]!r}, not {command}")
    if len(fields) < count:
        raise DecodeError(f"{command} answer with {len(fields)} fields, not {count}")


def _unit(found: str, expected: str, what: str) -> None:
    if found.strip().lower() != expected.lower():
        raise DecodeError(f"{what} in {found[:10]!r}, not {expected}")


def decode_inf(fields: tuple[str, ...]) -> InfStatus:
    """The ``INF`` answer's 14 fields (§4); raises :class:`DecodeError`."""
    _echo(fields, "INF", INF_FIELDS)
    if len(fields) != INF_FIELDS:
        raise DecodeError(f"INF answer with {len(fields)} fields, not {INF_FIELDS}")
    _unit(fields[5], "ml/h", "rate")
    _unit(fields[8], "ml", "volume infused")
    rate = _number(fields[4], "rate")
    infused = _number(fields[7], "volume infused")
    assert rate is not None
    assert infused is not None
    pressure = None
    if fields[9].strip():
        _unit(fields[10], "mmHg", "line pressure")
        pressure = _number(fields[9], "line pressure")
    return InfStatus(
        fields[1], fields[2].strip(), fields[3], rate, infused, pressure, fields[11], fields[13]
    )


def decode_vtbi(fields: tuple[str, ...]) -> Vtbi:
    """The ``INF_VTBI`` answer ``INF_VTBI^<state>^<vtbi>^ml^<end action>``."""
    _echo(fields, "INF_VTBI", 3)
    vtbi = _number(fields[2], "VTBI", optional=True)
    if vtbi is not None and len(fields) > 3:
        _unit(fields[3], "ml", "VTBI")
    active = fields[1].strip() == "ACTIV" and vtbi is not None and vtbi > 0
    return Vtbi(active, vtbi if active else None)


def decode_alarm(fields: tuple[str, ...]) -> str | None:
    """The raw alarm code of an ``ALARM`` answer, ``None`` for ``AL_NOALM``."""
    _echo(fields, "ALARM", 2)
    code = fields[1].strip()
    if not code or code == NO_ALARM_CODE:
        return None
    if len(code) > 40:
        raise DecodeError("alarm code longer than 40 characters")
    return code


def decode_syringe(fields: tuple[str, ...]) -> str | None:
    """The syringe as the pump shows it (``"syringe BD PLASTIPAK 50 mL"``), or ``None``."""
    _echo(fields, "SYRINGE_STATUS", 3)
    brand, size = fields[1].strip(), fields[2].strip()
    if not brand:
        return None
    text = f"syringe {brand} {size} mL" if size else f"syringe {brand}"
    return text[:60]


def _state(inf: InfStatus, vtbi: Vtbi | None) -> tuple[PumpState, bool]:
    if inf.rate_ml_h <= 0:
        return "stopped", False
    if vtbi is not None and vtbi.vtbi_ml is not None and inf.infused_ml >= vtbi.vtbi_ml:
        return "kvo", True
    return "infusing", False


def build_reading(
    target: DeviceTarget,
    at: Instant,
    inf: InfStatus,
    vtbi: Vtbi | None,
    alarm_code: str | None,
    syringe: str | None,
) -> PumpReading:
    """One pump Reading from a poll cycle's answers, stamped ``at.wall``."""
    state, end_of_volume = _state(inf, vtbi)
    observations = [
        Observation(code="MDC_FLOW_FLUID_PUMP", value=inf.rate_ml_h, unit="mL/h"),
        Observation(code="MDC_VOL_FLUID_DELIV", value=inf.infused_ml, unit="mL"),
    ]
    if vtbi is not None and vtbi.vtbi_ml is not None:
        remaining = max(vtbi.vtbi_ml - inf.infused_ml, 0.0)
        observations.append(
            Observation(code="MDC_VOL_FLUID_TBI_REMAIN", value=remaining, unit="mL")
        )
    if inf.pressure_mmhg is not None:
        observations.append(Observation(code=PRESSURE_CODE, value=inf.pressure_mmhg, unit="mm[Hg]"))
    conditions: tuple[DeviceCondition, ...] = ("device_alarm",) if alarm_code else ()
    status = PumpStatus(
        state=state,
        drug=syringe,
        flags=PumpFlags(end_of_volume=end_of_volume),
        alarm_code=alarm_code,
    )
    return PumpReading(
        device_id=target.device_id,
        bed=target.bed,
        ts=at.wall,
        observations=tuple(observations),
        conditions=conditions,
        pump=status,
    )

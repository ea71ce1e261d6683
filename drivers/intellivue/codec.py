"""IntelliVue codec: polled numeric objects to a :class:`~drivers.readings.VitalsReading`.

Tables, not code, say what is decoded (fact sheet §8.5, §9, §10):

- :data:`NUMERICS`: physio id -> IEEE 11073 code and UCUM unit; components of the compound
  NIBP are looked up by their own physio id, never by position. Unknown ids are skipped.
- :data:`UNITS`: monitor unit code -> UCUM unit and factor (kPa is converted to mm[Hg]).
  A value whose unit does not convert to the table's UCUM unit becomes ``invalid`` (no value)
  and is reported as a problem, never passed on with a wrong unit.
- :data:`STATE_RULES` and :data:`SPECIAL_STATES`: MeasurementState bits and FLOAT-Type special
  values -> observation state. A value is ``valid`` only when the state's high byte is 0.

Times: the reading is stamped ``at.wall`` (the result is the monitor's "now"). An intermittent
value (NIBP) gets its own ``ts``: its TIME_STAMP_REL, or its TIME_STAMP_ABS converted to the
monitor's RelativeTime with the MDS-create clock pair (:class:`~.timebase.MonitorClock`), is
aged against the result's own RelativeTime, so neither the monitor's time zone nor its clock
setting matters; with a :class:`~.timebase.RelativeAnchor` the result's RelativeTime has a
stable wall time, so a cuff repeated in every poll keeps one stamp. Without any stamp,
:class:`~.timebase.FirstSeen` gives the time the value set first appeared.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from drivers.base import DeviceTarget, Instant
from drivers.errors import DecodeError
from drivers.intellivue import codes
from drivers.intellivue.datatypes import FloatSpecial, FloatType, decode_abs_time
from drivers.intellivue.poll import NuObsValue, ObservationPoll, decode_compound, decode_nu_value
from drivers.intellivue.timebase import FirstSeen, MonitorClock, RelativeAnchor, wall_time
from drivers.readings import Observation, ObservationState, VitalsReading, shared_observation

__all__ = [
    "NUMERICS",
    "SPECIAL_STATES",
    "STATE_RULES",
    "UNITS",
    "Decoded",
    "NumericSpec",
    "UnitSpec",
    "decode_numerics",
    "observation_state",
]


@dataclass(frozen=True, slots=True)
class NumericSpec:
    """A monitor numeric: its physio id, IEEE 11073 code and UCUM unit. ``intermittent``
    values (NIBP) carry their own measurement time."""

    physio_id: int
    label: str
    code: str
    ucum: str
    intermittent: bool = False


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """A monitor unit code; ``value x factor`` is the value in ``ucum``."""

    code: int
    label: str
    ucum: str
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class StateRule:
    """A MeasurementState bit and the observation state it forces, strongest first."""

    bit: int
    state: ObservationState


NUMERICS: Final = (
    NumericSpec(codes.NOM_ECG_CARD_BEAT_RATE, "heart rate", "MDC_ECG_HEART_RATE", "/min"),
    NumericSpec(codes.NOM_PLETH_PULS_RATE, "pulse rate", "MDC_PULS_OXIM_PULS_RATE", "/min"),
    NumericSpec(codes.NOM_PULS_OXIM_SAT_O2, "SpO2", "MDC_PULS_OXIM_SAT_O2", "%"),
    NumericSpec(codes.NOM_RESP_RATE, "respiration rate", "MDC_RESP_RATE", "/min"),
    NumericSpec(codes.NOM_AWAY_RESP_RATE, "airway resp. rate", "MDC_AWAY_RESP_RATE", "/min"),
    NumericSpec(
        codes.NOM_PRESS_BLD_NONINV_SYS, "NIBP sys", "MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]", True
    ),
    NumericSpec(
        codes.NOM_PRESS_BLD_NONINV_DIA, "NIBP dia", "MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]", True
    ),
    NumericSpec(
        codes.NOM_PRESS_BLD_NONINV_MEAN, "NIBP mean", "MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]", True
    ),
)
UNITS: Final = (
    UnitSpec(codes.NOM_DIM_BEAT_PER_MIN, "bpm", "/min"),
    UnitSpec(codes.NOM_DIM_RESP_PER_MIN, "rpm", "/min"),
    UnitSpec(codes.NOM_DIM_PERCENT, "%", "%"),
    UnitSpec(codes.NOM_DIM_MMHG, "mmHg", "mm[Hg]"),
    UnitSpec(codes.NOM_DIM_KILO_PASCAL, "kPa", "mm[Hg]", 760 / 101.325),
)
STATE_RULES: Final = (
    StateRule(codes.MS_INVALID, "invalid"),
    StateRule(codes.MS_UNAVAILABLE, "unavailable"),
    StateRule(codes.MS_CALIBRATION_ONGOING, "unavailable"),
    StateRule(codes.MS_TEST_DATA, "invalid"),
    StateRule(codes.MS_DEMO_DATA, "invalid"),
    StateRule(0x0300, "invalid"),  # high-byte bits the guide does not name: not valid
    StateRule(codes.MS_QUESTIONABLE, "questionable"),
)
SPECIAL_STATES: Final[dict[FloatSpecial, ObservationState]] = {
    FloatSpecial.NAN: "unavailable",
    FloatSpecial.NRES: "invalid",
    FloatSpecial.POS_INF: "invalid",
    FloatSpecial.NEG_INF: "invalid",
    FloatSpecial.RESERVED: "invalid",
}
_RULE_BITS = functools.reduce(operator.or_, (rule.bit for rule in STATE_RULES))  # looked at
_BY_PHYSIO = {spec.physio_id: spec for spec in NUMERICS}
_BY_UNIT = {unit.code: unit for unit in UNITS}


def observation_state(state: int, value: FloatType) -> ObservationState:
    """The observation state of a NuObsValue's MeasurementState bits and value."""
    from_bits: ObservationState = "valid"
    if state & _RULE_BITS:  # most values have none of the bits
        from_bits = next(rule.state for rule in STATE_RULES if state & rule.bit)
    special = value.special
    if from_bits in ("invalid", "unavailable") or special is None:
        return from_bits
    return SPECIAL_STATES[special]


@dataclass(slots=True)
class Decoded:
    """A decoded poll: the reading (``None`` when no known numeric was polled) and one
    short reason per value the codec had to invalidate."""

    reading: VitalsReading | None
    problems: list[str] = field(default_factory=list)


def decode_numerics(
    objects: Sequence[ObservationPoll],
    now_rel: int,
    target: DeviceTarget,
    at: Instant,
    clock: MonitorClock | None = None,
    first_seen: FirstSeen | None = None,
    anchor: RelativeAnchor | None = None,
) -> Decoded:
    """The reading of the numeric objects of one poll result (or linked chain) whose
    rel_time_stamp is ``now_rel``; raises :class:`DecodeError` on malformed attributes.
    Measurement times are aged against ``anchor``'s wall time of ``now_rel`` when given,
    else against the receive time ``at.wall`` (the reading's own ``ts`` either way)."""
    decoded = Decoded(None)
    now_wall = at.wall if anchor is None else anchor.now_wall(now_rel, at.wall)
    try:
        problems = decoded.problems
        observations = _observations(objects, now_rel, now_wall, clock, first_seen, problems)
        if observations:
            decoded.reading = VitalsReading(
                device_id=target.device_id,
                bed=target.bed,
                ts=at.wall,
                observations=tuple(observations),
            )
    except ValidationError as exc:
        raise DecodeError(f"IntelliVue reading: {exc.errors()[0]['msg']}") from None
    return decoded


def _observations(
    objects: Sequence[ObservationPoll],
    now_rel: int,
    now_wall: datetime,
    clock: MonitorClock | None,
    first_seen: FirstSeen | None,
    problems: list[str],
) -> list[Observation]:
    observations: list[Observation] = []
    codes_seen: set[str] = set()
    for obj in objects:
        attrs = {ava.attr_id: ava.value for ava in reversed(obj.attributes)}
        values = _values(attrs)
        specs = [(value, _BY_PHYSIO.get(value.physio_id)) for value in values]
        measured: datetime | None = None
        if any(spec.intermittent for _, spec in specs if spec is not None):
            measured = _measured(obj.handle, attrs, values, now_rel, now_wall, clock, first_seen)
        for value, spec in specs:
            if spec is None or spec.code in codes_seen:
                continue
            codes_seen.add(spec.code)
            ts = measured if spec.intermittent else None
            observations.append(_observation(spec, value, ts, problems))
    return observations


def _values(attrs: dict[int, bytes]) -> list[NuObsValue]:
    values: list[NuObsValue] = []
    if (raw := attrs.get(codes.NOM_ATTR_NU_VAL_OBS)) is not None:
        values.append(decode_nu_value(raw))
    if (raw := attrs.get(codes.NOM_ATTR_NU_CMPD_VAL_OBS)) is not None:
        values.extend(decode_compound(raw))
    return values


def _measured(
    handle: int,
    attrs: dict[int, bytes],
    values: list[NuObsValue],
    now_rel: int,
    now_wall: datetime,
    clock: MonitorClock | None,
    first_seen: FirstSeen | None,
) -> datetime | None:
    rel = _object_rel_time(attrs, clock)
    if rel is not None:
        return wall_time(rel, now_rel, now_wall)
    if first_seen is None:
        return None
    key = tuple(word for v in values for word in (v.physio_id, v.state, v.value.to_word()))
    return first_seen.time_of(handle, key, now_wall)


def _object_rel_time(attrs: dict[int, bytes], clock: MonitorClock | None) -> int | None:
    raw_rel = attrs.get(codes.NOM_ATTR_TIME_STAMP_REL)
    if raw_rel is not None:
        if len(raw_rel) != 4:
            raise DecodeError(f"TIME_STAMP_REL: {len(raw_rel)} bytes, expected 4")
        return int.from_bytes(raw_rel)
    raw_abs = attrs.get(codes.NOM_ATTR_TIME_STAMP_ABS)
    moment = None if raw_abs is None else decode_abs_time(raw_abs)
    return None if moment is None or clock is None else clock.rel_of(moment)


def _observation(
    spec: NumericSpec, value: NuObsValue, ts: datetime | None, problems: list[str]
) -> Observation:
    state = observation_state(value.state, value.value)
    number = value.value.value
    if state in ("invalid", "unavailable") or number is None:
        return Observation(code=spec.code, value=None, unit=spec.ucum, state=state, ts=ts)
    unit = _BY_UNIT.get(value.unit_code)
    if unit is None or unit.ucum != spec.ucum:
        label = unit.label if unit else f"code 0x{value.unit_code:04X}"
        problems.append(f"{spec.label}: unit {label} is not {spec.ucum}; value dropped")
        return Observation(code=spec.code, value=None, unit=spec.ucum, state="invalid", ts=ts)
    if ts is None:
        return shared_observation(spec.code, number * unit.factor, spec.ucum, state)
    return Observation(
        code=spec.code, value=number * unit.factor, unit=spec.ucum, state=state, ts=ts
    )

"""The values a simulated IntelliVue monitor shows, and the objects it answers polls with.

:class:`MonitorValues` is a plain mutable dataclass: a simulator or a test sets a quantity
to a :class:`Numeric` (value, MeasurementState bits, resolution, unit override) or to
``None`` to take its object off the monitor. The object table (:data:`SINGLE_OBJECTS`,
:data:`NIBP_COMPONENTS`) gives handles, physio ids and usual units; HR is handle 0x0014 and
NIBP 0x0026, as in the fact sheet's example S6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from drivers.intellivue import codes
from drivers.intellivue.datatypes import Ava, FloatSpecial, FloatType, encode_abs_time, u32
from drivers.intellivue.poll import NuObsValue, ObservationPoll, encode_compound

__all__ = [
    "NIBP_COMPONENTS",
    "NIBP_HANDLE",
    "SINGLE_OBJECTS",
    "MonitorValues",
    "Numeric",
    "SimObject",
    "numeric_objects",
]


@dataclass(frozen=True, slots=True)
class Numeric:
    """One numeric as the monitor shows it.

    ``value`` is in the quantity's usual unit (bpm, %, rpm, mmHg) or a FLOAT-Type special;
    ``state`` holds MeasurementState bits (0 valid, ``codes.MS_INVALID``,
    ``codes.MS_QUESTIONABLE`` ...); ``decimals`` is the resolution sent; ``unit`` replaces the
    usual unit code (the value is then sent as given, not converted).
    """

    value: float | FloatSpecial
    state: int = 0
    decimals: int = 0
    unit: int | None = None

    def observed(self, physio_id: int, usual_unit: int) -> NuObsValue:
        """This value as a NuObsValue of ``physio_id``."""
        if isinstance(self.value, FloatSpecial):
            number = FloatType.special_value(self.value)
        else:
            number = FloatType.of(self.value, self.decimals)
        unit = usual_unit if self.unit is None else self.unit
        return NuObsValue(physio_id, self.state, unit, number)


@dataclass(slots=True)
class MonitorValues:
    """What the monitor shows now. ``None`` leaves the quantity out of poll results.
    ``nibp_time`` is the monitor-clock ``now`` (s) of the last cuff measurement; ``None``
    sends NIBP without time stamps."""

    hr: Numeric | None = Numeric(72)
    pr: Numeric | None = Numeric(72)
    spo2: Numeric | None = Numeric(98)
    rr: Numeric | None = Numeric(14)
    nibp_sys: Numeric | None = None
    nibp_dia: Numeric | None = None
    nibp_mean: Numeric | None = None
    nibp_time: float | None = None

    def measure_nibp(self, systolic: float, diastolic: float, mean: float, now: float) -> None:
        """A new cuff measurement in mmHg, taken at monitor time ``now`` (s)."""
        self.nibp_sys, self.nibp_dia = Numeric(systolic), Numeric(diastolic)
        self.nibp_mean, self.nibp_time = Numeric(mean), now


@dataclass(frozen=True, slots=True)
class SimObject:
    """A numeric object of the simulated monitor and where its value lives."""

    handle: int
    physio_id: int
    unit: int
    get: Callable[[MonitorValues], Numeric | None]


SINGLE_OBJECTS: Final = (
    SimObject(0x0014, codes.NOM_ECG_CARD_BEAT_RATE, codes.NOM_DIM_BEAT_PER_MIN, lambda v: v.hr),
    SimObject(0x0020, codes.NOM_PLETH_PULS_RATE, codes.NOM_DIM_BEAT_PER_MIN, lambda v: v.pr),
    SimObject(0x0021, codes.NOM_PULS_OXIM_SAT_O2, codes.NOM_DIM_PERCENT, lambda v: v.spo2),
    SimObject(0x0022, codes.NOM_RESP_RATE, codes.NOM_DIM_RESP_PER_MIN, lambda v: v.rr),
)
NIBP_HANDLE: Final = 0x0026
_MMHG = codes.NOM_DIM_MMHG
NIBP_COMPONENTS: Final = (
    SimObject(NIBP_HANDLE, codes.NOM_PRESS_BLD_NONINV_SYS, _MMHG, lambda v: v.nibp_sys),
    SimObject(NIBP_HANDLE, codes.NOM_PRESS_BLD_NONINV_DIA, _MMHG, lambda v: v.nibp_dia),
    SimObject(NIBP_HANDLE, codes.NOM_PRESS_BLD_NONINV_MEAN, _MMHG, lambda v: v.nibp_mean),
)


def numeric_objects(
    values: MonitorValues,
    rel_time: Callable[[float], int],
    wall_time: Callable[[float], datetime],
    time_stamps: tuple[str, ...] = ("abs", "rel"),
) -> tuple[ObservationPoll, ...]:
    """The numeric objects of a poll result (observed-value group). ``rel_time`` and
    ``wall_time`` give the monitor's clocks at a ``now``; ``time_stamps`` names the NIBP
    time attributes to send (``abs``, ``rel``)."""
    objects: list[ObservationPoll] = []
    for obj in SINGLE_OBJECTS:
        numeric = obj.get(values)
        if numeric is not None:
            value = numeric.observed(obj.physio_id, obj.unit).to_bytes()
            objects.append(ObservationPoll(obj.handle, (Ava(codes.NOM_ATTR_NU_VAL_OBS, value),)))
    components = [
        numeric.observed(obj.physio_id, obj.unit)
        for obj in NIBP_COMPONENTS
        if (numeric := obj.get(values)) is not None
    ]
    if components:
        attributes = [Ava(codes.NOM_ATTR_NU_CMPD_VAL_OBS, encode_compound(components))]
        measured = values.nibp_time
        if measured is not None and "abs" in time_stamps:
            stamp = encode_abs_time(wall_time(measured))
            attributes.append(Ava(codes.NOM_ATTR_TIME_STAMP_ABS, stamp))
        if measured is not None and "rel" in time_stamps:
            attributes.append(Ava(codes.NOM_ATTR_TIME_STAMP_REL, u32(rel_time(measured))))
        objects.append(ObservationPoll(NIBP_HANDLE, tuple(attributes)))
    return tuple(objects)

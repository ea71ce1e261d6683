"""Reading models: what every driver emits and every consumer reads.

A Reading is one measurement instant of one device: a list of observations, each named by its
IEEE 11073-10101 reference id and carrying a UCUM unit. Pump readings also carry the pump's
running state and its own alarm flags. Readings are frozen pydantic models, a union tagged by
``kind``; they are validated once, in the codec, and trusted after that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

__all__ = [
    "DEVICE_CONDITIONS",
    "OBSERVATION_KINDS",
    "DeviceCondition",
    "Observation",
    "ObservationKind",
    "ObservationState",
    "PumpFlags",
    "PumpReading",
    "PumpState",
    "PumpStatus",
    "Reading",
    "VitalsReading",
    "observation_kind",
    "parse_reading",
    "shared_observation",
]

ObservationState = Literal["valid", "questionable", "invalid", "unavailable"]
"""``valid``: trust it. ``questionable``: the device doubts it. ``invalid``/``unavailable``:
the device reported the quantity but has no usable value (``value`` is then ``None``)."""

PumpState = Literal["infusing", "stopped", "kvo", "alarm"]

DeviceCondition = Literal[
    "no_sensor",
    "sensor_off",
    "sensor_fault",
    "cable_fault",
    "low_signal_quality",
    "low_perfusion",
    "pulse_search",
    "interference",
    "device_alarm",
    "alarm_silenced",
    "low_battery",
]
"""A device's own status beside its values, as it reports it: ``no_sensor`` (none
connected), ``sensor_off`` (off the patient), ``sensor_fault`` (defective, unrecognised,
incompatible or expired sensor), ``cable_fault`` (no, defective or unrecognised cable),
``low_signal_quality``, ``low_perfusion``, ``pulse_search`` (acquiring), ``interference``
(also ambient light), ``device_alarm`` (the device is sounding an alarm of its own),
``alarm_silenced``, ``low_battery``."""

DEVICE_CONDITIONS: tuple[DeviceCondition, ...] = get_args(DeviceCondition)


@dataclass(frozen=True, slots=True)
class ObservationKind:
    """One row of the observation table: an IEEE 11073 code, its UCUM unit and a label.

    ``unit`` is ``None`` where the device chooses the unit (a dose rate in mg/kg/h or ug/min).
    """

    code: str
    unit: str | None
    label: str
    reading_kind: Literal["pump", "vitals"]


OBSERVATION_KINDS: tuple[ObservationKind, ...] = (
    ObservationKind("MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]", "NIBP systolic", "vitals"),
    ObservationKind("MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]", "NIBP diastolic", "vitals"),
    ObservationKind("MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]", "NIBP mean", "vitals"),
    ObservationKind("MDC_ECG_HEART_RATE", "/min", "heart rate", "vitals"),
    ObservationKind("MDC_PULS_OXIM_PULS_RATE", "/min", "pulse rate", "vitals"),
    ObservationKind("MDC_PULS_OXIM_SAT_O2", "%", "SpO2", "vitals"),
    ObservationKind("MDC_RESP_RATE", "/min", "respiration rate", "vitals"),
    ObservationKind("MDC_AWAY_RESP_RATE", "/min", "airway respiration rate (CO2)", "vitals"),
    ObservationKind("MDC_TEMP_BODY", "Cel", "body temperature", "vitals"),
    ObservationKind("MDC_FLOW_FLUID_PUMP", "mL/h", "programmed rate", "pump"),
    ObservationKind("MDC_VOL_FLUID_DELIV", "mL", "volume infused", "pump"),
    ObservationKind("MDC_VOL_FLUID_TBI_REMAIN", "mL", "volume to be infused, remaining", "pump"),
    ObservationKind("MDC_RATE_DOSE", None, "dose rate", "pump"),
    ObservationKind("MDC_TIME_PD_REMAIN", "s", "time to end of infusion, remaining", "pump"),
    # Vendor code: IEEE 11073-10101 has no term for a line pressure given in % of the pump's
    # occlusion alarm limit (B. Braun BCC INP2).
    ObservationKind("X_BBRAUN_PRESS_REL_ALARM", "%", "line pressure, % of alarm limit", "pump"),
    ObservationKind("MDC_PULS_OXIM_PERF_REL", "%", "perfusion index (PI)", "vitals"),
    # Vendor codes: no IEEE 11073-10101 term for these Masimo quantities could be confirmed
    # (RTMMS not checked); rename when one is.
    ObservationKind("X_MASIMO_SPCO", "%", "carboxyhaemoglobin (SpCO)", "vitals"),
    ObservationKind("X_MASIMO_SPMET", "%", "methaemoglobin (SpMet)", "vitals"),
    ObservationKind("X_MASIMO_PVI", "%", "pleth variability index (PVI)", "vitals"),
    # Ventilator quantities (Dräger MEDIBUS), in the units the device reports. The MDC names
    # are IEEE 11073-10101 reference ids as the fact sheet and common mappings give them (not
    # checked against RTMMS). EtCO2 in % has no MDC unit match here: vendor code.
    ObservationKind("MDC_VENT_RESP_RATE", "/min", "ventilation rate", "vitals"),
    ObservationKind("MDC_VOL_AWAY_TIDAL_EXP", "mL", "expiratory tidal volume", "vitals"),
    ObservationKind("MDC_VOL_MINUTE_AWAY", "L/min", "minute volume", "vitals"),
    ObservationKind("MDC_PRESS_AWAY_INSP_PEAK", "mbar", "peak airway pressure", "vitals"),
    ObservationKind("MDC_PRESS_RESP_PLAT", "mbar", "plateau pressure", "vitals"),
    ObservationKind("MDC_PRESS_AWAY_INSP_MEAN", "mbar", "mean airway pressure", "vitals"),
    ObservationKind("MDC_VENT_PRESS_AWAY_END_EXP_POS", "mbar", "PEEP", "vitals"),
    ObservationKind("MDC_VENT_CONC_AWAY_O2_INSP", "%", "inspired O2 (FiO2)", "vitals"),
    ObservationKind("MDC_AWAY_CO2_ET", "mm[Hg]", "end-tidal CO2", "vitals"),
    ObservationKind("X_DRAEGER_CO2_ET_PCT", "%", "end-tidal CO2, % (Dräger)", "vitals"),
    # Vendor code: no IEEE 11073-10101 term for an infusion line pressure could be confirmed
    # (RTMMS not checked); the Alaris Asena reports it in mmHg. Rename when one is.
    ObservationKind("X_ALARIS_PRESS_LINE", "mm[Hg]", "infusion line pressure", "pump"),
)

_BY_CODE = {kind.code: kind for kind in OBSERVATION_KINDS}


def observation_kind(code: str) -> ObservationKind | None:
    """The table row for ``code``, or ``None`` for a code outside the table."""
    return _BY_CODE.get(code)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Observation(_Frozen):
    """One measured quantity. ``ts`` is set when it was measured at another time than the
    reading (an intermittent NIBP carries the time of its cuff measurement)."""

    code: str = Field(min_length=1)
    value: float | None
    unit: str = Field(min_length=1)
    state: ObservationState = "valid"
    ts: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Observation:
        kind = _BY_CODE.get(self.code)
        if kind is not None and kind.unit is not None and kind.unit != self.unit:
            raise ValueError(f"{self.code} is measured in {kind.unit}, not {self.unit}")
        if self.value is None and self.state in ("valid", "questionable"):
            raise ValueError(f"{self.code}: a {self.state} observation needs a value")
        return self


SHARED_OBSERVATIONS_MAX = 4096
"""Observations :func:`shared_observation` keeps, all forgotten at once when full."""

_shared: dict[tuple[str, float | None, str, ObservationState], Observation] = {}


def shared_observation(
    code: str, value: float | None, unit: str, state: ObservationState = "valid"
) -> Observation:
    """``Observation(code=code, value=value, unit=unit, state=state)``, validated (unit and
    state checks included) the first time these four are seen, and the same frozen object
    each time after: a device reports the same rate, volume or SpO2 reading after reading,
    and a shared one costs a dict look-up instead of a validation. Nothing is shared for a
    value that compares equal to another with another JSON form (``0.0`` and ``-0.0``),
    for NaN, or for a value that is not a ``float``; what fails validation is never kept."""
    if value is not None and (type(value) is not float or value == 0.0 or value != value):
        return Observation(code=code, value=value, unit=unit, state=state)
    key = (code, value, unit, state)
    observation = _shared.get(key)
    if observation is None:
        observation = Observation(code=code, value=value, unit=unit, state=state)
        if len(_shared) >= SHARED_OBSERVATIONS_MAX:
            _shared.clear()
        _shared[key] = observation
    return observation


class PumpFlags(_Frozen):
    """The pump's own alarm flags, as the device reports them."""

    occlusion: bool = False
    air_in_line: bool = False
    end_of_volume: bool = False
    near_end: bool = False
    battery: bool = False


class PumpStatus(_Frozen):
    """Running state of a pump; ``drug`` is the drug name the pump shows, if any (a pump
    that names no drug may show what it holds instead, e.g. the Alaris Asena its syringe).
    ``alarm_code`` is the pump's own alarm as it names it, raw (an Alaris Asena ``AL_...``
    code whose meaning is not published), with the condition ``device_alarm`` on the
    reading; ``None`` when the pump reports no alarm or reports alarms as flags only."""

    state: PumpState
    drug: str | None = None
    bolus: bool = False
    flags: PumpFlags = PumpFlags()
    alarm_code: str | None = Field(default=None, min_length=1, max_length=40)


class _ReadingBase(_Frozen):
    device_id: str = Field(min_length=1)
    bed: str = Field(min_length=1)
    ts: AwareDatetime
    observations: tuple[Observation, ...] = ()
    conditions: tuple[DeviceCondition, ...] = ()
    """The device's own status at ``ts`` (sensor off, low signal quality, its own alarm),
    each at most once; empty when the device reports none or has no such report."""

    @field_validator("conditions")
    @classmethod
    def _once_each(cls, conditions: tuple[DeviceCondition, ...]) -> tuple[DeviceCondition, ...]:
        if len(set(conditions)) != len(conditions):
            raise ValueError("a device condition is listed twice")
        return conditions

    def value(self, code: str) -> float | None:
        """The value of the first usable observation with ``code``, else ``None``."""
        for obs in self.observations:
            if obs.code == code and obs.state in ("valid", "questionable"):
                return obs.value
        return None


class VitalsReading(_ReadingBase):
    """Vital signs from a monitor at one instant (``ts``, UTC)."""

    kind: Literal["vitals"] = "vitals"


class PumpReading(_ReadingBase):
    """Infusion pump state at one instant (``ts``, UTC): rate in mL/h, volumes in mL."""

    kind: Literal["pump"] = "pump"
    pump: PumpStatus


Reading = Annotated[PumpReading | VitalsReading, Field(discriminator="kind")]

_READING_ADAPTER: TypeAdapter[PumpReading | VitalsReading] = TypeAdapter(Reading)


def parse_reading(data: bytes | str) -> PumpReading | VitalsReading:
    """Parse one Reading from its JSON form; raises :class:`pydantic.ValidationError`."""
    return _READING_ADAPTER.validate_json(data)

"""Plausible values: the possible range of each observation code, and the check every reading
passes before anything trusts it.

A value outside its code's range, or not a finite number, cannot be a measurement: it is a
device fault, a decoding slip or a hostile byte. :func:`check_plausible` turns each such
observation into ``invalid`` with no value (as :data:`~drivers.readings.ObservationState`
defines it), so no alarm rule can be fulfilled by it, and returns what it replaced so that
the caller can count and log it. It is an explicit function, called once by the session layer
for the readings of every driver; model validation does not do it.

Rules:

- :data:`PLAUSIBLE_RANGES` has one row per code: an inclusive ``[low, high]`` in the code's
  UCUM unit (:data:`~drivers.readings.OBSERVATION_KINDS`). A code without a row gets the
  finiteness check only. A new vital sign is one row.
- Only usable observations (``valid``, ``questionable``) are checked; one the device already
  marked ``invalid`` or ``unavailable`` is left as it is.
- NIBP: a diastolic at or above its systolic (both inside their ranges) is impossible. The
  systolic, the diastolic and the mean of that reading all become invalid: they come from one
  cuff measurement, and a mean computed with a broken pair is no better than the pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from drivers.readings import Observation, PumpReading, VitalsReading

__all__ = [
    "NIBP_CODES",
    "PLAUSIBLE_RANGES",
    "Implausible",
    "PlausibleRange",
    "check_plausible",
]

SYSTOLIC = "MDC_PRESS_BLD_NONINV_SYS"
DIASTOLIC = "MDC_PRESS_BLD_NONINV_DIA"
MEAN = "MDC_PRESS_BLD_NONINV_MEAN"
NIBP_CODES = frozenset({SYSTOLIC, DIASTOLIC, MEAN})
_USABLE = frozenset({"valid", "questionable"})

AnyReading = PumpReading | VitalsReading


@dataclass(frozen=True, slots=True)
class PlausibleRange:
    """The values a quantity can take, ``low <= value <= high``, in its code's unit.
    ``high`` may be infinite (no upper bound); a value must be finite all the same."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if math.isnan(self.low) or math.isnan(self.high) or not self.low < self.high:
            raise ValueError(f"a plausible range needs low < high, not {self.low}..{self.high}")

    def __str__(self) -> str:
        high = "" if math.isinf(self.high) else f"{self.high:g}"
        return f"{self.low:g}..{high}"


INF = math.inf
PLAUSIBLE_RANGES: Mapping[str, PlausibleRange] = MappingProxyType(
    {
        SYSTOLIC: PlausibleRange(20, 300),  # mm[Hg]
        DIASTOLIC: PlausibleRange(10, 250),  # mm[Hg]
        MEAN: PlausibleRange(15, 260),  # mm[Hg]
        "MDC_ECG_HEART_RATE": PlausibleRange(0, 350),  # /min: 0 is asystole, a real reading
        "MDC_PULS_OXIM_PULS_RATE": PlausibleRange(15, 350),  # /min
        "MDC_PULS_OXIM_SAT_O2": PlausibleRange(0, 100),  # %
        "MDC_RESP_RATE": PlausibleRange(0, 150),  # /min
        "MDC_AWAY_RESP_RATE": PlausibleRange(0, 150),  # /min
        "MDC_TEMP_BODY": PlausibleRange(15, 45),  # Cel
        "MDC_FLOW_FLUID_PUMP": PlausibleRange(0, 1200),  # mL/h
        "MDC_VOL_FLUID_DELIV": PlausibleRange(0, 10_000),  # mL
        "MDC_VOL_FLUID_TBI_REMAIN": PlausibleRange(0, 10_000),  # mL
        "X_ALARIS_PRESS_LINE": PlausibleRange(-100, 2000),  # mm[Hg]: a syringe pump's line
        "MDC_RATE_DOSE": PlausibleRange(0, INF),  # the pump's unit, which varies: sign only
        "MDC_TIME_PD_REMAIN": PlausibleRange(0, INF),  # s
        "X_BBRAUN_PRESS_REL_ALARM": PlausibleRange(0, 100),  # % of the alarm limit (BCC INP2)
        "MDC_PULS_OXIM_PERF_REL": PlausibleRange(0, 30),  # %: Masimo shows 0.02-20
        "X_MASIMO_SPCO": PlausibleRange(0, 100),  # %
        "X_MASIMO_SPMET": PlausibleRange(0, 100),  # %
        "X_MASIMO_PVI": PlausibleRange(0, 100),  # %
        "MDC_VENT_RESP_RATE": PlausibleRange(0, 150),  # /min
        "MDC_VOL_AWAY_TIDAL_EXP": PlausibleRange(0, 4000),  # mL
        "MDC_VOL_MINUTE_AWAY": PlausibleRange(0, 100),  # L/min
        "MDC_PRESS_AWAY_INSP_PEAK": PlausibleRange(-20, 150),  # mbar
        "MDC_PRESS_RESP_PLAT": PlausibleRange(-20, 150),  # mbar
        "MDC_PRESS_AWAY_INSP_MEAN": PlausibleRange(-20, 150),  # mbar
        "MDC_VENT_PRESS_AWAY_END_EXP_POS": PlausibleRange(-10, 60),  # mbar
        "MDC_VENT_CONC_AWAY_O2_INSP": PlausibleRange(18, 100),  # %
        "MDC_AWAY_CO2_ET": PlausibleRange(0, 150),  # mm[Hg]
        "X_DRAEGER_CO2_ET_PCT": PlausibleRange(0, 20),  # %
    }
)
"""Code -> its plausible range (defaults; the edge's config may override rows)."""


@dataclass(frozen=True, slots=True)
class Implausible:
    """An observation value that was replaced: its code, the raw value and why."""

    code: str
    value: float
    reason: str


def _range_reason(value: float, allowed: PlausibleRange | None) -> str | None:
    if not math.isfinite(value):
        return "not a finite number"
    if allowed is not None and not allowed.low <= value <= allowed.high:
        return f"outside {allowed}"
    return None


def check_plausible(
    reading: AnyReading, ranges: Mapping[str, PlausibleRange] = PLAUSIBLE_RANGES
) -> tuple[AnyReading, list[Implausible]]:
    """``reading`` with every implausible observation made ``invalid`` (value ``None``), and
    what was replaced, in observation order. A reading with nothing to replace is returned
    as it is (the same object)."""
    bad: dict[int, Implausible] = {}
    pressures: dict[str, float] = {}  # the first usable NIBP value in range, by code
    for index, obs in enumerate(reading.observations):
        value = obs.value
        if value is None or obs.state not in _USABLE:
            continue
        reason = _range_reason(value, ranges.get(obs.code))
        if reason is not None:
            bad[index] = Implausible(obs.code, value, reason)
        elif obs.code in NIBP_CODES:
            pressures.setdefault(obs.code, value)
    systolic, diastolic = pressures.get(SYSTOLIC), pressures.get(DIASTOLIC)
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        reason = f"diastolic {diastolic:g} not below systolic {systolic:g}"
        _mark_pressures(reading.observations, reason, bad)
    if not bad:
        return reading, []
    observations = tuple(
        obs.model_copy(update={"value": None, "state": "invalid"}) if index in bad else obs
        for index, obs in enumerate(reading.observations)
    )
    found = [bad[index] for index in sorted(bad)]
    return reading.model_copy(update={"observations": observations}), found


def _mark_pressures(
    observations: tuple[Observation, ...], reason: str, bad: dict[int, Implausible]
) -> None:
    """Mark every usable NIBP observation not marked yet as implausible for ``reason``."""
    for index, obs in enumerate(observations):
        if (
            obs.code in NIBP_CODES
            and obs.value is not None
            and obs.state in _USABLE
            and index not in bad
        ):
            bad[index] = Implausible(obs.code, obs.value, reason)

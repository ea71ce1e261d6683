"""What the alarm rules read from a vitals reading: new NIBP measurements and numerics.

A monitor measures NIBP every few minutes and repeats the last measurement in every reading,
with the cuff's measurement time in the observation's ``ts``. :class:`NibpTracker` reports each
cuff once. The identity rule (one cuff, one measurement):

- Stamped (the device gives the measurement time, e.g. IntelliVue): two stamps at most
  :data:`SAME_CUFF_S` (10 s) apart are one cuff. A driver that derives the stamp from the
  receive time and the measurement's age jitters by milliseconds from poll to poll (and by
  up to a second across a re-association or a daemon restart); a real cuff inflates and
  deflates for 20-40 s and monitors repeat it at intervals of 1 min or more (a STAT series
  back to back), so two distinct cuffs are always further apart than 10 s. Equal values:
  a repetition, ignored; other values within the tolerance: a *revision* of the same cuff,
  reported with the cuff before it as its previous one, so it can never confirm itself.
  A stamp older than the last cuff by more than the tolerance is ignored.
- Unstamped (a device that gives no measurement time, e.g. textline): a new cuff only when
  its values (systolic, diastolic) change; identical values are a repetition whatever the
  time. Two successive real cuffs with exactly equal values then count once: the safe side
  for a confirmation (the bedside monitor's own alarms are primary, and the medium level
  still stands on the first cuff).

A measurement older than ``max_age_s`` at the reading's time is ignored (the last patient's
pressure on a monitor just connected). :class:`LastCuff` is a monitor's last cuff as the alarm
log keeps it, so the two-cuff confirmation goes on across a daemon restart.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from drivers.readings import VitalsReading
from edge.alarms.judges import Nibp

__all__ = [
    "DIASTOLIC",
    "HEART_RATE",
    "PULSE_RATE",
    "RESP_RATE",
    "SAME_CUFF_S",
    "SPO2",
    "SYSTOLIC",
    "LastCuff",
    "NibpTracker",
    "heart_rate",
]

SYSTOLIC = "MDC_PRESS_BLD_NONINV_SYS"
DIASTOLIC = "MDC_PRESS_BLD_NONINV_DIA"
HEART_RATE = "MDC_ECG_HEART_RATE"
PULSE_RATE = "MDC_PULS_OXIM_PULS_RATE"
SPO2 = "MDC_PULS_OXIM_SAT_O2"
RESP_RATE = "MDC_RESP_RATE"
SAME_CUFF_S = 10.0  # s: measurement stamps this close are one cuff (see the module docstring)


class LastCuff(BaseModel):
    """The last NIBP cuff of monitor ``device_id`` (mmHg, measurement time ``at``);
    ``stamped``: ``at`` is the device's measurement time, not a receive time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str
    systolic: float
    diastolic: float
    at: AwareDatetime
    stamped: bool

    def nibp(self) -> Nibp:
        """The cuff as the judges read it."""
        return Nibp(self.systolic, self.diastolic, self.at)


def heart_rate(reading: VitalsReading) -> float | None:
    """Heart rate in /min: the ECG's, else the oximeter's pulse rate."""
    ecg = reading.value(HEART_RATE)
    return ecg if ecg is not None else reading.value(PULSE_RATE)


def _measured(reading: VitalsReading) -> tuple[Nibp, bool] | None:
    """The NIBP in ``reading`` and whether the device stamped its measurement time."""
    systolic, diastolic = reading.value(SYSTOLIC), reading.value(DIASTOLIC)
    if systolic is None or diastolic is None:
        return None
    stamps = [o.ts for o in reading.observations if o.code == SYSTOLIC and o.ts is not None]
    return Nibp(systolic, diastolic, stamps[0] if stamps else reading.ts), bool(stamps)


class NibpTracker:
    """The NIBP cuffs of one monitor, each reported once, in mmHg."""

    def __init__(self, max_age_s: float = 900.0, same_cuff_s: float = SAME_CUFF_S) -> None:
        self.max_age_s = max_age_s
        self.same_cuff = timedelta(seconds=same_cuff_s)
        self.last: Nibp | None = None
        self.stamped = False
        self._before: Nibp | None = None  # the cuff before ``last``

    def update(self, reading: VitalsReading) -> tuple[Nibp | None, Nibp | None]:
        """(the new or revised cuff in ``reading`` or ``None``, the distinct cuff before it)."""
        measured = _measured(reading)
        if measured is None:
            return None, None
        nibp, stamped = measured
        if (reading.ts - nibp.at).total_seconds() > self.max_age_s:
            return None, None
        relation = self._relation(nibp, stamped)
        if relation == "same":
            return None, None
        if relation == "new":
            self._before = self.last
        self.last, self.stamped = nibp, stamped
        return nibp, self._before

    def restore(self, cuff: LastCuff) -> None:
        """Take up the last cuff from before a restart (the one before it is not kept)."""
        self.last, self.stamped, self._before = cuff.nibp(), cuff.stamped, None

    def _relation(self, nibp: Nibp, stamped: bool) -> Literal["new", "revised", "same"]:
        """``new``, ``revised`` (other values of the last cuff) or ``same`` (a repetition, or
        a cuff older than the last)."""
        last = self.last
        if last is None:
            return "new"
        equal = (nibp.systolic, nibp.diastolic) == (last.systolic, last.diastolic)
        if not (stamped and self.stamped):
            if equal:
                return "same"
            return "revised" if abs(nibp.at - last.at) <= self.same_cuff else "new"
        if nibp.at < last.at - self.same_cuff:
            return "same"
        if nibp.at <= last.at + self.same_cuff:
            return "same" if equal else "revised"
        return "new"

"""What the alarm rules read from a vitals reading: new NIBP measurements and numerics.

A monitor measures NIBP every few minutes and repeats the last measurement in every reading,
with the cuff's measurement time in the observation's ``ts``. :class:`NibpTracker` reports each
measurement once: a new one is a new measurement time (or, from a device that gives no
``ts``, new values); one older than ``max_age_s`` at the reading's time is ignored (the last
patient's pressure on a monitor just connected).
"""

from __future__ import annotations

from drivers.readings import VitalsReading
from edge.alarms.judges import Nibp

__all__ = [
    "DIASTOLIC",
    "HEART_RATE",
    "PULSE_RATE",
    "RESP_RATE",
    "SPO2",
    "SYSTOLIC",
    "NibpTracker",
    "heart_rate",
]

SYSTOLIC = "MDC_PRESS_BLD_NONINV_SYS"
DIASTOLIC = "MDC_PRESS_BLD_NONINV_DIA"
HEART_RATE = "MDC_ECG_HEART_RATE"
PULSE_RATE = "MDC_PULS_OXIM_PULS_RATE"
SPO2 = "MDC_PULS_OXIM_SAT_O2"
RESP_RATE = "MDC_RESP_RATE"


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
    """The NIBP measurements of one monitor, each reported once, in mmHg."""

    def __init__(self, max_age_s: float = 900.0) -> None:
        self.max_age_s = max_age_s
        self.last: Nibp | None = None
        self._stamped = False

    def update(self, reading: VitalsReading) -> tuple[Nibp | None, Nibp | None]:
        """(the new measurement in ``reading`` or ``None``, the measurement before it)."""
        measured = _measured(reading)
        if measured is None:
            return None, None
        nibp, stamped = measured
        if (reading.ts - nibp.at).total_seconds() > self.max_age_s:
            return None, None
        last = self.last
        if last is not None:
            if stamped and self._stamped:
                if nibp.at <= last.at:
                    return None, None
            elif (nibp.systolic, nibp.diastolic) == (last.systolic, last.diastolic):
                return None, None
        self.last, self._stamped = nibp, stamped
        return nibp, last

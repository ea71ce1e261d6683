"""Delivered rate of a pump, from the slope of its volume-infused counter.

The pump reports what it was told (programmed rate, mL/h) and what it counted (volume infused,
mL, in steps of 0.1 mL on most pumps). The delivered rate is the least-squares slope of volume
against measurement time over a window of readings, so a single noisy reading or the counter's
resolution does not move it much:

- Only a *segment* counts: readings while the pump is ``infusing`` at one programmed rate, not
  in bolus, with no gap over ``max_gap_s`` and no counter reset. A new segment starts on any
  of those changes, and its first ``startup_s`` are ignored (the start-up transient of a
  syringe driver or a rate change).
- The window is long enough for ``min_volume_ml`` at the programmed rate (so one counter step
  is a few % of it), clamped to ``[min_window_s, max_window_s]``; the estimate is given once
  the segment covers 90 % of it.
- ``stopped``/``alarm``: no delivery is expected; the volume counted since the pump stopped is
  reported as ``flow_while_stopped_ml`` (free flow). ``kvo``: the pump keeps the vein open at
  its own low rate, so the programmed rate does not apply.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from drivers.readings import PumpReading

__all__ = ["FLOW_CODE", "VOLUME_CODE", "RateEstimator", "RateStatus"]

FLOW_CODE = "MDC_FLOW_FLUID_PUMP"
VOLUME_CODE = "MDC_VOL_FLUID_DELIV"


@dataclass(frozen=True, slots=True)
class RateStatus:
    """What the pump's readings say about delivery at one reading.

    ``applicable``: the pump is infusing at a programmed rate, so a deviation is meaningful.
    ``delivered_ml_h``: the estimate, ``None`` while unknown (start-up, bolus, short window).
    ``flow_while_stopped_ml``: volume counted since the pump stopped; ``None`` unless stopped.
    """

    applicable: bool
    programmed_ml_h: float | None = None
    delivered_ml_h: float | None = None
    flow_while_stopped_ml: float | None = None

    @property
    def deviation_pct(self) -> float | None:
        """(delivered - programmed) / programmed in %, signed; ``None`` when unknown."""
        if not self.applicable or self.delivered_ml_h is None or not self.programmed_ml_h:
            return None
        return (self.delivered_ml_h - self.programmed_ml_h) / self.programmed_ml_h * 100.0


class RateEstimator:
    """Delivered-rate estimation for one pump; feed it that pump's readings in time order."""

    def __init__(
        self,
        *,
        startup_s: float = 60.0,
        min_window_s: float = 120.0,
        max_window_s: float = 600.0,
        min_volume_ml: float = 2.0,
        max_gap_s: float = 30.0,
    ) -> None:
        self.startup_s = startup_s
        self.min_window_s = min_window_s
        self.max_window_s = max_window_s
        self.min_volume_ml = min_volume_ml
        self.max_gap_s = max_gap_s
        self._samples: deque[tuple[float, float]] = deque()  # (s since segment start, mL)
        self._segment_start: datetime | None = None
        self._segment_rate: float | None = None
        self._last: tuple[datetime, float] | None = None  # time and volume of the last sample
        self._stopped_volume: float | None = None

    def update(self, reading: PumpReading) -> RateStatus:
        """The delivery status after ``reading``."""
        status = reading.pump
        volume = reading.value(VOLUME_CODE)
        programmed = reading.value(FLOW_CODE)
        if status.state in ("stopped", "alarm"):
            self._reset()
            if self._stopped_volume is None:
                self._stopped_volume = volume
            flow = None
            if volume is not None and self._stopped_volume is not None:
                flow = round(max(0.0, volume - self._stopped_volume), 6)  # no float dust
            return RateStatus(False, programmed, flow_while_stopped_ml=flow)
        self._stopped_volume = None
        if status.state == "kvo" or status.bolus or programmed is None or programmed <= 0:
            self._reset()
            return RateStatus(status.state == "infusing", programmed)
        if volume is None:
            return RateStatus(True, programmed)
        return RateStatus(True, programmed, self._add(reading.ts, volume, programmed))

    def _reset(self) -> None:
        self._samples.clear()
        self._segment_start = None
        self._segment_rate = None
        self._last = None

    def _add(self, at: datetime, volume: float, programmed: float) -> float | None:
        if self._new_segment(at, volume, programmed):
            self._reset()
            self._segment_start = at
            self._segment_rate = programmed
        self._last = (at, volume)
        assert self._segment_start is not None
        elapsed = (at - self._segment_start).total_seconds()
        if elapsed < self.startup_s:
            return None
        self._samples.append((elapsed, volume))
        window = min(
            self.max_window_s, max(self.min_window_s, self.min_volume_ml * 3600.0 / programmed)
        )
        while elapsed - self._samples[0][0] > window:
            self._samples.popleft()
        if len(self._samples) < 3 or elapsed - self._samples[0][0] < 0.9 * window:
            return None
        return _slope(self._samples) * 3600.0

    def _new_segment(self, at: datetime, volume: float, programmed: float) -> bool:
        if self._last is None or self._segment_rate is None:
            return True
        last_at, last_volume = self._last
        return (
            abs(programmed - self._segment_rate) > 1e-9
            or volume < last_volume
            or (at - last_at).total_seconds() > self.max_gap_s
        )


def _slope(samples: deque[tuple[float, float]]) -> float:
    """Least-squares slope of volume (mL) against time (s), in mL/s."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in samples)
    return cov / var if var > 0 else 0.0

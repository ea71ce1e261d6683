"""Delivered rate of a pump, from the times its volume counter steps.

The pump reports what it was told (programmed rate, mL/h) and what it counted (volume
infused, mL, in steps of ``counter_step_ml``, 0.1 mL on a B. Braun Space). A reading's volume
is only known to a step, but the moment the counter *steps* is known to the poll gap: the
counter passed its new value between the reading before and the reading that shows it.
These steps ("edges") carry the delivered rate:

- An edge at ``t`` after a gap ``g`` is placed at ``t - g/2``, within ``± g/2`` (plus
  ``jitter_s``, 0.25 s, for the reading's own time stamp, an arrival time).
- Window ``a -> b`` between an earlier edge ``a`` and the latest edge ``b``: the volume
  delivered is exact (``Vb - Va``), the time ``tb - ta`` is known within
  ``ga/2 + gb/2 + 2 jitter``. Its deviation is ``(Vb - Va) / (programmed x (tb - ta)) - 1``,
  and its *error bound* is the worst case of the time error, in % of the programmed rate.
- Window ``a -> now`` (under-delivery only, so a stalled counter is seen): the counter has
  not reached its next step, so the volume delivered since ``a`` is below ``V + step - Va``;
  the deviation is *at most* the one that volume gives.

At 50 mL/h and a 1 s poll an edge is placed within ±0.75 s, so a 40 s window is good to ±4 %
while a volume difference over the same 40 s would only be good to ±18 % (one step of 0.56 mL).

A level with limit ``L`` % is *hit* when a window whose error bound is at most
``L - ACCURACY_PCT`` (5 %: a pump's own accuracy) shows a deviation beyond ``L``: a pump
delivering within its ±5 % can never hit, whatever the window, and the shortest windows that
qualify make the detection quick (about 10 s of edges for 25 %, 30 s for 10 %, at 1 s). Many
windows qualify as a deviation lasts (every earlier edge is an anchor), so the hit holds
while it does. A level *clears* when the longest window (``max_span``) is under its clear
limit. Windows reach back at most ``max_span``: ``100 x`` the typical edge error (150 s at a
1 s poll, 250 s at 2 s, 550 s at 5 s), at least three counter steps, within
``[min_window_s, max_window_s]`` (150-600 s); so an ended deviation stops counting within
about that span.

A *segment* is what the windows look into: readings while the pump is ``infusing`` at one
programmed rate, not in bolus, with no gap over ``max_gap_s`` and no counter reset. A new
segment starts on any of those changes, and edges in its first ``startup_s`` (60 s) are not
used (the start-up transient of a syringe driver or a rate change).

``stopped``/``alarm``: no delivery is expected; the volume counted since the pump stopped is
reported as ``flow_while_stopped_ml`` (free flow). ``kvo``: the pump keeps the vein open at
its own low rate, so the programmed rate does not apply.

The state of an estimator is a :class:`RateHistory` (:meth:`RateEstimator.snapshot`), which
the alarm log keeps, so a restart resumes it (:meth:`RateEstimator.resume`): the first
reading after it may come ``resume_gap_s`` (180 s) after the last one saved.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from drivers.readings import PumpReading

__all__ = [
    "ACCURACY_PCT",
    "FLOW_CODE",
    "VOLUME_CODE",
    "RateEstimator",
    "RateHistory",
    "RateStatus",
    "RateWindow",
]

FLOW_CODE = "MDC_FLOW_FLUID_PUMP"
VOLUME_CODE = "MDC_VOL_FLUID_DELIV"
ACCURACY_PCT = 5.0  # a pump's own delivery accuracy, ±% of the programmed rate
MAX_ANCHORS = 48  # edges kept per window span (thinned in time)
SPAN_PER_ERROR = 100.0  # max_span = this x the typical edge error (s)


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One window of a pump's delivery: its ``span_s`` (s), ``deviation_pct`` (delivered vs
    programmed, signed %) and ``error_pct`` (worst-case error of that deviation, %).
    ``at_most``: the deviation is an upper bound (a window ending now, without an edge)."""

    span_s: float
    deviation_pct: float
    error_pct: float
    at_most: bool = False


@dataclass(frozen=True, slots=True)
class RateStatus:
    """What the pump's readings say about delivery at one reading.

    ``applicable``: the pump is infusing at a programmed rate, so a deviation is meaningful.
    ``windows``: the windows of the segment (empty while unknown: start-up, bolus).
    ``flow_while_stopped_ml``: volume counted since the pump stopped; ``None`` unless stopped.
    """

    applicable: bool
    programmed_ml_h: float | None = None
    windows: tuple[RateWindow, ...] = ()
    flow_while_stopped_ml: float | None = None

    def beyond(self, limit_pct: float) -> RateWindow | None:
        """The window that shows the largest deviation beyond ``limit_pct`` among those
        precise enough for it (error <= limit - :data:`ACCURACY_PCT`); ``None``: none does."""
        if not self.applicable:
            return None
        budget = limit_pct - ACCURACY_PCT
        hits = [
            w
            for w in self.windows
            if w.error_pct <= budget
            and (w.deviation_pct < -limit_pct or (w.deviation_pct > limit_pct and not w.at_most))
        ]
        return max(hits, key=lambda w: abs(w.deviation_pct), default=None)

    def judged(self, limit_pct: float) -> bool:
        """Whether some window is precise enough to judge ``limit_pct`` at all."""
        return any(w.error_pct <= limit_pct - ACCURACY_PCT for w in self.windows)

    @property
    def longest(self) -> RateWindow | None:
        """The longest window ending at an edge (the most precise), if any."""
        spans = [w for w in self.windows if not w.at_most]
        return max(spans, key=lambda w: w.span_s, default=None)

    @property
    def deviation_pct(self) -> float | None:
        """The longest window's deviation in %, signed; ``None`` when unknown."""
        longest = self.longest
        return None if longest is None or not self.applicable else longest.deviation_pct

    @property
    def delivered_ml_h(self) -> float | None:
        """The delivered rate over the longest window (mL/h); ``None`` when unknown."""
        deviation = self.deviation_pct
        if deviation is None or self.programmed_ml_h is None:
            return None
        return self.programmed_ml_h * (1.0 + deviation / 100.0)


class RateHistory(BaseModel):
    """An estimator's segment, for the alarm log: times are POSIX s, volumes mL, rates
    mL/h; an edge is (time, volume, half width of its time in s)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    programmed_ml_h: float | None = None
    segment_start: float | None = None
    last: tuple[float, float] | None = None
    typical_gap_s: float | None = None
    anchors: tuple[tuple[float, float, float], ...] = ()
    last_edge: tuple[float, float, float] | None = None
    stopped_volume_ml: float | None = None


Edge = tuple[float, float, float]  # time (POSIX s), volume (mL), half width (s)


class RateEstimator:
    """Delivered-rate estimation for one pump; feed it that pump's readings in time order."""

    def __init__(
        self,
        *,
        startup_s: float = 60.0,
        min_window_s: float = 150.0,
        max_window_s: float = 600.0,
        max_gap_s: float = 30.0,
        counter_step_ml: float = 0.1,
        jitter_s: float = 0.25,
        resume_gap_s: float = 180.0,
    ) -> None:
        self.startup_s = startup_s
        self.min_window_s = min_window_s
        self.max_window_s = max_window_s
        self.max_gap_s = max_gap_s
        self.counter_step_ml = counter_step_ml
        self.jitter_s = jitter_s
        self.resume_gap_s = resume_gap_s
        self.dirty = False  # changed since the last snapshot
        self._resumed = False
        self._stopped_volume: float | None = None
        self._reset()

    def update(self, reading: PumpReading) -> RateStatus:
        """The delivery status after ``reading``."""
        self.dirty = True
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
        return RateStatus(True, programmed, self._add(reading.ts.timestamp(), volume, programmed))

    def max_span(self) -> float:
        """How far back the windows reach now (s); see the module's docstring."""
        gap = self._typical_gap if self._typical_gap is not None else 1.0
        return self.span_for(gap, self._rate)

    def span_for(self, gap_s: float, rate_ml_h: float | None) -> float:
        """How far back the windows reach for readings every ``gap_s`` s at ``rate_ml_h``."""
        span = SPAN_PER_ERROR * (gap_s + 2 * self.jitter_s)
        if rate_ml_h:
            span = max(span, 3 * self.counter_step_ml * 3600.0 / rate_ml_h)
        return min(self.max_window_s, max(self.min_window_s, span))

    # -- segments and edges ---------------------------------------------------------------

    def _reset(self) -> None:
        self._anchors: deque[Edge] = deque()
        self._edge: Edge | None = None
        self._start: float | None = None
        self._rate: float | None = None
        self._last: tuple[float, float] | None = None
        self._typical_gap: float | None = None

    def _add(self, at: float, volume: float, programmed: float) -> tuple[RateWindow, ...]:
        if self._new_segment(at, volume, programmed):
            self._reset()
            self._start, self._rate, self._last = at, programmed, (at, volume)
            return ()
        self._resumed = False
        assert self._last is not None
        assert self._start is not None
        last_at, last_volume = self._last
        gap = at - last_at
        self._last = (at, volume)
        if gap <= self.max_gap_s:
            previous = self._typical_gap
            self._typical_gap = gap if previous is None else previous + 0.1 * (gap - previous)
        if volume > last_volume and last_at >= self._start + self.startup_s:
            self._add_edge((at - gap / 2, volume, gap / 2))
        return self._windows(at, volume, programmed)

    def _new_segment(self, at: float, volume: float, programmed: float) -> bool:
        if self._last is None or self._rate is None:
            return True
        last_at, last_volume = self._last
        max_gap = self.resume_gap_s if self._resumed else self.max_gap_s
        return abs(programmed - self._rate) > 1e-9 or volume < last_volume or at - last_at > max_gap

    def _add_edge(self, edge: Edge) -> None:
        if self._edge is not None and (
            not self._anchors or self._edge[0] - self._anchors[-1][0] >= self._spacing()
        ):
            self._anchors.append(self._edge)
        self._edge = edge
        horizon = edge[0] - self.max_span()
        while self._anchors and self._anchors[0][0] < horizon:
            self._anchors.popleft()

    def _spacing(self) -> float:
        return self.max_span() / MAX_ANCHORS

    # -- windows --------------------------------------------------------------------------

    def _windows(self, now: float, volume: float, programmed: float) -> tuple[RateWindow, ...]:
        if self._edge is None:
            return ()
        per_s = programmed / 3600.0
        end_at, end_volume, end_half = self._edge
        windows = []
        for at, start_volume, half in self._anchors:
            windows.append(
                _window(end_at - at, end_volume - start_volume, per_s, half + end_half, self)
            )
        for at, start_volume, half in (*self._anchors, self._edge):
            below = volume + self.counter_step_ml - start_volume
            window = _window(now - at, below, per_s, half, self, at_most=True)
            if window.deviation_pct < 0:
                windows.append(window)
        return tuple(w for w in windows if w.span_s > 0 and w.error_pct < 100.0)

    # -- persistence ----------------------------------------------------------------------

    def snapshot(self) -> RateHistory | None:
        """The state to keep across a restart (``None``: nothing worth keeping); clears
        :attr:`dirty`."""
        self.dirty = False
        if self._start is None and self._stopped_volume is None:
            return None
        return RateHistory(
            programmed_ml_h=self._rate,
            segment_start=self._start,
            last=self._last,
            typical_gap_s=self._typical_gap,
            anchors=tuple(self._anchors),
            last_edge=self._edge,
            stopped_volume_ml=self._stopped_volume,
        )

    def resume(self, history: RateHistory) -> None:
        """Take up ``history`` (from :meth:`snapshot` before a restart): the next reading may
        come up to ``resume_gap_s`` after its last one and continue its segment."""
        self._reset()
        self._rate, self._start, self._last = (
            history.programmed_ml_h,
            history.segment_start,
            history.last,
        )
        self._typical_gap = history.typical_gap_s
        self._anchors = deque(history.anchors)
        self._edge = history.last_edge
        self._stopped_volume = history.stopped_volume_ml
        self._resumed = True
        self.dirty = False


def _window(
    span: float,
    volume: float,
    per_s: float,
    half_widths: float,
    estimator: RateEstimator,
    *,
    at_most: bool = False,
) -> RateWindow:
    """The window of ``volume`` mL over ``span`` s against ``per_s`` mL/s programmed; its
    time is known within ``half_widths`` + the jitter of both ends."""
    if span <= 0:
        return RateWindow(span, 0.0, 100.0, at_most)
    error_s = half_widths + 2 * estimator.jitter_s
    ratio = volume / (per_s * span)
    if error_s >= span:
        return RateWindow(span, (ratio - 1.0) * 100.0, 100.0, at_most)
    error = ratio * error_s / (span - error_s) * 100.0
    return RateWindow(span, (ratio - 1.0) * 100.0, error, at_most)

"""Treatment sessions per bed: ``baseline`` -> ``infusion`` -> ``observation`` -> ``closed``.

Pure logic over readings (in time order, measurement times) and ticks (the clock's time):

- A session starts at the first new NIBP measurement of a bed with no open session (taken
  after the last one closed), or when a pump of the bed starts infusing.
- ``baseline``: NIBP measurements are collected; when a pump of the bed starts infusing the
  baseline is the mean of those taken in the ``baseline_window_s`` (30 min) before, and the
  phase is ``infusion``. No measurement: no baseline (the rise rule then does not apply).
- Mid-infusion: a pump whose first reading (since the edge started) is already ``infusing``
  with volume infused > 0 started before the edge saw it; the infusion's start is estimated
  as volume infused / programmed rate before that reading (at most ``max_estimate_s``, 4 h,
  back, and never before the bed's previous session closed), used for the session's start
  (when the pump starts it) and the baseline window, and marked
  ``infusion_started_estimated``.
- ``infusion`` -> ``observation`` when no pump of the bed infuses and one is ``stopped`` or in
  ``kvo`` (a pump in ``alarm`` is an interruption, not the end); observation lasts
  ``observation_s`` (60 min). A pump infusing again during observation resumes the infusion.
- ``observation`` -> ``closed`` at ``observation_ends_at``, on a reading or a tick.
- A bed removed from the config by a reload: its session closes at that moment, in any phase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from drivers.readings import PumpReading, PumpState, VitalsReading
from edge.alarms.judges import Nibp
from edge.alarms.models import (
    OrderSummary,
    SessionChange,
    SessionEvent,
    TreatmentSession,
    session_id,
)
from edge.alarms.vitals import NibpTracker
from edge.config import InfusionOrder

__all__ = ["TreatmentSessions", "order_summary"]

RATE = "MDC_FLOW_FLUID_PUMP"  # programmed rate, mL/h
VOLUME = "MDC_VOL_FLUID_DELIV"  # volume infused, mL


def order_summary(order: InfusionOrder) -> OrderSummary:
    """The order as a session shows it: without the patient's weight."""
    return OrderSummary(
        drug=order.drug,
        concentration_mg_per_ml=order.concentration_mg_per_ml,
        dose_mg_per_kg=order.dose_mg_per_kg,
        duration_min=order.duration_min,
        rate_ml_per_h=round(order.rate_ml_per_h(), 3),
    )


@dataclass(slots=True)
class _Bed:
    session: TreatmentSession | None = None
    pumps: dict[str, PumpState] = field(default_factory=dict)
    baseline: list[Nibp] = field(default_factory=list)


class TreatmentSessions:
    """The treatment sessions of every bed."""

    def __init__(
        self,
        orders: Mapping[str, InfusionOrder] | None = None,
        *,
        observation_s: float = 3600.0,
        baseline_window_s: float = 1800.0,
        max_estimate_s: float = 4 * 3600.0,
    ) -> None:
        self._orders = dict(orders or {})
        self.max_estimate = timedelta(seconds=max_estimate_s)
        self.observation = timedelta(seconds=observation_s)
        self.baseline_window = timedelta(seconds=baseline_window_s)
        self._beds: dict[str, _Bed] = {}
        self._nibp: dict[str, NibpTracker] = {}

    def get(self, bed: str) -> TreatmentSession | None:
        """The latest session of ``bed`` (possibly closed), or ``None``."""
        state = self._beds.get(bed)
        return state.session if state else None

    def all(self) -> list[TreatmentSession]:
        """The latest session of every bed that has had one."""
        return [b.session for b in self._beds.values() if b.session is not None]

    def restore(self, sessions: Iterable[TreatmentSession]) -> None:
        """Take up ``sessions`` (from the log, after a restart), emitting nothing."""
        for session in sessions:
            self._beds.setdefault(session.bed, _Bed()).session = session

    def on_reading(self, reading: PumpReading | VitalsReading) -> list[SessionEvent]:
        """The session changes ``reading`` causes, at its measurement time."""
        bed = self._beds.setdefault(reading.bed, _Bed())
        events = self._close_due(bed, reading.ts)
        if isinstance(reading, PumpReading):
            first = reading.device_id not in bed.pumps
            bed.pumps[reading.device_id] = reading.pump.state
            estimate = self._estimated_start(bed, reading) if first else None
            return events + self._on_pumps(reading.bed, bed, reading.ts, estimate)
        tracker = self._nibp.setdefault(reading.device_id, NibpTracker())
        nibp, _ = tracker.update(reading)
        if nibp is not None:
            events += self._on_nibp(reading.bed, bed, nibp, reading.ts)
        return events

    def end(self, bed: str, at: datetime) -> list[SessionEvent]:
        """Close ``bed``'s session at ``at`` whatever its phase (the bed was removed from the
        config: nothing will follow it any more); nothing when it has none or it is closed."""
        state = self._beds.get(bed)
        if state is None or state.session is None or state.session.phase == "closed":
            return []
        state.pumps.clear()
        state.baseline.clear()
        return [self._change(state, "closed", at, {"phase": "closed", "closed_at": at})]

    def tick(self, now: datetime) -> list[SessionEvent]:
        """Close the sessions whose observation has ended by ``now``."""
        return [event for bed in self._beds.values() for event in self._close_due(bed, now)]

    def _on_nibp(self, name: str, bed: _Bed, nibp: Nibp, at: datetime) -> list[SessionEvent]:
        events = []
        session = bed.session
        if session is None or session.phase == "closed":
            if session is not None and session.closed_at and nibp.at <= session.closed_at:
                return []
            events.append(self._start(name, bed, at))
        if bed.session is not None and bed.session.phase == "baseline":
            bed.baseline.append(nibp)
        return events

    def _estimated_start(self, bed: _Bed, reading: PumpReading) -> datetime | None:
        """When a pump first seen infusing started: ``None`` unless it has infused a volume."""
        volume, rate = reading.value(VOLUME), reading.value(RATE)
        if reading.pump.state != "infusing" or not volume or not rate or volume < 0 or rate < 0:
            return None
        running = min(timedelta(hours=volume / rate), self.max_estimate)
        start = reading.ts - running
        session = bed.session
        if session is not None and session.closed_at is not None:
            start = max(start, session.closed_at)
        return start if start < reading.ts else None

    def _on_pumps(
        self, name: str, bed: _Bed, at: datetime, estimate: datetime | None = None
    ) -> list[SessionEvent]:
        """``estimate``: the estimated start of a pump first seen mid-infusion."""
        states = bed.pumps.values()
        infusing = "infusing" in states
        started = estimate or at
        events = []
        if infusing and (bed.session is None or bed.session.phase == "closed"):
            events.append(self._start(name, bed, at, started))
        session = bed.session
        if session is None:
            return events
        if infusing and session.phase == "baseline":
            update = self._baseline(bed, started)
            if estimate is not None:
                update["infusion_started_estimated"] = True
            events.append(self._change(bed, "infusion_started", at, update))
        elif infusing and session.phase == "observation":
            events.append(self._change(bed, "infusion_resumed", at, _RESUMED))
        elif session.phase == "infusion" and not infusing and {"stopped", "kvo"} & set(states):
            update = {
                "phase": "observation",
                "infusion_stopped_at": at,
                "observation_ends_at": at + self.observation,
            }
            events.append(self._change(bed, "infusion_stopped", at, update))
        return events

    def set_orders(self, orders: Mapping[str, InfusionOrder]) -> None:
        """Take ``orders`` (bed -> order) for the sessions that start from now on; a session
        already open keeps the order summary it started with."""
        self._orders = dict(orders)

    def _start(
        self, name: str, bed: _Bed, at: datetime, started: datetime | None = None
    ) -> SessionEvent:
        """A new session, seen at ``at``, started at ``started`` (default ``at``)."""
        order = self._orders.get(name)
        bed.baseline.clear()
        started = started or at
        bed.session = TreatmentSession(
            session_id=session_id(name, started),
            bed=name,
            phase="baseline",
            order=order_summary(order) if order else None,
            started_at=started,
        )
        return SessionEvent(session=bed.session, change="started", at=at)

    def _baseline(self, bed: _Bed, at: datetime) -> dict[str, object]:
        taken = [n for n in bed.baseline if at - self.baseline_window <= n.at <= at]
        update: dict[str, object] = {"phase": "infusion", "infusion_started_at": at}
        if taken:
            update |= {
                "baseline_systolic": round(sum(n.systolic for n in taken) / len(taken), 1),
                "baseline_diastolic": round(sum(n.diastolic for n in taken) / len(taken), 1),
                "baseline_count": len(taken),
            }
        bed.baseline.clear()
        return update

    def _close_due(self, bed: _Bed, now: datetime) -> list[SessionEvent]:
        session = bed.session
        if session is None or session.phase != "observation" or session.observation_ends_at is None:
            return []
        ends = session.observation_ends_at
        if now < ends:
            return []
        return [self._change(bed, "closed", ends, {"phase": "closed", "closed_at": ends})]

    @staticmethod
    def _change(
        bed: _Bed, change: SessionChange, at: datetime, update: Mapping[str, object]
    ) -> SessionEvent:
        assert bed.session is not None
        session = TreatmentSession.model_validate({**bed.session.model_dump(), **update})
        bed.session = session
        return SessionEvent(session=session, change=change, at=at)


_RESUMED: Mapping[str, object] = {
    "phase": "infusion",
    "infusion_stopped_at": None,
    "observation_ends_at": None,
}

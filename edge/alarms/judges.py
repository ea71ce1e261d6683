"""Judges: how one level of a rule reads the facts of one moment.

A judge looks at :class:`Facts` (what the engine knows at one reading or tick) with the rule's
limits and says one of three things, as a :class:`Verdict`:

- ``hit``: the raise condition holds (with the value and limit a nurse should see);
- ``clear``: the clear condition holds (the safe side of the hysteresis band);
- neither: the value is inside the hysteresis band; an active level stays active.

``None`` means the facts say nothing about this level (no such measurement in this reading):
the level keeps its state. Judges are frozen values that name their limits by field, so the
rule table (:mod:`edge.alarms.rules`) reads as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from drivers.readings import PumpFlags
from edge.alarms.rate import RateStatus

__all__ = [
    "BAND",
    "CLEAR",
    "Above",
    "Below",
    "Facts",
    "Flag",
    "FlowWhileStopped",
    "Hit",
    "Judge",
    "Nibp",
    "Offline",
    "Outside",
    "Quantity",
    "RateDeviation",
    "SetpointMismatch",
    "StorageFault",
    "Verdict",
    "limit_of",
]


@dataclass(frozen=True, slots=True)
class Nibp:
    """One non-invasive blood pressure measurement (mmHg) and its measurement time."""

    systolic: float
    diastolic: float
    at: datetime


@dataclass(frozen=True, slots=True)
class Facts:
    """What the engine knows at one moment; a field is ``None`` where it knows nothing.

    Vitals: ``nibp`` only for a *new* measurement (a monitor repeats its last NIBP in every
    reading), ``previous_nibp`` the one before it, ``baseline`` the session's (systolic,
    diastolic) in mmHg; ``hr``, ``rr`` in /min, ``spo2`` in %. Pump: ``rate`` from
    :class:`~edge.alarms.rate.RateEstimator`, ``order_rate_ml_h`` from the bed's order.
    Device: ``offline`` with ``silence_s`` and ``timeout_s`` (s); ``bad_frames_pct`` (%).
    Edge: ``storage_fault``, whether one of the edge's stores (outbox, alarm log) is faulted.
    """

    nibp: Nibp | None = None
    previous_nibp: Nibp | None = None
    baseline: tuple[float, float] | None = None
    hr: float | None = None
    spo2: float | None = None
    rr: float | None = None
    bolus: bool = False
    flags: PumpFlags | None = None
    rate: RateStatus | None = None
    order_rate_ml_h: float | None = None
    offline: bool | None = None
    silence_s: float | None = None
    timeout_s: float | None = None
    infusing: bool = False
    bad_frames_pct: float | None = None
    storage_fault: bool | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A raise condition that holds: ``value`` and ``limit`` in the quantity's unit."""

    value: float | None
    limit: float | None
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judge's answer; ``hit`` and ``clear`` are never both set."""

    hit: Hit | None = None
    clear: bool = False


CLEAR = Verdict(clear=True)
BAND = Verdict()


class Judge(Protocol):
    """Reads ``facts`` against a rule's ``limits`` section."""

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None: ...


def limit_of(limits: BaseModel, name: str) -> float:
    """The limit field ``name`` of a rule's limits section."""
    return float(getattr(limits, name))


@dataclass(frozen=True, slots=True)
class Quantity:
    """A measured quantity: the :class:`Facts` field, a label and unit for nurses."""

    field: str
    label: str
    unit: str
    digits: int = 0

    def of(self, facts: Facts) -> float | None:
        value: float | None = getattr(facts, self.field)
        return value

    def show(self, value: float) -> str:
        return f"{value:.{self.digits}f} {self.unit}"


@dataclass(frozen=True, slots=True)
class Above:
    """Raised above ``limit``; clear at or below ``clear_at`` (limit field names)."""

    quantity: Quantity
    limit: str
    clear_at: str

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        value = self.quantity.of(facts)
        if value is None:
            return None
        limit = limit_of(limits, self.limit)
        if value > limit:
            q = self.quantity
            return Verdict(Hit(value, limit, f"{q.label} {q.show(value)}, above {q.show(limit)}"))
        return CLEAR if value <= limit_of(limits, self.clear_at) else BAND


@dataclass(frozen=True, slots=True)
class Below:
    """Raised below ``limit``; clear at or above ``clear_at`` (limit field names)."""

    quantity: Quantity
    limit: str
    clear_at: str

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        value = self.quantity.of(facts)
        if value is None:
            return None
        limit = limit_of(limits, self.limit)
        if value < limit:
            q = self.quantity
            return Verdict(Hit(value, limit, f"{q.label} {q.show(value)}, below {q.show(limit)}"))
        return CLEAR if value >= limit_of(limits, self.clear_at) else BAND


@dataclass(frozen=True, slots=True)
class Outside:
    """Raised below ``low`` or above ``high``; clear back inside ``[low, high]``."""

    quantity: Quantity
    low: str
    high: str

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        below = Below(self.quantity, self.low, self.low)(limits, facts)
        if below is None or below.hit is not None:
            return below
        return Above(self.quantity, self.high, self.high)(limits, facts)


@dataclass(frozen=True, slots=True)
class Flag:
    """A pump's own alarm flag (a :class:`PumpFlags` field): raised while set."""

    flag: str
    message: str

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        if facts.flags is None:
            return None
        return Verdict(Hit(None, None, self.message)) if getattr(facts.flags, self.flag) else CLEAR


@dataclass(frozen=True, slots=True)
class Offline:
    """No data from the device for its timeout; ``during_infusion``: only while the bed's
    session is in its infusion phase (a separate level, with its own priority)."""

    during_infusion: bool

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        if facts.offline is None:
            return None
        if not facts.offline or (self.during_infusion and not facts.infusing):
            return CLEAR
        silence, timeout = facts.silence_s, facts.timeout_s
        text = "No data from the device"
        if silence is not None:
            text += f" for {silence:.0f} s"
        if timeout is not None:
            text += f" (limit {timeout:.0f} s)"
        if facts.infusing:
            text += ", during the infusion"
        return Verdict(Hit(silence, timeout, text))


@dataclass(frozen=True, slots=True)
class RateDeviation:
    """Delivered rate off the programmed rate by more than ``limit`` % (either way), in a
    window precise enough for that limit (:meth:`RateStatus.beyond`); clear when the longest
    window is below ``clear_below`` %. A pump that is not infusing has no deviation (clear);
    no window precise enough yet: nothing known."""

    limit: str
    clear_below: str

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        rate = facts.rate
        if rate is None:
            return None
        if not rate.applicable:
            return CLEAR
        limit = limit_of(limits, self.limit)
        programmed = rate.programmed_ml_h
        if programmed is None or not rate.judged(limit):
            return None
        window = rate.beyond(limit)
        if window is not None:
            deviation = window.deviation_pct
            delivered = programmed * (1.0 + deviation / 100.0)
            text = (
                f"Delivered rate {'at most ' if window.at_most else ''}{delivered:.1f} mL/h "
                f"against {programmed:.1f} mL/h programmed ({deviation:+.0f} % over "
                f"{window.span_s:.0f} s, limit ±{limit:g} %)"
            )
            return Verdict(Hit(deviation, limit, text))
        longest = rate.deviation_pct
        if longest is not None and abs(longest) < limit_of(limits, self.clear_below):
            return CLEAR
        return BAND


@dataclass(frozen=True, slots=True)
class FlowWhileStopped:
    """Volume counted while the pump says it is stopped: at least ``threshold_ml`` since it
    stopped (a few counter steps, so a last update that lags the stop does not count)."""

    threshold_ml: float = 0.3

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        if facts.rate is None:
            return None
        flow = facts.rate.flow_while_stopped_ml
        if flow is None or flow < self.threshold_ml:
            return CLEAR if flow is None or flow == 0 else BAND
        text = f"Volume rising while the pump is stopped: {flow:.1f} mL since it stopped"
        return Verdict(Hit(flow, self.threshold_ml, text))


@dataclass(frozen=True, slots=True)
class SetpointMismatch:
    """Programmed rate off the rate the bed's order implies by more than ``tolerance`` %,
    judged while the pump infuses (not in bolus); a pump that is not infusing is clear."""

    tolerance: str

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        rate, ordered = facts.rate, facts.order_rate_ml_h
        if rate is None or ordered is None:
            return None
        if not rate.applicable:
            return CLEAR
        programmed = rate.programmed_ml_h
        if facts.bolus or programmed is None:
            return None
        off = (programmed - ordered) / ordered * 100.0
        tolerance = limit_of(limits, self.tolerance)
        if abs(off) > tolerance:
            text = (
                f"Programmed rate {programmed:.1f} mL/h, the order implies {ordered:.1f} mL/h "
                f"({off:+.0f} %, limit ±{tolerance:g} %)"
            )
            return Verdict(Hit(off, tolerance, text))
        return CLEAR


@dataclass(frozen=True, slots=True)
class StorageFault:
    """One of the edge's stores cannot keep data on disk: raised while it lasts."""

    message: str = "Edge storage fault: alarms still work but are not saved to disk"

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        if facts.storage_fault is None:
            return None
        return Verdict(Hit(None, None, self.message)) if facts.storage_fault else CLEAR

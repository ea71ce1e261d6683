"""Timelines for alarm tests: a fake clock, real Reading models, and a driver that feeds an
engine in time order and ticks it every second, as the daemon does. Times are seconds after
``T0``; a 100-minute session runs in well under a second."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from drivers.readings import (
    Observation,
    PumpFlags,
    PumpReading,
    PumpState,
    PumpStatus,
    VitalsReading,
)
from edge.alarms.devices import DeviceInfo
from edge.alarms.engine import AlarmEngine, EngineEvent
from edge.alarms.limits import AlarmLimits
from edge.alarms.models import AlarmEvent, SessionEvent
from edge.config import InfusionOrder

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
BED = "chair-1"
PUMP = "pump-1"
MONITOR = "monitor-1"
# 0.5 mg/kg of 1 mg/mL over 40 min for 72 kg: 36 mL at 54 mL/h
ORDER = InfusionOrder(
    drug="Ketamine",
    concentration_mg_per_ml=1.0,
    dose_mg_per_kg=0.5,
    weight_kg=72,
    duration_min=40,
)
RATE = 54.0

Reading = PumpReading | VitalsReading


def at(t: float) -> datetime:
    """The wall time ``t`` s after T0."""
    return T0 + timedelta(seconds=t)


class FakeClock:
    """A clock the test moves: ``monotonic()`` and ``now()`` advance together."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return 5000.0 + self.t

    def now(self) -> datetime:
        return at(self.t)


def vitals(
    t: float,
    *,
    hr: float | None = None,
    spo2: float | None = None,
    rr: float | None = None,
    pulse: float | None = None,
    nibp: tuple[float, float, float] | None = None,
    device: str = MONITOR,
    bed: str = BED,
) -> VitalsReading:
    """A monitor reading at ``t``; ``nibp`` is (systolic, diastolic, measured at t)."""
    obs = []
    for code, unit, value in (
        ("MDC_ECG_HEART_RATE", "/min", hr),
        ("MDC_PULS_OXIM_SAT_O2", "%", spo2),
        ("MDC_RESP_RATE", "/min", rr),
        ("MDC_PULS_OXIM_PULS_RATE", "/min", pulse),
    ):
        if value is not None:
            obs.append(Observation(code=code, value=value, unit=unit))
    if nibp is not None:
        sys, dia, measured = nibp
        for code, value in (("MDC_PRESS_BLD_NONINV_SYS", sys), ("MDC_PRESS_BLD_NONINV_DIA", dia)):
            obs.append(Observation(code=code, value=value, unit="mm[Hg]", ts=at(measured)))
    return VitalsReading(device_id=device, bed=bed, ts=at(t), observations=tuple(obs))


def pump(
    t: float,
    *,
    volume: float | None,
    rate: float | None = RATE,
    state: PumpState = "infusing",
    bolus: bool = False,
    flags: PumpFlags | None = None,
    device: str = PUMP,
    bed: str = BED,
) -> PumpReading:
    """A pump reading at ``t``: programmed ``rate`` in mL/h, ``volume`` infused in mL."""
    obs = []
    if rate is not None:
        obs.append(Observation(code="MDC_FLOW_FLUID_PUMP", value=rate, unit="mL/h"))
    if volume is not None:
        obs.append(Observation(code="MDC_VOL_FLUID_DELIV", value=volume, unit="mL"))
    status = PumpStatus(state=state, bolus=bolus, flags=flags or PumpFlags())
    return PumpReading(device_id=device, bed=bed, ts=at(t), observations=tuple(obs), pump=status)


def quantize(volume: float, step: float = 0.1) -> float:
    """A pump's volume counter: whole steps of 0.1 mL."""
    return round(math.floor(volume / step + 1e-9) * step, 1)


def infusion(
    start: float,
    end: float,
    *,
    delivered: float = RATE,
    rate: float = RATE,
    period: float = 5.0,
    volume0: float = 0.0,
) -> Iterator[tuple[float, PumpReading]]:
    """Pump readings every ``period`` s from ``start`` to ``end`` (excluded), delivering
    ``delivered`` mL/h while programmed at ``rate``."""
    t = start
    while t < end:
        volume = quantize(volume0 + (t - start) * delivered / 3600.0)
        yield t, pump(t, volume=volume, rate=rate)
        t += period


def engine_for(
    clock: FakeClock,
    *,
    limits: AlarmLimits | None = None,
    order: InfusionOrder | None = ORDER,
    timeout_s: float = 10.0,
    devices: tuple[str, ...] = (PUMP, MONITOR),
) -> AlarmEngine:
    """An engine for one chair with its ``devices`` (a pump and a monitor)."""
    infos = [DeviceInfo(device, BED, timeout_s) for device in devices]
    orders = {BED: order} if order is not None else {}
    return AlarmEngine(clock, limits=limits, orders=orders, devices=infos)


@dataclass
class Run:
    """Drives an engine: readings in time order, a tick every second in between."""

    engine: AlarmEngine
    clock: FakeClock
    events: list[tuple[float, EngineEvent]] = field(default_factory=list)

    def until(self, t: float) -> None:
        """Tick every whole second up to ``t`` (included)."""
        next_tick = math.floor(self.clock.t) + 1.0
        while next_tick <= t:
            self.clock.t = next_tick
            self.events += [(next_tick, e) for e in self.engine.tick()]
            next_tick += 1.0
        self.clock.t = max(self.clock.t, t)

    def feed(self, readings: Iterable[tuple[float, Reading]]) -> Run:
        """Feed ``readings`` (sorted by time), ticking in between."""
        for t, reading in readings:
            self.until(t)
            self.events += [(t, e) for e in self.engine.on_reading(reading)]
        return self

    def alarms(self, rule: str | None = None) -> list[tuple[float, str, str, str]]:
        """(time, transition, rule, priority) of every alarm event, optionally of one rule."""
        return [
            (t, e.transition, e.alarm.rule, e.alarm.priority)
            for t, e in self.events
            if isinstance(e, AlarmEvent) and (rule is None or e.alarm.rule == rule)
        ]

    def alarm_events(self) -> list[AlarmEvent]:
        return [e for _, e in self.events if isinstance(e, AlarmEvent)]

    def sessions(self) -> list[tuple[float, str]]:
        return [(t, e.change) for t, e in self.events if isinstance(e, SessionEvent)]

    def raised(self) -> list[tuple[float, str, str]]:
        """(time, rule, priority) of every new episode and priority break-through."""
        return [
            (t, rule, priority)
            for t, transition, rule, priority in self.alarms()
            if transition in ("raised", "priority_raised")
        ]


def merged(*streams: Iterable[tuple[float, Reading]]) -> list[tuple[float, Reading]]:
    """Several reading streams in one time order (pumps before monitors at a tie)."""
    return sorted((item for stream in streams for item in stream), key=lambda item: item[0])


def monitor(
    start: float,
    end: float,
    *,
    period: float = 1.0,
    hr: float = 72.0,
    spo2: float = 98.0,
    rr: float = 14.0,
    nibp: Iterable[tuple[float, float, float]] = (),
) -> Iterator[tuple[float, Reading]]:
    """Monitor readings every ``period`` s; each carries the latest NIBP measurement
    ((t, systolic, diastolic) items) taken by then, like an IntelliVue."""
    measurements = sorted(nibp)
    t = start
    while t < end:
        taken = [m for m in measurements if m[0] <= t]
        last = (taken[-1][1], taken[-1][2], taken[-1][0]) if taken else None
        yield t, vitals(t, hr=hr, spo2=spo2, rr=rr, nibp=last)
        t += period


def profile(
    *segments: tuple[float, float],
    start: float = 0.0,
    rate: float = RATE,
    period: float = 5.0,
) -> Iterator[tuple[float, PumpReading]]:
    """An infusing pump programmed at ``rate`` whose delivered rate changes: each segment is
    (until t, delivered mL/h); the volume counter stays continuous."""
    t, volume = start, 0.0
    for until, delivered in segments:
        while t < until:
            yield t, pump(t, volume=quantize(volume), rate=rate)
            volume += delivered * period / 3600.0
            t += period

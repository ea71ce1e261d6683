"""How soon the delivered-rate estimate detects a deviation, at a rate and a poll period.

:func:`detection_latency` feeds the real :class:`~edge.alarms.rate.RateEstimator` and the
``rate_deviation`` level's judge and timing (:mod:`edge.alarms.levels`) a synthetic pump in
virtual time: programmed at ``rate_ml_h``, polled every ``poll_s`` s, its volume counter in
steps of 0.1 mL (floored, as a pump counts), on rate until the windows reach their full span,
then delivering ``factor`` x the programmed rate. The latency is the time from the start of
the deviation to its *detection*: the moment the level's delay starts running and then runs
to its end (the raise, minus the delay). The worst of ``phases`` poll phases is reported.

:func:`slow_rate_rules` is what ``infusion-edge config check`` warns about: a pump whose poll
period makes the rate rule detect later than DESIGN.md's targets (within 30 s for > 25 %,
60 s for > 10 %), at its bed's order rate and at 50 mL/h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from drivers.readings import Observation, PumpReading, PumpStatus
from edge.alarms.judges import Facts, RateDeviation
from edge.alarms.levels import LevelState
from edge.alarms.limits import RateDeviationLimits
from edge.alarms.rate import RateEstimator
from edge.config import Config

__all__ = ["TARGETS", "Target", "config_warnings", "detection_latency", "slow_rate_rules"]

_T0 = datetime(2025, 1, 1, tzinfo=UTC)
_STEP_ML = 0.1
_WATCH_S = 900.0  # how long after its start a deviation is watched for
POLL_OPTIONS = {"bbraun_bcc": "poll_period_s"}  # polled pump drivers: their poll option


@dataclass(frozen=True, slots=True)
class Target:
    """A level of ``rate_deviation``: a deviation ``factor`` (1.3: +30 %) that must be
    detected within ``within_s`` s; ``limit``/``clear``/``delay`` name its limit fields."""

    name: str
    factor: float
    within_s: float
    limit: str
    clear: str
    delay: str


TARGETS = (
    Target("high", 1.30, 30.0, "high_pct", "high_clear_pct", "high_delay_s"),
    Target("medium", 0.88, 60.0, "medium_pct", "medium_clear_pct", "medium_delay_s"),
)
REFERENCE_RATE_ML_H = 50.0


def _reading(t: float, volume: float, rate: float) -> PumpReading:
    observations = (
        Observation(code="MDC_FLOW_FLUID_PUMP", value=rate, unit="mL/h"),
        Observation(code="MDC_VOL_FLUID_DELIV", value=volume, unit="mL"),
    )
    return PumpReading(
        device_id="pump",
        bed="bed",
        ts=_T0 + timedelta(seconds=t),
        observations=observations,
        pump=PumpStatus(state="infusing"),
    )


def _floor_step(volume: float) -> float:
    return round(math.floor(volume / _STEP_ML + 1e-9) * _STEP_ML, 1)


def _one_phase(
    rate: float, poll_s: float, factor: float, target: Target, phase: float, watch_s: float
) -> float | None:
    limits = RateDeviationLimits()
    judge = RateDeviation(target.limit, target.clear)
    delay = float(getattr(limits, target.delay))
    estimator = RateEstimator(max_gap_s=max(15.0, 3 * poll_s))
    start = estimator.startup_s + estimator.span_for(poll_s, rate) + poll_s + phase  # full
    level, t = LevelState(), phase
    while t < start + watch_s + delay:
        delivered = rate * (t if t < start else start + factor * (t - start)) / 3600.0
        status = estimator.update(_reading(t, _floor_step(delivered), rate))
        level.step(judge(limits, Facts(rate=status)), _T0 + timedelta(seconds=t), delay, 0.0, 1e9)
        if level.on:
            return max(0.0, t - delay - start)
        t += poll_s
    return None


@lru_cache(maxsize=256)
def detection_latency(
    rate_ml_h: float,
    poll_s: float,
    factor: float,
    level: str = "high",
    phases: int = 4,
    watch_s: float = _WATCH_S,
) -> float | None:
    """Seconds from the start of a deviation to its detection by ``level`` (``high`` or
    ``medium``), the worst of ``phases`` poll phases; ``None``: not within ``watch_s``."""
    target = next(t for t in TARGETS if t.name == level)
    worst = 0.0
    for index in range(phases):
        phase = poll_s * index / phases
        latency = _one_phase(rate_ml_h, poll_s, factor, target, phase, watch_s)
        if latency is None:
            return None
        worst = max(worst, latency)
    return worst


def config_warnings(config: Config) -> list[str]:
    """``config check``'s warnings about rate rules: one per level of each polled pump
    whose poll period detects too late (see :func:`slow_rate_rules`)."""
    warnings = []
    for device in config.devices:
        option = POLL_OPTIONS.get(device.driver)
        if option is None:
            continue
        options = config.driver_for(device).options.model_validate(device.options)
        order = config.beds[device.bed].order if device.bed in config.beds else None
        rate = order.rate_ml_per_h() if order is not None else None
        warnings += slow_rate_rules(device.id, float(getattr(options, option)), rate)
    return warnings


def slow_rate_rules(device_id: str, poll_s: float, order_rate_ml_h: float | None) -> list[str]:
    """Warnings for a pump polled every ``poll_s`` s: each level whose detection at the
    order's rate or at 50 mL/h is later than its target."""
    rates = [REFERENCE_RATE_ML_H]
    if order_rate_ml_h is not None and abs(order_rate_ml_h - REFERENCE_RATE_ML_H) > 1e-9:
        rates.insert(0, round(order_rate_ml_h, 2))
    warnings = []
    for target in TARGETS:
        for rate in rates:
            watch = 4 * target.within_s
            latency = detection_latency(rate, poll_s, target.factor, target.name, watch_s=watch)
            if latency is not None and latency <= target.within_s:
                continue
            seen = f"not within {watch:g} s" if latency is None else f"after about {latency:.0f} s"
            warnings.append(
                f"{device_id}: polled every {poll_s:g} s, a {target.factor - 1:+.0%} rate "
                f"deviation at {rate:g} mL/h is detected {seen}, later than the "
                f"{target.within_s:g} s the rate_deviation {target.name} level needs; "
                "a shorter poll_period_s (1 s) meets it"
            )
            break
    return warnings

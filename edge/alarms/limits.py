"""Alarm limits: the defaults of DESIGN.md, overridable per site and per bed in config.

Each rule's limits are a frozen model. ``_ASCENDING`` lists chains of fields that must be in
strictly ascending order (a clear threshold on the safe side of its raise threshold, a high
limit beyond its medium one); a config that breaks a chain is refused with both values named.
"""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

__all__ = [
    "AlarmLimits",
    "DeviceOfflineLimits",
    "EscalationLimits",
    "HeartRateLimits",
    "HypertensionLimits",
    "LinkErrorLimits",
    "Priority",
    "RateDeviationLimits",
    "RespRateLimits",
    "SetpointMismatchLimits",
    "Spo2Limits",
]

Priority = Literal["high", "medium", "low"]


class _Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    _ASCENDING: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @model_validator(mode="after")
    def _check_order(self) -> _Limits:
        for chain in self._ASCENDING:
            for lower, upper in itertools.pairwise(chain):
                low, high = getattr(self, lower), getattr(self, upper)
                if not low < high:
                    raise ValueError(f"{upper} ({high:g}) must be above {lower} ({low:g})")
        return self


class RateDeviationLimits(_Limits):
    """Delivered rate (slope of volume infused) against programmed rate, in % of programmed."""

    medium_pct: float = Field(10.0, gt=0, le=100)
    medium_delay_s: float = Field(300.0, ge=0)
    medium_clear_pct: float = Field(7.0, gt=0, le=100)
    high_pct: float = Field(25.0, gt=0, le=100)
    high_delay_s: float = Field(60.0, ge=0)
    high_clear_pct: float = Field(15.0, gt=0, le=100)
    clear_hold_s: float = Field(120.0, ge=0)
    _ASCENDING = (("medium_clear_pct", "medium_pct", "high_pct"), ("high_clear_pct", "high_pct"))


class SetpointMismatchLimits(_Limits):
    """Programmed rate against the rate the bed's order implies, in %."""

    tolerance_pct: float = Field(5.0, gt=0, le=100)


class HypertensionLimits(_Limits):
    """Blood pressure limits in mmHg; ``rise_*`` is over the session baseline."""

    medium_systolic: float = Field(160.0, gt=0)
    medium_diastolic: float = Field(100.0, gt=0)
    rise_systolic: float = Field(40.0, gt=0)
    rise_diastolic: float = Field(25.0, gt=0)
    medium_clear_systolic: float = Field(150.0, gt=0)
    medium_clear_diastolic: float = Field(95.0, gt=0)
    high_systolic: float = Field(180.0, gt=0)
    high_diastolic: float = Field(110.0, gt=0)
    high_confirm_s: float = Field(300.0, ge=0)
    extreme_systolic: float = Field(200.0, gt=0)
    extreme_diastolic: float = Field(120.0, gt=0)
    high_clear_systolic: float = Field(170.0, gt=0)
    high_clear_diastolic: float = Field(105.0, gt=0)
    _ASCENDING = (
        ("medium_clear_systolic", "medium_systolic", "high_systolic", "extreme_systolic"),
        ("medium_clear_diastolic", "medium_diastolic", "high_diastolic", "extreme_diastolic"),
        ("high_clear_systolic", "high_systolic"),
        ("high_clear_diastolic", "high_diastolic"),
    )


class Spo2Limits(_Limits):
    """SpO2 limits in %: below ``medium_below`` is medium, below ``high_below`` high."""

    high_below: float = Field(85.0, gt=0, le=100)
    high_delay_s: float = Field(10.0, ge=0)
    medium_below: float = Field(90.0, gt=0, le=100)
    medium_delay_s: float = Field(15.0, ge=0)
    clear_at: float = Field(92.0, gt=0, le=100)
    clear_hold_s: float = Field(10.0, ge=0)
    _ASCENDING = (("high_below", "medium_below", "clear_at"),)


class HeartRateLimits(_Limits):
    """Heart rate limits in /min."""

    high_below: float = Field(45.0, gt=0)
    medium_above: float = Field(120.0, gt=0)
    medium_delay_s: float = Field(300.0, ge=0)
    high_above: float = Field(140.0, gt=0)
    high_delay_s: float = Field(30.0, ge=0)
    clear_hold_s: float = Field(60.0, ge=0)
    _ASCENDING = (("high_below", "medium_above", "high_above"),)


class RespRateLimits(_Limits):
    """Respiration rate limits in /min: below ``high_below`` is high, above ``medium_above``
    medium."""

    high_below: float = Field(8.0, gt=0)
    medium_above: float = Field(30.0, gt=0)
    delay_s: float = Field(30.0, ge=0)
    clear_hold_s: float = Field(60.0, ge=0)
    _ASCENDING = (("high_below", "medium_above"),)


class DeviceOfflineLimits(_Limits):
    """Priority of ``device_offline``; the silence timeout is each device's ``timeout_s``."""

    priority_infusing: Priority = "medium"
    priority_idle: Priority = "low"


class LinkErrorLimits(_Limits):
    """Share of bad frames, in %, over ``window_s``."""

    raise_pct: float = Field(5.0, gt=0, le=100)
    clear_pct: float = Field(1.0, ge=0, le=100)
    window_s: PositiveFloat = 60.0
    _ASCENDING = (("clear_pct", "raise_pct"),)


class EscalationLimits(_Limits):
    """Seconds an unacknowledged alarm waits before it escalates."""

    high_s: PositiveFloat = 60.0
    medium_s: PositiveFloat = 300.0
    _ASCENDING = (("high_s", "medium_s"),)


class AlarmLimits(_Limits):
    """Every rule's limits; the site's values, or one bed's after its overrides."""

    rate_deviation: RateDeviationLimits = RateDeviationLimits()
    setpoint_mismatch: SetpointMismatchLimits = SetpointMismatchLimits()
    hypertension: HypertensionLimits = HypertensionLimits()
    spo2_low: Spo2Limits = Spo2Limits()
    hr_abnormal: HeartRateLimits = HeartRateLimits()
    rr_abnormal: RespRateLimits = RespRateLimits()
    device_offline: DeviceOfflineLimits = DeviceOfflineLimits()
    link_errors: LinkErrorLimits = LinkErrorLimits()
    escalation: EscalationLimits = EscalationLimits()

"""Hypertension judges: the two levels of the ``hypertension`` rule, in mmHg.

Blood pressure is intermittent: a monitor measures NIBP every few minutes and repeats the last
measurement in every reading, so these judges see only *new* measurements
(:attr:`Facts.nibp`); everything else says nothing (``None``).

- Medium: SBP >= 160 or DBP >= 100, or a rise of >= 40/25 over the session baseline, on one
  measurement. Clear below 150/95, and the rise back below its limit by the same margin
  (10/5 mmHg by default), so a rise that hovers at its limit cannot flap either.
- High: SBP >= 180 or DBP >= 110 on two distinct cuffs at most 5 min apart (the second one
  raises it; cuffs closer than :data:`~edge.alarms.vitals.SAME_CUFF_S` are one cuff), or
  SBP >= 200 or DBP >= 120 once. Clear below 170/105.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from edge.alarms.judges import BAND, CLEAR, Facts, Hit, Nibp, Verdict
from edge.alarms.limits import HypertensionLimits
from edge.alarms.vitals import SAME_CUFF_S

__all__ = ["Hypertensive", "SevereHypertension"]


def _bp(nibp: Nibp) -> str:
    return f"Blood pressure {nibp.systolic:.0f}/{nibp.diastolic:.0f} mmHg"


def _section(limits: BaseModel) -> HypertensionLimits:
    if not isinstance(limits, HypertensionLimits):
        raise TypeError(f"hypertension judges need HypertensionLimits, not {type(limits)}")
    return limits


@dataclass(frozen=True, slots=True)
class _Crossing:
    value: float
    limit: float
    clear_margin: float
    what: str


@dataclass(frozen=True, slots=True)
class Hypertensive:
    """The medium level: absolute limits or the rise over the session baseline."""

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        nibp = facts.nibp
        if nibp is None:
            return None
        lim = _section(limits)
        margin_sys = lim.medium_systolic - lim.medium_clear_systolic
        margin_dia = lim.medium_diastolic - lim.medium_clear_diastolic
        checks = [
            _Crossing(nibp.systolic, lim.medium_systolic, margin_sys, "systolic"),
            _Crossing(nibp.diastolic, lim.medium_diastolic, margin_dia, "diastolic"),
        ]
        if facts.baseline is not None:
            base_sys, base_dia = facts.baseline
            checks += [
                _Crossing(
                    nibp.systolic,
                    base_sys + lim.rise_systolic,
                    margin_sys,
                    f"systolic, {lim.rise_systolic:.0f} over the baseline {base_sys:.0f},",
                ),
                _Crossing(
                    nibp.diastolic,
                    base_dia + lim.rise_diastolic,
                    margin_dia,
                    f"diastolic, {lim.rise_diastolic:.0f} over the baseline {base_dia:.0f},",
                ),
            ]
        for check in checks:
            if check.value >= check.limit:
                text = f"{_bp(nibp)}: {check.what} at or above {check.limit:.0f} mmHg"
                return Verdict(Hit(check.value, check.limit, text))
        cleared = all(c.value < c.limit - c.clear_margin for c in checks)
        return CLEAR if cleared else BAND


@dataclass(frozen=True, slots=True)
class SevereHypertension:
    """The high level: confirmed by a second measurement, or past the extreme limits once."""

    def __call__(self, limits: BaseModel, facts: Facts) -> Verdict | None:
        nibp = facts.nibp
        if nibp is None:
            return None
        lim = _section(limits)
        extreme = _crossed(nibp, lim.extreme_systolic, lim.extreme_diastolic)
        if extreme is not None:
            value, limit = extreme
            text = f"{_bp(nibp)}: at or above the extreme limit {limit:.0f} mmHg"
            return Verdict(Hit(value, limit, text))
        crossed = _crossed(nibp, lim.high_systolic, lim.high_diastolic)
        if crossed is not None:
            previous = facts.previous_nibp
            if (
                previous is None
                or _crossed(previous, lim.high_systolic, lim.high_diastolic) is None
            ):
                return BAND
            apart_s = (nibp.at - previous.at).total_seconds()
            if not SAME_CUFF_S < apart_s <= lim.high_confirm_s:
                return BAND
            value, limit = crossed
            text = (
                f"{_bp(nibp)}: at or above {limit:.0f} mmHg, confirmed by "
                f"{previous.systolic:.0f}/{previous.diastolic:.0f} mmHg {_ago(apart_s)}"
            )
            return Verdict(Hit(value, limit, text))
        cleared = (
            nibp.systolic < lim.high_clear_systolic and nibp.diastolic < lim.high_clear_diastolic
        )
        return CLEAR if cleared else BAND


def _ago(seconds: float) -> str:
    """``3 min before``; under 2 min in seconds (``45 s before``)."""
    return f"{seconds:.0f} s before" if seconds < 120 else f"{seconds / 60:.0f} min before"


def _crossed(nibp: Nibp, systolic: float, diastolic: float) -> tuple[float, float] | None:
    """(value, limit) of the pressure at or above its limit, systolic first; else ``None``."""
    if nibp.systolic >= systolic:
        return nibp.systolic, systolic
    if nibp.diastolic >= diastolic:
        return nibp.diastolic, diastolic
    return None

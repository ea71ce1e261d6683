"""The alarm rules, as a table of frozen descriptions (DESIGN.md, "Alarm rules").

Each :class:`Rule` names its limits section in :class:`~edge.alarms.limits.AlarmLimits` (so the
site's and each bed's overrides apply) and lists its levels. A :class:`Level` is one raise
condition: a judge (:mod:`edge.alarms.judges`), a priority, the delay the condition must hold
before the level is on, and the hold its clear condition must last before it is off. Delays,
holds and limits are named by their field in the rule's section, or given in seconds.

A rule's alarm has the highest priority among its levels that are on; it ends when none is.
Whether it latches follows from its kind and priority (high physiological alarms latch,
technical alarms never do), not from the table.

``kind``: ``technical`` is the edge's own data path (a silent device, a noisy link);
everything a clinician acts on, including the pump's flags and rate, is ``physiological``
(the drug reaching the patient), which lets high-priority delivery alarms latch as DESIGN.md
requires. ``source``: what feeds the rule: ``pump`` or ``vitals`` readings, ``device``
(silence, from readings, ticks and device states), ``link`` (frame counters) or ``storage``
(the edge's own stores; one alarm per bed, without a device).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from edge.alarms.judges import (
    Above,
    Below,
    Flag,
    FlowWhileStopped,
    Judge,
    Offline,
    Outside,
    Quantity,
    RateDeviation,
    SetpointMismatch,
    StorageFault,
    limit_of,
)
from edge.alarms.limits import AlarmLimits, Priority
from edge.alarms.models import Kind
from edge.alarms.pressure import Hypertensive, SevereHypertension

__all__ = ["RULES", "Level", "Rule", "Source", "rule_named"]

Source = Literal["pump", "vitals", "device", "link", "storage"]


class _NoLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_NO_LIMITS = _NoLimits()

HR = Quantity("hr", "Heart rate", "/min")
SPO2 = Quantity("spo2", "SpO2", "%")
RR = Quantity("rr", "Respiration rate", "/min")
BAD_FRAMES = Quantity("bad_frames_pct", "Bad frames", "%", digits=1)


@dataclass(frozen=True, slots=True)
class Level:
    """One raise condition of a rule. ``priority`` is fixed, or ``priority_field`` names it in
    the rule's limits; ``delay``/``hold`` are limit field names or seconds."""

    judge: Judge
    priority: Priority | None = None
    delay: str | float = 0.0
    hold: str | float = 0.0
    priority_field: str | None = None

    def __post_init__(self) -> None:
        if (self.priority is None) == (self.priority_field is None):
            raise ValueError("a level has a priority or a priority_field, not both")

    def priority_in(self, limits: BaseModel) -> Priority:
        """This level's priority under ``limits`` (the rule's section)."""
        if self.priority is not None:
            return self.priority
        value: Priority = getattr(limits, str(self.priority_field))
        return value

    def delay_s(self, limits: BaseModel) -> float:
        """Seconds the raise condition must hold before the level is on."""
        return _seconds(limits, self.delay)

    def hold_s(self, limits: BaseModel) -> float:
        """Seconds the clear condition must hold before the level is off."""
        return _seconds(limits, self.hold)


def _seconds(limits: BaseModel, value: str | float) -> float:
    return limit_of(limits, value) if isinstance(value, str) else float(value)


@dataclass(frozen=True, slots=True)
class Rule:
    """One alarm rule: its name (the ``rule`` field of its alarms), kind, source, limits
    section (``None``: it has no limits) and levels."""

    name: str
    kind: Kind
    source: Source
    section: str | None
    levels: tuple[Level, ...]
    description: str

    def limits(self, limits: AlarmLimits) -> BaseModel:
        """This rule's section of ``limits``."""
        if self.section is None:
            return _NO_LIMITS
        section: BaseModel = getattr(limits, self.section)
        return section


RULES: tuple[Rule, ...] = (
    Rule(
        name="rate_deviation",
        kind="physiological",
        source="pump",
        section="rate_deviation",
        description="Delivered rate (slope of volume infused) off the programmed rate; "
        "volume rising while the pump is stopped.",
        levels=(
            Level(
                RateDeviation(limit="medium_pct", clear_below="medium_clear_pct"),
                priority="medium",
                delay="medium_delay_s",
                hold="clear_hold_s",
            ),
            Level(
                RateDeviation(limit="high_pct", clear_below="high_clear_pct"),
                priority="high",
                delay="high_delay_s",
                hold="clear_hold_s",
            ),
            Level(FlowWhileStopped(), priority="high", delay=0.0, hold="clear_hold_s"),
        ),
    ),
    Rule(
        name="setpoint_mismatch",
        kind="physiological",
        source="pump",
        section="setpoint_mismatch",
        description="Programmed rate off the rate the bed's order implies, while infusing.",
        levels=(Level(SetpointMismatch(tolerance="tolerance_pct"), priority="high"),),
    ),
    Rule(
        name="pump_occlusion",
        kind="physiological",
        source="pump",
        section=None,
        description="The pump's occlusion flag.",
        levels=(Level(Flag("occlusion", "Pump reports an occlusion"), priority="high"),),
    ),
    Rule(
        name="pump_air_in_line",
        kind="physiological",
        source="pump",
        section=None,
        description="The pump's air-in-line flag.",
        levels=(Level(Flag("air_in_line", "Pump reports air in the line"), priority="high"),),
    ),
    Rule(
        name="pump_end_of_volume",
        kind="physiological",
        source="pump",
        section=None,
        description="The pump's end-of-volume flag (KVO); ends when it clears (a new programme).",
        levels=(
            Level(
                Flag("end_of_volume", "End of volume: the pump keeps the vein open"),
                priority="medium",
            ),
        ),
    ),
    Rule(
        name="hypertension",
        kind="physiological",
        source="vitals",
        section="hypertension",
        description="NIBP over absolute limits or risen over the session baseline; high when "
        "confirmed by a second measurement or past the extreme limits.",
        levels=(
            Level(Hypertensive(), priority="medium"),
            Level(SevereHypertension(), priority="high"),
        ),
    ),
    Rule(
        name="spo2_low",
        kind="physiological",
        source="vitals",
        section="spo2_low",
        description="SpO2 below its limits.",
        levels=(
            Level(
                Below(SPO2, limit="medium_below", clear_at="clear_at"),
                priority="medium",
                delay="medium_delay_s",
                hold="clear_hold_s",
            ),
            Level(
                Below(SPO2, limit="high_below", clear_at="clear_at"),
                priority="high",
                delay="high_delay_s",
                hold="clear_hold_s",
            ),
        ),
    ),
    Rule(
        name="hr_abnormal",
        kind="physiological",
        source="vitals",
        section="hr_abnormal",
        description="Heart rate (ECG, else pulse rate) out of range.",
        levels=(
            Level(
                Above(HR, limit="medium_above", clear_at="medium_above"),
                priority="medium",
                delay="medium_delay_s",
                hold="clear_hold_s",
            ),
            Level(
                Outside(HR, low="high_below", high="high_above"),
                priority="high",
                delay="high_delay_s",
                hold="clear_hold_s",
            ),
        ),
    ),
    Rule(
        name="rr_abnormal",
        kind="physiological",
        source="vitals",
        section="rr_abnormal",
        description="Respiration rate out of range.",
        levels=(
            Level(
                Below(RR, limit="high_below", clear_at="high_below"),
                priority="high",
                delay="delay_s",
                hold="clear_hold_s",
            ),
            Level(
                Above(RR, limit="medium_above", clear_at="medium_above"),
                priority="medium",
                delay="delay_s",
                hold="clear_hold_s",
            ),
        ),
    ),
    Rule(
        name="device_offline",
        kind="technical",
        source="device",
        section="device_offline",
        description="No reading from a device for its timeout_s; higher during an infusion.",
        levels=(
            Level(Offline(during_infusion=False), priority_field="priority_idle"),
            Level(Offline(during_infusion=True), priority_field="priority_infusing"),
        ),
    ),
    Rule(
        name="link_errors",
        kind="technical",
        source="link",
        section="link_errors",
        description="Share of bad frames on the device's link over a window.",
        levels=(
            Level(
                Above(BAD_FRAMES, limit="raise_pct", clear_at="clear_pct"),
                priority="low",
                delay="window_s",
                hold="window_s",
            ),
        ),
    ),
    Rule(
        name="storage_fault",
        kind="technical",
        source="storage",
        section=None,
        description="The edge cannot keep data on disk (outbox or alarm log): alarms still "
        "work and are published, but a restart would lose what is only in memory.",
        levels=(Level(StorageFault(), priority="low"),),
    ),
)

_BY_NAME = {rule.name: rule for rule in RULES}


def rule_named(name: str) -> Rule | None:
    """The rule called ``name``, or ``None``."""
    return _BY_NAME.get(name)

"""Alarm and treatment-session payloads: what the engine emits and the log stores.

An :class:`Alarm` is one alarm episode as a nurse's display shows it (the MQTT alarm payload of
DESIGN.md, before the publisher adds its envelope: ``schema``, ``edge_id``, ``session``,
``seq``, ``ts``). An :class:`AlarmEvent` is one transition of an episode: the snapshot after
it, what happened, and when. A :class:`TreatmentSession` is one patient's visit to a bed.

No patient identifiers: beds and device ids only. Times are aware UTC datetimes.

Alarm ids (``{bed}.{device}.{rule}.{raise time}``) are stable for an episode and new for the
next one; see :func:`alarm_id`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from edge.alarms.limits import Priority

__all__ = [
    "PRIORITY_RANK",
    "Alarm",
    "AlarmEvent",
    "AlarmState",
    "Kind",
    "OrderSummary",
    "Phase",
    "SessionChange",
    "SessionEvent",
    "Transition",
    "TreatmentSession",
    "alarm_id",
    "session_id",
    "stamp",
]

Kind = Literal["physiological", "technical"]
AlarmState = Literal["active", "acknowledged", "latched", "ended"]
Transition = Literal[
    "raised",  # a new episode, state active
    "escalated",  # unacknowledged past its escalation time (``escalated`` set)
    "priority_raised",  # a higher priority broke through; unacknowledged again
    "acknowledged",  # by a named user: active -> acknowledged, or latched -> ended
    "latched",  # condition ended, unacknowledged, high physiological: stays shown
    "reactivated",  # latched, and the condition came back before acknowledgement
    "ended",  # condition ended (after its hold), and nothing keeps the alarm shown
]
Phase = Literal["baseline", "infusion", "observation", "closed"]
SessionChange = Literal[
    "started", "infusion_started", "infusion_stopped", "infusion_resumed", "closed"
]

PRIORITY_RANK: dict[Priority, int] = {"low": 1, "medium": 2, "high": 3}

TopicSafe = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=200)]
"""Safe as one MQTT topic level: letters, digits, ``_ . -``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def stamp(at: datetime) -> str:
    """``at`` as a compact, topic-safe UTC stamp with milliseconds: ``20250314T091502123Z``."""
    utc = at.astimezone(UTC)
    return f"{utc:%Y%m%dT%H%M%S}{utc.microsecond // 1000:03d}Z"


def alarm_id(bed: str, device_id: str | None, rule: str, raised_at: datetime) -> str:
    """The id of the episode of ``rule`` raised at ``raised_at`` on ``device_id`` of ``bed``.

    ``{bed}.{device_id or '-'}.{rule}.{stamp(raised_at)}``, e.g.
    ``chair-1.pump-1.rate_deviation.20250314T091502123Z``. Bed and device ids are config
    ``Name`` values (letters, digits, ``_ . -``), so the id is one safe MQTT topic level. The
    raise time makes the next episode of the same rule a new id, across restarts too; the
    engine adds ``-2``, ``-3``... in the unlikely case of two episodes in one millisecond. Ids
    are opaque: consumers must not parse them (a bed name may itself contain dots).
    """
    return f"{bed}.{device_id or '-'}.{rule}.{stamp(raised_at)}"


def session_id(bed: str, started_at: datetime) -> str:
    """The id of the treatment session of ``bed`` that started at ``started_at``."""
    return f"{bed}.{stamp(started_at)}"


class Alarm(_Frozen):
    """One alarm episode, as shown to a nurse.

    ``value`` and ``limit`` are in the unit of the rule's quantity (mmHg, /min, %, mL/h, s) and
    are the ones the ``message`` names: taken when the alarm was raised or its priority last
    broke through. ``escalated`` is true while the alarm is unacknowledged past its escalation
    time (high: 60 s, medium: 5 min by default); ``escalated_at`` is when it last escalated and
    stays as a record after acknowledgement. ``acknowledged_via`` is the id of the dashboard
    that sent the (verified) acknowledgement, ``None`` for one given without a dashboard and in
    alarms logged before it existed. Invariants: ``acknowledged_by`` is set in state
    ``acknowledged``; ``ended_at`` is set exactly in state ``ended``; ``acknowledged_via`` only
    with ``acknowledged_by``. ``ended_reason`` says why an alarm ended when its condition did
    not end it (``device removed``: the device left the config by a live reload).
    """

    alarm_id: TopicSafe
    rule: str
    kind: Kind
    priority: Priority
    state: AlarmState
    bed: str
    device_id: str | None
    message: str
    value: float | None
    limit: float | None
    raised_at: AwareDatetime
    acknowledged_by: str | None = None
    acknowledged_at: AwareDatetime | None = None
    acknowledged_via: str | None = Field(None, max_length=64)
    ended_at: AwareDatetime | None = None
    escalated: bool = False
    escalated_at: AwareDatetime | None = None
    ended_reason: str | None = Field(
        None, max_length=64, description="why an alarm ended other than by its condition"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Alarm:
        if (self.state == "ended") != (self.ended_at is not None):
            raise ValueError("ended_at is set exactly when the state is ended")
        if self.state == "acknowledged" and self.acknowledged_by is None:
            raise ValueError("an acknowledged alarm names who acknowledged it")
        if (self.acknowledged_by is None) != (self.acknowledged_at is None):
            raise ValueError("acknowledged_by and acknowledged_at go together")
        if self.acknowledged_via is not None and self.acknowledged_by is None:
            raise ValueError("acknowledged_via goes with acknowledged_by")
        return self

    @property
    def latching(self) -> bool:
        """High physiological alarms latch; technical alarms never do."""
        return self.kind == "physiological" and self.priority == "high"


class AlarmEvent(_Frozen):
    """One transition of an alarm: ``alarm`` is the snapshot after it, ``at`` when it happened
    (the measurement time of the reading that caused it, or the clock's time for ticks and
    acknowledgements)."""

    alarm: Alarm
    transition: Transition
    at: AwareDatetime


class OrderSummary(_Frozen):
    """The bed's infusion order, without the patient's weight; ``rate_ml_per_h`` is the rate
    it implies."""

    drug: str
    concentration_mg_per_ml: float
    dose_mg_per_kg: float
    duration_min: float
    rate_ml_per_h: float


class TreatmentSession(_Frozen):
    """One treatment at a bed: ``baseline`` -> ``infusion`` -> ``observation`` -> ``closed``.

    ``baseline_systolic``/``baseline_diastolic`` (mmHg) are the mean of the NIBP measurements
    before the infusion started (``baseline_count`` of them); ``None`` while in ``baseline`` or
    when none was measured. ``observation_ends_at`` is ``infusion_stopped_at`` + the
    observation time (60 min). ``infusion_started_estimated``: the pump was already infusing
    when the edge first saw it (the edge started, or the pump was plugged in, mid-infusion), so
    ``infusion_started_at`` (and ``started_at`` when the pump started the session) is an
    estimate: the volume infused divided by the programmed rate before that first reading.
    """

    session_id: TopicSafe
    bed: str
    phase: Phase
    order: OrderSummary | None = None
    baseline_systolic: float | None = None
    baseline_diastolic: float | None = None
    baseline_count: int = 0
    started_at: AwareDatetime
    infusion_started_at: AwareDatetime | None = None
    infusion_started_estimated: bool = False
    infusion_stopped_at: AwareDatetime | None = None
    observation_ends_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None


class SessionEvent(_Frozen):
    """A phase change of a treatment session; ``session`` is the snapshot after it."""

    session: TreatmentSession
    change: SessionChange
    at: AwareDatetime

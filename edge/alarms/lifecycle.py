"""The alarm model after IEC 60601-1-8, for one rule on one device of one bed.

An :class:`AlarmTrack` turns the rule's condition (its highest level that is on, or none)
into alarm episodes and their transitions::

    (no alarm) --condition--> active --ack--> acknowledged
    active/acknowledged --higher priority--> active (priority_raised: unacknowledged again)
    active --condition ends, high physiological--> latched --ack--> ended
    latched --condition returns--> active (reactivated, same episode)
    active/acknowledged --condition ends--> ended (latched alarms only via ack)
    active/latched, unacknowledged past 60 s (high) / 5 min (medium) --> escalated

Invariants: an ended alarm never changes again (a new condition is a new episode with a new
id); a latched alarm ends only by acknowledgement; an episode's priority never goes down;
technical alarms never latch. Pending (the delay) lives in :mod:`edge.alarms.levels`: it is
not an alarm state and emits nothing.
"""

from __future__ import annotations

from datetime import datetime

from edge.alarms.levels import Condition
from edge.alarms.limits import EscalationLimits
from edge.alarms.models import PRIORITY_RANK, Alarm, AlarmEvent, Transition, alarm_id
from edge.alarms.rules import Rule

__all__ = ["AlarmTrack"]


class AlarmTrack:
    """The current alarm episode (if any) of ``rule`` on ``device_id`` of ``bed``."""

    def __init__(self, rule: Rule, bed: str, device_id: str | None) -> None:
        self.rule = rule
        self.bed = bed
        self.device_id = device_id
        self.alarm: Alarm | None = None
        self._unacked_since: datetime | None = None
        self.last_id: str | None = None

    def update(self, condition: Condition | None, at: datetime) -> list[AlarmEvent]:
        """The transitions after the rule's condition became ``condition`` at ``at``."""
        alarm = self.alarm
        if condition is None:
            if alarm is None or alarm.state == "latched":
                return []
            if alarm.state == "active" and alarm.latching:
                return [self._emit(alarm.model_copy(update={"state": "latched"}), "latched", at)]
            return [
                self._emit(alarm.model_copy(update={"state": "ended", "ended_at": at}), "ended", at)
            ]
        if alarm is None:
            return [self._raise(condition, at)]
        higher = PRIORITY_RANK[condition.priority] > PRIORITY_RANK[alarm.priority]
        if alarm.state == "latched":
            update = self._shown(condition, at) if higher else {}
            return [
                self._emit(
                    alarm.model_copy(update={**update, "state": "active"}), "reactivated", at
                )
            ]
        if not higher:
            return []
        self._unacked_since = at
        update = {
            **self._shown(condition, at),
            "state": "active",
            "acknowledged_by": None,
            "acknowledged_at": None,
            "acknowledged_via": None,
            "escalated": False,
        }
        return [self._emit(alarm.model_copy(update=update), "priority_raised", at)]

    def acknowledge(self, by: str, at: datetime, via: str | None = None) -> list[AlarmEvent]:
        """Acknowledge the current alarm as user ``by`` through dashboard ``via``: active ->
        acknowledged, latched -> ended; an alarm already acknowledged gives no event. The
        caller checks there is a current alarm."""
        alarm = self.alarm
        assert alarm is not None, "acknowledge() needs a current alarm"
        if alarm.state == "acknowledged":
            return []
        update: dict[str, object] = {
            "acknowledged_by": by,
            "acknowledged_at": at,
            "acknowledged_via": via,
            "escalated": False,
        }
        if alarm.state == "latched":
            update |= {"state": "ended", "ended_at": at}
        else:
            update["state"] = "acknowledged"
        self._unacked_since = None
        return [self._emit(alarm.model_copy(update=update), "acknowledged", at)]

    def escalate(self, now: datetime, limits: EscalationLimits) -> list[AlarmEvent]:
        """Escalate the alarm if it is unacknowledged past its priority's escalation time."""
        alarm, since = self.alarm, self._unacked_since
        if alarm is None or since is None or alarm.escalated or alarm.priority == "low":
            return []
        after_s = limits.high_s if alarm.priority == "high" else limits.medium_s
        if (now - since).total_seconds() < after_s:
            return []
        update = {"escalated": True, "escalated_at": now}
        return [self._emit(alarm.model_copy(update=update), "escalated", now)]

    def restore(self, alarm: Alarm) -> None:
        """Take ``alarm`` (not ended, from the log) as the current episode, emitting nothing."""
        self.alarm = alarm
        self.last_id = alarm.alarm_id
        self._unacked_since = None if alarm.state == "acknowledged" else alarm.raised_at

    def _raise(self, condition: Condition, at: datetime) -> AlarmEvent:
        new_id = alarm_id(self.bed, self.device_id, self.rule.name, at)
        if self.last_id is not None and self.last_id.startswith(new_id):
            suffix = self.last_id.removeprefix(new_id).lstrip("-") or "1"
            new_id = f"{new_id}-{int(suffix) + 1}"
        self._unacked_since = at
        hit = condition.hit
        alarm = Alarm(
            alarm_id=new_id,
            rule=self.rule.name,
            kind=self.rule.kind,
            priority=condition.priority,
            state="active",
            bed=self.bed,
            device_id=self.device_id,
            message=hit.message if hit else self.rule.description,
            value=hit.value if hit else None,
            limit=hit.limit if hit else None,
            raised_at=at,
        )
        self.last_id = new_id
        return self._emit(alarm, "raised", at)

    @staticmethod
    def _shown(condition: Condition, at: datetime) -> dict[str, object]:
        update: dict[str, object] = {"priority": condition.priority}
        if condition.hit is not None:
            hit = condition.hit
            update |= {"message": hit.message, "value": hit.value, "limit": hit.limit}
        return update

    def _emit(self, alarm: Alarm, transition: Transition, at: datetime) -> AlarmEvent:
        Alarm.model_validate(alarm.model_dump())  # model_copy skips validation: check here
        self.alarm = None if alarm.state == "ended" else alarm
        return AlarmEvent(alarm=alarm, transition=transition, at=at)

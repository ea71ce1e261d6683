"""Errors of the alarm engine's commands (acknowledgement); the API maps them to replies."""

from __future__ import annotations

__all__ = ["AcknowledgeError", "AlarmEndedError", "UnknownAlarmError"]


class AcknowledgeError(Exception):
    """An acknowledgement that cannot be applied; ``alarm_id`` names the alarm."""

    def __init__(self, alarm_id: str, message: str) -> None:
        super().__init__(message)
        self.alarm_id = alarm_id


class UnknownAlarmError(AcknowledgeError):
    """No alarm has this id on this edge (a typo, or another edge's alarm)."""

    def __init__(self, alarm_id: str) -> None:
        super().__init__(alarm_id, f"no alarm {alarm_id!r} on this edge")


class AlarmEndedError(AcknowledgeError):
    """The alarm has ended; there is nothing left to acknowledge."""

    def __init__(self, alarm_id: str) -> None:
        super().__init__(alarm_id, f"alarm {alarm_id!r} has already ended")

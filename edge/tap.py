"""A bus consumer that logs what passes: alarms and sessions at INFO, readings and alarm
refreshes at DEBUG.

Readings are logged by observation code and value only: never a patient identifier (the
Reading model has none).
"""

from __future__ import annotations

import logging

from edge.alarms.models import AlarmEvent, SessionEvent
from edge.bus import Subscription
from edge.device_state import DeviceState
from edge.items import AlarmRefresh, BedRemoved, DeviceRemoved, OutputItem

__all__ = ["log_bus_items"]

log = logging.getLogger(__name__)


async def log_bus_items(items: Subscription[OutputItem]) -> None:
    """Log every item of ``items`` until the bus closes."""
    async for item in items:
        if isinstance(item, AlarmEvent):
            _log_alarm(item)
            continue
        if isinstance(item, SessionEvent):
            log.info(
                "treatment session",
                extra={"bed": item.session.bed, "change": item.change, "phase": item.session.phase},
            )
            continue
        if isinstance(item, AlarmRefresh):
            log.debug("open alarms republished", extra={"count": len(item.alarms)})
            continue
        if isinstance(item, DeviceRemoved):
            log.info("device removed", extra={"device": item.device_id, "bed": item.bed})
            continue
        if isinstance(item, BedRemoved):
            log.info("bed removed", extra={"bed": item.bed})
            continue
        if isinstance(item, DeviceState) or not log.isEnabledFor(logging.DEBUG):
            continue
        values = {
            obs.code: obs.value if obs.state == "valid" else obs.state for obs in item.observations
        }
        log.debug(
            "reading",
            extra={"device": item.device_id, "bed": item.bed, "kind": item.kind, **values},
        )


def _log_alarm(event: AlarmEvent) -> None:
    alarm = event.alarm
    log.info(
        "alarm",
        extra={
            "transition": event.transition,
            "alarm": alarm.alarm_id,
            "rule": alarm.rule,
            "priority": alarm.priority,
            "state": alarm.state,
            "bed": alarm.bed,
            "device": alarm.device_id,
            "by": alarm.acknowledged_by if event.transition == "acknowledged" else None,
            "via": alarm.acknowledged_via if event.transition == "acknowledged" else None,
        },
    )

"""A bus consumer that logs what passes: device states at INFO, readings at DEBUG.

Readings are logged by observation code and value only: never a patient identifier (the
Reading model has none).
"""

from __future__ import annotations

import logging

from edge.bus import Subscription
from edge.device_state import DeviceState
from edge.session import BusItem

__all__ = ["log_bus_items"]

log = logging.getLogger(__name__)


async def log_bus_items(items: Subscription[BusItem]) -> None:
    """Log every item of ``items`` until the bus closes."""
    async for item in items:
        if isinstance(item, DeviceState) or not log.isEnabledFor(logging.DEBUG):
            continue
        values = {
            obs.code: obs.value if obs.state == "valid" else obs.state for obs in item.observations
        }
        log.debug(
            "reading",
            extra={"device": item.device_id, "bed": item.bed, "kind": item.kind, **values},
        )

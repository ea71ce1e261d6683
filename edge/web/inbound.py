"""What the dashboard reads from the broker: topics of every site under the prefix.

The dashboard subscribes to ``{prefix}/#`` and so sees every edge on the broker. Of the
contract's topics (``edge.publish.topics``) it keeps::

    {site}/edges/{edge_id}/status                    edge online / offline / lost
    {site}/edges/{edge_id}/alarms                    digest of the edge's open alarm ids
    {site}/edges/{edge_id}/config                    config in force: limits per bed
    {site}/beds/{bed}/devices/{device_id}/telemetry  one Reading
    {site}/beds/{bed}/devices/{device_id}/state      device connection
    {site}/beds/{bed}/alarms/{alarm_id}              current alarm; ``ended``, then emptied
    {site}/beds/{bed}/session                        treatment session
    {site}/alarm-log                                 every alarm transition (history only)
    {site}/config-log                                every applied reload (history only)

and ignores the rest (acknowledgements, anything unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Inbound", "InboundKind", "parse_topic"]

InboundKind = Literal[
    "status",
    "alarm_digest",
    "edge_config",
    "telemetry",
    "device_state",
    "alarm",
    "session",
    "alarm_log",
    "config_log",
]


@dataclass(frozen=True, slots=True)
class Inbound:
    """A topic the dashboard reads, with the names it carries."""

    kind: InboundKind
    site: str
    bed: str = ""
    device_id: str = ""
    alarm_id: str = ""
    edge_id: str = ""


def parse_topic(prefix: str, topic: str) -> Inbound | None:
    """The kind and names of ``topic`` under ``prefix``, or ``None`` for a topic to ignore."""
    head = f"{prefix}/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if not all(parts):
        return None
    match parts:
        case [site, "edges", edge_id, "status"]:
            return Inbound("status", site, edge_id=edge_id)
        case [site, "edges", edge_id, "alarms"]:
            return Inbound("alarm_digest", site, edge_id=edge_id)
        case [site, "edges", edge_id, "config"]:
            return Inbound("edge_config", site, edge_id=edge_id)
        case [site, "beds", bed, "devices", device_id, "telemetry"]:
            return Inbound("telemetry", site, bed=bed, device_id=device_id)
        case [site, "beds", bed, "devices", device_id, "state"]:
            return Inbound("device_state", site, bed=bed, device_id=device_id)
        case [site, "beds", bed, "alarms", alarm_id]:
            return Inbound("alarm", site, bed=bed, alarm_id=alarm_id)
        case [site, "beds", bed, "session"]:
            return Inbound("session", site, bed=bed)
        case [site, "alarm-log"]:
            return Inbound("alarm_log", site)
        case [site, "config-log"]:
            return Inbound("config_log", site)
    return None

"""The MQTT topic scheme of the contract, in one place.

All topics live under ``{prefix}/{site}``::

    edges/{edge_id}/status                  retained  edge online / offline / lost
    edges/{edge_id}/alarms                  retained  digest: the edge's open alarm ids
    edges/{edge_id}/config                  retained  config hash, load time, limits per bed
    beds/{bed}/devices/{device_id}/telemetry          one Reading
    beds/{bed}/devices/{device_id}/state    retained  connection and counters
    beds/{bed}/alarms/{alarm_id}            retained  current alarm; ``ended``, then emptied
    beds/{bed}/alarms/{alarm_id}/ack                  signed command from a dashboard
    beds/{bed}/session                      retained  treatment session
    alarm-log                                         every alarm transition, in order
    config-log                                        every applied reload, with its diff

Ids are restricted by the config to letters, digits, ``_ . -``, so they never contain ``/``,
``+`` or ``#``. No topic ever carries a patient identifier.

An acknowledgement (:class:`~edge.publish.payloads.AckCommand`: ``by``, ``at``,
``dashboard``, ``nonce``, ``sig``) is signed over its fields and its target (site, bed and
alarm id from this topic; :mod:`edge.publish.ack_signing`), so it cannot be moved to another
alarm; the edge refuses it unless the signature, the time and the nonce check out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AckTopic", "Topics"]


@dataclass(frozen=True, slots=True)
class AckTopic:
    """The bed and alarm named by an acknowledgement topic."""

    bed: str
    alarm_id: str


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names for one site under ``prefix``."""

    prefix: str
    site: str

    @property
    def root(self) -> str:
        """``{prefix}/{site}``."""
        return f"{self.prefix}/{self.site}"

    def status(self, edge_id: str) -> str:
        """Retained edge status."""
        return f"{self.root}/edges/{edge_id}/status"

    def alarm_digest(self, edge_id: str) -> str:
        """Retained digest of the alarms of one edge that have not ended."""
        return f"{self.root}/edges/{edge_id}/alarms"

    def edge_config(self, edge_id: str) -> str:
        """Retained config in force on one edge: its hash, load time, limits per bed."""
        return f"{self.root}/edges/{edge_id}/config"

    def config_log(self) -> str:
        """Every applied reload of the site's edges: who, when, the diff."""
        return f"{self.root}/config-log"

    def telemetry(self, bed: str, device_id: str) -> str:
        """One reading of one device."""
        return f"{self.root}/beds/{bed}/devices/{device_id}/telemetry"

    def device_state(self, bed: str, device_id: str) -> str:
        """Retained device connection state."""
        return f"{self.root}/beds/{bed}/devices/{device_id}/state"

    def alarm(self, bed: str, alarm_id: str) -> str:
        """Retained current state of one alarm."""
        return f"{self.root}/beds/{bed}/alarms/{alarm_id}"

    def alarm_ack(self, bed: str, alarm_id: str) -> str:
        """Where a dashboard sends its signed acknowledgement of one alarm."""
        return f"{self.alarm(bed, alarm_id)}/ack"

    def ack_filter(self) -> str:
        """Subscription filter for every acknowledgement on this site."""
        return f"{self.root}/beds/+/alarms/+/ack"

    def alarm_log(self) -> str:
        """Every alarm transition of the site, in order."""
        return f"{self.root}/alarm-log"

    def session(self, bed: str) -> str:
        """Retained treatment session of one bed."""
        return f"{self.root}/beds/{bed}/session"

    def parse_ack(self, topic: str) -> AckTopic | None:
        """The bed and alarm of an acknowledgement topic, or ``None`` if it is not one."""
        head = f"{self.root}/beds/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if len(parts) != 4 or parts[1] != "alarms" or parts[3] != "ack":
            return None
        if not parts[0] or not parts[2]:
            return None
        return AckTopic(bed=parts[0], alarm_id=parts[2])

"""The live view of every edge on the broker, built from MQTT messages: pure, no I/O, no clock.

:meth:`LiveState.apply` takes one message (topic and payload bytes) and returns the changes
the browsers must see: a bed, an alarm, an edge (or their removal). Payloads are validated
with the contract's own models (``edge.publish.payloads``); an invalid one is counted and
skipped, never half applied.

Alarms: the retained alarm topic holds the current state; an empty payload (or state
``ended``) removes it. An ended alarm's id is never reused, so a late duplicate of it is
ignored (the last ``TOMBSTONES`` ended ids are remembered), and an update older than the one
held is ignored. After a reconnect the broker sends every retained alarm again, but nothing
for an alarm that ended meanwhile: :meth:`LiveState.begin_resync` and
:meth:`LiveState.end_resync` remove the alarms the broker no longer holds.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from edge.publish.payloads import (
    AlarmPayload,
    DeviceStatePayload,
    PumpTelemetry,
    SessionPayload,
    StatusPayload,
    Telemetry,
    VitalsTelemetry,
)
from edge.web.inbound import Inbound, parse_topic
from edge.web.views import BedView, JsonDict, alarm_json, alarm_order, edge_json

__all__ = ["Change", "ChangeType", "LiveState"]

log = logging.getLogger(__name__)

TOMBSTONES = 10_000
WARNED_TOPICS = 1_000

ChangeType = Literal["bed", "alarm", "alarm_removed", "edge", "edge_removed", "feed"]
_TELEMETRY: TypeAdapter[PumpTelemetry | VitalsTelemetry] = TypeAdapter(Telemetry)


@dataclass(frozen=True, slots=True)
class Change:
    """One change for the browsers: an event type and its JSON data."""

    type: ChangeType
    data: JsonDict


class LiveState:
    """Beds, alarms and edges of every site under ``prefix``, and the broker connection."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.beds: dict[str, BedView] = {}
        self.alarms: dict[str, JsonDict] = {}
        self.edges: dict[str, JsonDict] = {}
        self.feed: JsonDict = {"connected": False, "since": None}
        self.received = 0
        self.rejected = 0
        self._alarm_ts: dict[str, datetime] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._unconfirmed: set[str] | None = None
        self._warned: set[str] = set()
        self._handlers: dict[str, Callable[[Inbound, bytes], list[Change]]] = {
            "status": self._status,
            "telemetry": self._telemetry,
            "device_state": self._device_state,
            "session": self._session,
            "alarm": self._alarm,
        }

    def apply(self, topic: str, payload: bytes) -> list[Change]:
        """Apply one MQTT message; the changes it made."""
        inbound = parse_topic(self.prefix, topic)
        if inbound is None:
            return []
        self.received += 1
        try:
            return self._handlers[inbound.kind](inbound, payload)
        except ValidationError as exc:
            self.rejected += 1
            level = logging.DEBUG if topic in self._warned else logging.WARNING
            if len(self._warned) < WARNED_TOPICS:
                self._warned.add(topic)
            log.log(level, "invalid payload ignored", extra={"topic": topic, "error": str(exc)})
            return []

    def set_feed(self, connected: bool, at: datetime) -> list[Change]:
        """The dashboard's own broker connection changed at ``at``."""
        self.feed = {"connected": connected, "since": at.isoformat()}
        return [Change("feed", dict(self.feed))]

    def begin_resync(self) -> None:
        """A new broker connection: what the broker still holds will come again."""
        self._unconfirmed = set(self.alarms)

    def end_resync(self) -> list[Change]:
        """Remove the alarms the broker did not send again since :meth:`begin_resync`."""
        gone, self._unconfirmed = self._unconfirmed or set(), None
        return [change for key in sorted(gone) for change in self._remove_alarm(key)]

    def sorted_alarms(self) -> list[JsonDict]:
        """Every shown alarm, highest priority first, then the newest first."""
        return sorted(self.alarms.values(), key=alarm_order)

    def find_alarms(self, alarm_id: str, site: str | None = None) -> list[JsonDict]:
        """The shown alarms with ``alarm_id`` (in ``site``, if given)."""
        return [
            alarm
            for alarm in self.alarms.values()
            if alarm["alarm_id"] == alarm_id and site in (None, alarm["site"])
        ]

    def bed_list(self) -> list[JsonDict]:
        """Every bed, by site and name."""
        return [self.beds[key].to_json() for key in sorted(self.beds)]

    def edge_list(self) -> list[JsonDict]:
        """Every edge, by site and id."""
        return [self.edges[key] for key in sorted(self.edges)]

    def snapshot(self) -> JsonDict:
        """The whole view."""
        return {
            "beds": self.bed_list(),
            "alarms": self.sorted_alarms(),
            "edges": self.edge_list(),
            "feed": dict(self.feed),
        }

    def _bed(self, site: str, bed: str) -> BedView:
        key = f"{site}/{bed}"
        if key not in self.beds:
            self.beds[key] = BedView(site, bed)
        return self.beds[key]

    def _status(self, inbound: Inbound, payload: bytes) -> list[Change]:
        key = f"{inbound.site}/{inbound.edge_id}"
        if not payload:
            return [Change("edge_removed", {"key": key})] if self.edges.pop(key, None) else []
        self.edges[key] = edge_json(inbound.site, StatusPayload.model_validate_json(payload))
        return [Change("edge", self.edges[key])]

    def _telemetry(self, inbound: Inbound, payload: bytes) -> list[Change]:
        if not payload:
            return []
        reading = _TELEMETRY.validate_json(payload)
        bed = self._bed(inbound.site, inbound.bed)
        if isinstance(reading, PumpTelemetry):
            bed.apply_pump(reading)
        else:
            bed.apply_vitals(reading)
        bed.edge_id = reading.edge_id
        return [Change("bed", bed.to_json())]

    def _device_state(self, inbound: Inbound, payload: bytes) -> list[Change]:
        state = DeviceStatePayload.model_validate_json(payload) if payload else None
        bed = self._bed(inbound.site, inbound.bed)
        bed.apply_device_state(inbound.device_id, state)
        if state is not None:
            bed.edge_id = state.edge_id
        return [Change("bed", bed.to_json())]

    def _session(self, inbound: Inbound, payload: bytes) -> list[Change]:
        session = SessionPayload.model_validate_json(payload) if payload else None
        bed = self._bed(inbound.site, inbound.bed)
        bed.apply_session(session)
        if session is not None:
            bed.edge_id = session.edge_id
        return [Change("bed", bed.to_json())]

    def _alarm(self, inbound: Inbound, payload: bytes) -> list[Change]:
        key = f"{inbound.site}/{inbound.alarm_id}"
        if self._unconfirmed is not None:
            self._unconfirmed.discard(key)
        if not payload:
            return self._remove_alarm(key)
        alarm = AlarmPayload.model_validate_json(payload)
        if key in self._ended or alarm.ts < self._alarm_ts.get(key, alarm.ts):
            return []  # a late duplicate of an ended alarm, or an older update
        if alarm.state == "ended":
            return self._remove_alarm(key)
        changes = []
        bed_key = f"{inbound.site}/{inbound.bed}"
        if bed_key not in self.beds:
            changes.append(Change("bed", self._bed(inbound.site, inbound.bed).to_json()))
        view = alarm_json(inbound.site, alarm)
        if self.alarms.get(key) != view:
            self.alarms[key] = view
            self._alarm_ts[key] = alarm.ts
            changes.append(Change("alarm", view))
        return changes

    def _remove_alarm(self, key: str) -> list[Change]:
        self._ended[key] = None
        while len(self._ended) > TOMBSTONES:
            self._ended.popitem(last=False)
        self._alarm_ts.pop(key, None)
        if self.alarms.pop(key, None) is None:
            return []
        return [Change("alarm_removed", {"key": key})]

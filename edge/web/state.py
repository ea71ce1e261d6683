"""The live view of every edge on the broker, built from MQTT messages: pure, no I/O, no clock.

:meth:`LiveState.apply` takes one message (topic and payload bytes) and returns the changes
the browsers must see: a bed, an alarm, an edge (or their removal). Payloads are validated
with the contract's own models (``edge.publish.payloads``); an invalid one is counted and
skipped, never half applied.

Alarms: the retained alarm topic holds an alarm's current state, and each edge keeps a
retained digest of its open alarm ids (``edges/{edge_id}/alarms``). Messages of one edge are
ordered by ``seq`` within its ``session``; across sessions (the edge restarted) by ``ts``. An
alarm is shown while its newest message is not ``ended`` and no newer digest of its edge
leaves it out. So an alarm leaves the view:

- when its edge publishes it in state ``ended``, or
- when a digest of its edge, newer than the alarm's newest message, does not list it (an end
  the dashboard missed while offline, or an alarm the edge no longer holds after a restart);
  an alarm raised after that digest is not touched by it;

and never on an empty payload: that only clears the broker's copy (the edge sends ``ended``
first), and anybody may publish one, so it is ignored, as is an erased digest. The edge
republishes every open alarm and its digest at a steady interval, so a dashboard that missed
or lost an alarm shows it again, with no reconnect needed. A removed alarm's id is remembered
(the last ``TOMBSTONES``) with the version that removed it: a late or duplicate copy, no newer
than that, does not bring it back; a newer message does, and a newer digest that lists the id
forgets the removal. An update no newer than the one held is ignored. Payloads that can be
forged (a full ``ended`` with a made-up ``seq``) are kept out by the broker's ACLs.

Retained sessions and device states follow the same order: a copy no newer than the one held
is ignored (a bridge draining its backlog may deliver it late); an empty one always applies.
Readings keep the newest value by measurement time (:mod:`edge.web.views`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ValidationError

from edge.publish.payloads import (
    AlarmDigestPayload,
    AlarmLogPayload,
    AlarmPayload,
    ConfigLogPayload,
    DeviceStatePayload,
    EdgeConfigPayload,
    PumpTelemetry,
    SessionPayload,
    StatusPayload,
    read_payload,
    read_telemetry,
)
from edge.web.inbound import Inbound, parse_topic
from edge.web.views import BedView, JsonDict, alarm_json, alarm_order, edge_json

__all__ = ["Change", "ChangeType", "LiveState"]

log = logging.getLogger(__name__)

TOMBSTONES = 10_000
WARNED_TOPICS = 1_000

ChangeType = Literal["bed", "bed_removed", "alarm", "alarm_removed", "edge", "edge_removed", "feed"]


ENVELOPE_FIELDS = frozenset({"schema", "session", "seq", "ts"})


@dataclass(frozen=True, slots=True)
class _Version:
    """Where a message stands in the stream of its edge (``{site}/{edge_id}``)."""

    edge: str
    session: str
    seq: int
    ts: datetime

    def after(self, other: _Version) -> bool:
        """Whether this message is newer than ``other`` of the same edge: by ``seq`` in one
        session, by ``ts`` across sessions (a restart)."""
        if self.session == other.session:
            return self.seq > other.seq
        return self.ts > other.ts


@dataclass(frozen=True, slots=True)
class _Digest:
    """An edge's newest digest: its version and the keys (``{site}/{alarm_id}``) it lists."""

    version: _Version
    listed: frozenset[str]


@dataclass(frozen=True, slots=True)
class Change:
    """One change for the browsers: an event type and its JSON data."""

    type: ChangeType
    data: JsonDict


class LiveState:
    """Beds, alarms and edges of every site under ``prefix``, and the broker connection."""

    def __init__(
        self,
        prefix: str,
        observe: Callable[[Inbound, BaseModel], None] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """``observe`` is handed every valid telemetry, session and alarm payload (the
        history recorder); ``labels`` (``{site}/{bed}`` -> label) name beds whose sessions
        carry no label."""
        self.prefix = prefix
        self._observe = observe or (lambda _inbound, _payload: None)
        self._observing = observe is not None
        self._labels = dict(labels or {})
        self.beds: dict[str, BedView] = {}
        self.alarms: dict[str, JsonDict] = {}
        self.edges: dict[str, JsonDict] = {}
        self.feed: JsonDict = {"connected": False, "since": None}
        self.limits: dict[str, JsonDict] = {}  # {site}/{bed} -> the alarm limits in force
        self.received = 0
        self.rejected = 0
        self._versions: dict[str, _Version] = {}
        self._state_versions: dict[str, _Version] = {}  # retained session/device state
        self._emptied: set[str] = set()  # beds their edge cleared, kept only by an open alarm
        self._ended: OrderedDict[str, _Version] = OrderedDict()
        self._digests: dict[str, _Digest] = {}
        self._warned: set[str] = set()
        self._handlers: dict[str, Callable[[Inbound, bytes], list[Change]]] = {
            "status": self._status,
            "telemetry": self._telemetry,
            "device_state": self._device_state,
            "session": self._session,
            "alarm": self._alarm,
            "alarm_digest": self._digest,
            "alarm_log": self._alarm_log,
            "edge_config": self._edge_config,
            "config_log": self._config_log,
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
            self.beds[key] = BedView(site, bed, label=self._labels.get(key))
        return self.beds[key]

    def _status(self, inbound: Inbound, payload: bytes) -> list[Change]:
        key = f"{inbound.site}/{inbound.edge_id}"
        if not payload:
            return [Change("edge_removed", {"key": key})] if self.edges.pop(key, None) else []
        self.edges[key] = edge_json(inbound.site, read_payload(StatusPayload, payload))
        return [Change("edge", self.edges[key])]

    def _edge_config(self, inbound: Inbound, payload: bytes) -> list[Change]:
        """An edge's config in force: the alarm limits per bed and since when, kept for the
        bed's larger view (read on request: no change goes to the event streams)."""
        if not payload:
            return []
        config = read_payload(EdgeConfigPayload, payload)
        for bed, limits in config.beds.items():
            key = f"{inbound.site}/{bed}"
            held = self.limits.get(key)
            if (
                held is not None
                and held["edge_id"] == config.edge_id
                and datetime.fromisoformat(held["loaded_at"]) > config.loaded_at
            ):
                continue  # an older copy
            self.limits[key] = {
                "site": inbound.site,
                "bed": bed,
                "edge_id": config.edge_id,
                "config_hash": config.config_hash,
                "loaded_at": config.loaded_at.isoformat(),
                "since": limits.since.isoformat(),
                "limits": limits.limits.model_dump(mode="json"),
            }
        return []

    def _telemetry(self, inbound: Inbound, payload: bytes) -> list[Change]:
        if not payload:
            return []
        reading = read_telemetry(payload)
        self._observe(inbound, reading)
        bed = self._bed(inbound.site, inbound.bed)
        if isinstance(reading, PumpTelemetry):
            bed.apply_pump(reading)
        else:
            bed.apply_vitals(reading)
        bed.edge_id = reading.edge_id
        return [Change("bed", bed.to_json())]

    def _device_state(self, inbound: Inbound, payload: bytes) -> list[Change]:
        state = read_payload(DeviceStatePayload, payload) if payload else None
        key = f"{inbound.site}/{inbound.bed}/{inbound.device_id}"
        if self._older_state(key, inbound, state):
            return []
        if state is None and f"{inbound.site}/{inbound.bed}" not in self.beds:
            return []  # nothing held to clear
        bed = self._bed(inbound.site, inbound.bed)
        bed.apply_device_state(inbound.device_id, state)
        if state is None:
            return self._unless_gone(bed)
        bed.edge_id = state.edge_id
        return [Change("bed", bed.to_json())]

    def _session(self, inbound: Inbound, payload: bytes) -> list[Change]:
        session = read_payload(SessionPayload, payload) if payload else None
        if self._older_state(f"{inbound.site}/{inbound.bed}", inbound, session):
            return []
        if session is not None:
            self._observe(inbound, session)
        elif f"{inbound.site}/{inbound.bed}" not in self.beds:
            return []  # nothing held to clear
        bed = self._bed(inbound.site, inbound.bed)
        bed.apply_session(session)
        if session is None:
            return self._unless_gone(bed)
        bed.edge_id = session.edge_id
        return [Change("bed", bed.to_json())]

    def _unless_gone(self, bed: BedView) -> list[Change]:
        """After a retained device state or session was cleared: the bed, or ``bed_removed``
        when its edge has cleared all it retained of it (a reload removed the bed: no device,
        no session) and none of its alarms is shown (a latched one keeps its card until it
        ends); a later message brings it back."""
        if bed.devices or bed.pumps or bed.session is not None:
            self._emptied.discard(bed.key)
            return [Change("bed", bed.to_json())]
        if self._alarmed(bed):
            self._emptied.add(bed.key)  # gone once its last alarm ends
            return [Change("bed", bed.to_json())]
        self._emptied.discard(bed.key)
        del self.beds[bed.key]
        return [Change("bed_removed", {"key": bed.key})]

    def _alarmed(self, bed: BedView) -> bool:
        """Whether an alarm of ``bed`` is shown."""
        return any(
            alarm["bed"] == bed.bed and alarm["site"] == bed.site for alarm in self.alarms.values()
        )

    def _alarm(self, inbound: Inbound, payload: bytes) -> list[Change]:
        if not payload:
            return []  # the broker's copy cleared: never an end on its own
        alarm = read_payload(AlarmPayload, payload)
        if alarm.alarm_id != inbound.alarm_id or alarm.bed != inbound.bed:
            self.rejected += 1
            return []
        self._observe(inbound, alarm)
        key = f"{inbound.site}/{inbound.alarm_id}"
        version = _Version(f"{inbound.site}/{alarm.edge_id}", alarm.session, alarm.seq, alarm.ts)
        held = self._versions.get(key) or self._ended.get(key)
        if held is not None and not version.after(held):
            return []  # a duplicate, an older update, or a late copy of a removed alarm
        if alarm.state == "ended" or self._left_out(key, version):
            return self._remove_alarm(key, version)
        self._ended.pop(key, None)
        changes = []
        bed_key = f"{inbound.site}/{inbound.bed}"
        if bed_key not in self.beds:
            changes.append(Change("bed", self._bed(inbound.site, inbound.bed).to_json()))
        view = alarm_json(inbound.site, alarm)
        previous = self.alarms.get(key)
        self.alarms[key], self._versions[key] = view, version
        if previous is None or _content(previous) != _content(view):
            changes.append(Change("alarm", view))
        return changes

    def _alarm_log(self, inbound: Inbound, payload: bytes) -> list[Change]:
        """A transition of the alarm log: for the history only (the retained alarm topics
        drive the view)."""
        if payload and self._observing:
            self._observe(inbound, read_payload(AlarmLogPayload, payload))
        return []

    def _config_log(self, inbound: Inbound, payload: bytes) -> list[Change]:
        """An applied reload of an edge's config: for the history only (its limit changes
        go into the session records)."""
        if payload and self._observing:
            self._observe(inbound, read_payload(ConfigLogPayload, payload))
        return []

    def _digest(self, inbound: Inbound, payload: bytes) -> list[Change]:
        if not payload:
            return []  # erased: the edge publishes it again
        digest = read_payload(AlarmDigestPayload, payload)
        if digest.edge_id != inbound.edge_id:
            self.rejected += 1
            return []
        edge = f"{inbound.site}/{inbound.edge_id}"
        version = _Version(edge, digest.session, digest.seq, digest.ts)
        held = self._digests.get(edge)
        if held is not None and held.version.after(version):
            return []  # older than the digest held
        listed = frozenset(f"{inbound.site}/{item.alarm_id}" for item in digest.open)
        self._digests[edge] = _Digest(version, listed)
        for key in listed:
            removed = self._ended.get(key)
            if removed is not None and version.after(removed):
                del self._ended[key]  # open after all: its next message shows it again
        gone = [
            key
            for key, held_version in self._versions.items()
            if held_version.edge == edge and key not in listed and version.after(held_version)
        ]
        return [change for key in sorted(gone) for change in self._remove_alarm(key, version)]

    def _older_state(
        self, key: str, inbound: Inbound, payload: DeviceStatePayload | SessionPayload | None
    ) -> bool:
        """Whether ``payload`` (a retained state of ``key``) is no newer than the one held:
        a broker may deliver a late copy after a newer one (a bridge's backlog draining). An
        empty payload (the broker's copy cleared) always applies and forgets the version."""
        if payload is None:
            self._state_versions.pop(key, None)
            return False
        edge = f"{inbound.site}/{payload.edge_id}"
        version = _Version(edge, payload.session, payload.seq, payload.ts)
        held = self._state_versions.get(key)
        if held is not None and held.edge == edge and not version.after(held):
            return True
        self._state_versions[key] = version
        return False

    def _left_out(self, key: str, version: _Version) -> bool:
        """Whether a digest newer than ``version`` of the alarm's edge does not list it."""
        digest = self._digests.get(version.edge)
        return digest is not None and key not in digest.listed and digest.version.after(version)

    def _remove_alarm(self, key: str, version: _Version) -> list[Change]:
        self._ended[key] = version
        self._ended.move_to_end(key)
        while len(self._ended) > TOMBSTONES:
            self._ended.popitem(last=False)
        self._versions.pop(key, None)
        alarm = self.alarms.pop(key, None)
        if alarm is None:
            return []
        removed = [Change("alarm_removed", {"key": key})]
        bed = self.beds.get(f"{alarm['site']}/{alarm['bed']}")
        if bed is None or bed.key not in self._emptied:
            return removed
        return removed + [c for c in self._unless_gone(bed) if c.type == "bed_removed"]


def _content(view: JsonDict) -> JsonDict:
    """An alarm's view without its envelope: a refresh that changes nothing else is no
    change for the browsers."""
    return {name: value for name, value in view.items() if name not in ENVELOPE_FIELDS}

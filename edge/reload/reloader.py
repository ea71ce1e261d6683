"""A reload: re-read the config file, check it as ``config check`` does, apply the difference
to the running daemon, audit it.

Applied at once: alarm limits and bed orders (the next evaluation uses them), beds (a removed
bed's open treatment session closes and its retained session is cleared), devices (a removed
device's link stops, its alarms end or latch and its retained state is cleared from the broker,
so dashboards forget it; an added one's link starts; a changed one's link is reopened alone),
visit numbers and EUI-64s (the clinical outputs' next messages). Links whose devices did not
change keep running untouched. A config that fails its checks, or changes the edge's
identity, is rejected whole: nothing changes, the errors go back to the caller, the log and a
metric. Environment variables are the daemon's own, fixed at its start: settings taken from them
change only by a restart.

Every applied reload is an audit record (:class:`ConfigChangeRecord`) kept in the alarm log and
published on ``config-log``; the retained ``edges/{edge_id}/config`` then says which config
and which limits are in force. Reloads run one at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from edge.alarm_stage import AlarmStage
from edge.alarms.devices import DeviceInfo
from edge.alarms.log_guard import GuardedAlarmLog
from edge.bus import Bus
from edge.clock import Clock
from edge.config import Config, ConfigError, Problem, load_config
from edge.forward.output import ForwardOutput
from edge.items import BedRemoved, DeviceRemoved, InputItem
from edge.metrics import EdgeMetrics
from edge.publish.messages import MessageClass, NewMessage
from edge.publish.payloads import BedLimits, ConfigLogPayload, EdgeConfigPayload, EnvelopeFactory
from edge.publish.topics import Topics
from edge.reload.changes import ChangedBy, ConfigChangeRecord
from edge.reload.diff import Plan, limits_of, plan_reload
from edge.reload.links import Links

__all__ = ["Reloader", "file_hash"]

log = logging.getLogger(__name__)

STOP_LINK_TIMEOUT_S = 3.0


def file_hash(path: Path) -> str:
    """SHA-256 (hex) of the file at ``path``; ``""`` when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class Reloader:
    """Reloads ``path`` into the running daemon's parts."""

    def __init__(
        self,
        path: Path,
        config: Config,
        *,
        clock: Clock,
        links: Links,
        alarms: AlarmStage,
        alarm_log: GuardedAlarmLog,
        store: Callable[[Callable[[], Sequence[NewMessage]]], Awaitable[None]],
        topics: Topics,
        envelopes: EnvelopeFactory,
        metrics: EdgeMetrics,
        inputs: Bus[InputItem] | None = None,
        outputs: Sequence[ForwardOutput] = (),
    ) -> None:
        self.path = path
        self.config = config
        self._clock = clock
        self._links = links
        self._alarms = alarms
        self._alarm_log = alarm_log
        self._store = store  # OutboxWriter.store: envelope seq numbers in storage order
        self._topics = topics
        self._envelopes = envelopes
        self._metrics = metrics
        self._inputs = inputs  # the daemon's input bus: a removed device's state is cleared
        self._outputs = outputs  # the HL7 and FHIR outputs: visit numbers, EUI-64s
        self.config_hash = file_hash(path)
        self.loaded_at = clock.now()
        self._since = dict.fromkeys(config.beds, self.loaded_at)
        self._pending_restart: tuple[str, ...] = ()
        self._lock = asyncio.Lock()
        metrics.set_config(self.config_hash, self.loaded_at)

    async def publish_state(self, cls: MessageClass = MessageClass.ALARM) -> None:
        """Store the retained config message (at start and after each applied reload)."""
        await self._store(lambda: [self._state_message(cls)])

    async def refresh_state(self) -> None:
        """Store the retained config message again, between reloads: a copy the broker lost,
        or an older one a reordering left behind, heals (its ``ts`` stays the load's)."""
        async with self._lock:
            try:
                await self.publish_state(MessageClass.STATE)  # a copy: dropped first when full
            except Exception:  # a boundary: a bug here must not stop the monitoring
                log.exception("config state not republished")

    def _state_message(self, cls: MessageClass) -> NewMessage:
        payload = EdgeConfigPayload.model_validate(
            {
                **self._envelopes.fields(EdgeConfigPayload, self.loaded_at),
                "config_hash": self.config_hash,
                "loaded_at": self.loaded_at,
                "beds": {
                    bed: BedLimits(
                        limits=limits_of(self.config, bed),
                        since=self._since.get(bed, self.loaded_at),
                    )
                    for bed in self.config.beds
                },
                "pending_restart": self._pending_restart,
            }
        )
        topic = self._topics.edge_config(self.config.edge_id)
        return NewMessage(topic, payload.to_json(), cls, retain=True)

    async def reload(self, by: ChangedBy) -> dict[str, Any]:
        """Reload the file; the answer for the caller: ``result`` ``applied``, ``unchanged``
        or ``rejected`` (with ``errors``, each located as ``config check`` prints them), or
        ``failed`` (a bug part way: logged with its traceback, counted)."""
        async with self._lock:
            try:
                return await self._reload(by)
            except Exception:  # a boundary: a bug in a reload must not stop the monitoring
                log.exception("config reload failed", extra={"by": _who(by)})
                self._metrics.count_reload("failed")
                return {
                    "result": "failed",
                    "path": str(self.path),
                    "errors": ["the reload failed part way (see the daemon's log): restart it"],
                }

    async def _reload(self, by: ChangedBy) -> dict[str, Any]:
        config_hash = await asyncio.to_thread(file_hash, self.path)
        try:
            new = await asyncio.to_thread(load_config, self.path)
        except ConfigError as exc:
            return self._reject(list(exc.problems), by)
        plan = plan_reload(self.config, new)
        if plan.refused:
            return self._reject(list(plan.refused), by)
        if not plan.changes.applied_anything and not plan.changes.needs_restart:
            self.config_hash = config_hash
            self._metrics.set_config(config_hash, self._clock.now())
            log.info("config reloaded: no change", extra={"by": _who(by)})
            return {"result": "unchanged", "config_hash": config_hash}
        await self._apply(plan)
        return await self._audit(plan, config_hash, by)

    def _reject(self, problems: list[Problem], by: ChangedBy) -> dict[str, Any]:
        self._metrics.count_reload("rejected")
        log.warning(
            "config reload rejected; the running config stays",
            extra={
                "path": str(self.path),
                "by": _who(by),
                "errors": len(problems),
                "first": str(problems[0]) if problems else "",
            },
        )
        return {
            "result": "rejected",
            "path": str(self.path),
            "errors": [str(problem) for problem in problems],
        }

    async def _apply(self, plan: Plan) -> None:
        new = plan.config
        engine = self._alarms.engine
        orders = {bed: b.order for bed, b in new.beds.items() if b.order is not None}
        engine.reconfigure(new.alarms, orders, new.beds)
        for devices in plan.stop:
            await self._links.stop(devices, STOP_LINK_TIMEOUT_S)
        await self._alarms.remove_devices(plan.removed)
        known = {d.id: d for d in self.config.devices}
        if self._inputs is not None:  # after the stopped links' last items
            for device_id in plan.removed:
                await self._inputs.publish(DeviceRemoved(device_id, known[device_id].bed))
            for bed in plan.changes.beds_removed:  # its session closes, then is cleared
                await self._inputs.publish(BedRemoved(bed))
        for device in plan.added:
            engine.add_device(DeviceInfo(device.id, device.bed, device.timeout_s))
        for devices in plan.start:
            for device in devices:
                if device.id in known and known[device.id].bed == device.bed:
                    engine.reopen(device.id)
            self._links.start(devices)
        for output in self._outputs:
            output.reidentify(new, plan.changes.visit_numbers_changed)
        self.config = new
        self._metrics.reconfigure(new)

    async def _audit(self, plan: Plan, config_hash: str, by: ChangedBy) -> dict[str, Any]:
        now = self._clock.now()
        changes = plan.changes
        for bed in {c.bed for c in changes.limits} | set(changes.beds_added):
            self._since[bed] = now
        self._pending_restart = tuple(
            dict.fromkeys([*self._pending_restart, *changes.needs_restart])
        )
        record = ConfigChangeRecord(
            at=now, by=by, config_hash=config_hash, previous_hash=self.config_hash, changes=changes
        )
        self.config_hash, self.loaded_at = config_hash, now
        self._metrics.set_config(config_hash, now)
        self._metrics.count_reload("applied")
        if not self._alarm_log.append_config_change(record):
            log.error("config change not kept in the alarm log", extra={"by": _who(by)})

        def log_message() -> list[NewMessage]:
            payload = ConfigLogPayload.model_validate(
                {**self._envelopes.fields(ConfigLogPayload, now), **dict(record)}
            )
            topic = self._topics.config_log()
            return [NewMessage(topic, payload.to_json(), MessageClass.ALARM)]

        await self._store(log_message)
        await self.publish_state()
        summary = changes.summary()
        log.info(
            "config reloaded",
            extra={"by": _who(by), "config_hash": config_hash[:12], "changes": "; ".join(summary)},
        )
        return {
            "result": "applied",
            "config_hash": config_hash,
            "changes": summary,
            "needs_restart": list(changes.needs_restart),
        }


def _who(by: ChangedBy) -> str:
    return by.user or by.means

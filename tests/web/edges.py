"""A simulated edge on the real broker: it publishes what an edge publishes, built with the
contract's own payload models, and applies acknowledgements to its alarms as the edge does,
once the edge's own verifier accepted them (trusting the test dashboard's key)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

from drivers.readings import Observation, PumpStatus
from edge.alarms.models import Alarm, alarm_id
from edge.device_state import Connection
from edge.publish.ack_signing import Verdict
from edge.publish.ack_verifier import AckVerifier
from edge.publish.connection import read_disconnect_reason
from edge.publish.payloads import (
    AckCommand,
    AlarmDigestPayload,
    AlarmPayload,
    DeviceStatePayload,
    Envelope,
    EnvelopeFactory,
    PumpTelemetry,
    SessionPayload,
    StatusPayload,
    VitalsTelemetry,
)
from edge.publish.topics import Topics
from tests.web.helpers import ACK_SECRET, DASHBOARD_ID

__all__ = ["FakeEdge", "fake_edge", "hypertension"]

PREFIX = "infusion-edge/v1"


def hypertension(bed: str, sbp: float = 204, priority: str = "high", **fields: Any) -> Alarm:
    """A hypertension alarm of ``bed`` raised now, as the engine makes it."""
    raised = fields.pop("raised_at", datetime.now(UTC))
    return Alarm.model_validate(
        {
            "alarm_id": alarm_id(bed, "monitor-1", "hypertension", raised),
            "rule": "hypertension",
            "kind": "physiological",
            "priority": priority,
            "state": "active",
            "bed": bed,
            "device_id": "monitor-1",
            "message": f"Blood pressure {sbp:.0f}/100 mmHg: systolic at or above 200",
            "value": sbp,
            "limit": 200.0,
            "raised_at": raised,
            **fields,
        }
    )


class FakeEdge:
    """One edge of ``site`` publishing through ``client``."""

    def __init__(self, client: aiomqtt.Client, site: str, edge_id: str) -> None:
        self.client = client
        self.topics = Topics(PREFIX, site)
        self.edge_id = edge_id
        self.envelopes = EnvelopeFactory(edge_id)
        self.alarms: dict[str, Alarm] = {}
        self.acks: list[AckCommand] = []
        self.refused: list[Verdict] = []
        self.verifier = AckVerifier(site, {DASHBOARD_ID: ACK_SECRET})

    def _envelope(self, model: type[Envelope], ts: datetime | None = None) -> dict[str, Any]:
        return self.envelopes.fields(model, ts or datetime.now(UTC))

    async def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        await self.client.publish(topic, payload, qos=1, retain=retain)

    async def status(self, state: str = "online") -> None:
        now = datetime.now(UTC)
        payload = StatusPayload.model_validate(
            {
                **self.envelopes.status_fields(StatusPayload, now),
                "state": state,
                "version": "0.1.0",
                "started_at": now,
            }
        )
        await self._send(self.topics.status(self.edge_id), payload.to_json(), retain=True)

    async def vitals(
        self, bed: str, sbp: float, dbp: float, *, age_s: float = 0.0, **more: float
    ) -> None:
        ts = datetime.now(UTC) - timedelta(seconds=age_s)
        values = {
            "MDC_PRESS_BLD_NONINV_SYS": (sbp, "mm[Hg]"),
            "MDC_PRESS_BLD_NONINV_DIA": (dbp, "mm[Hg]"),
            "MDC_ECG_HEART_RATE": (more.get("hr", 84), "/min"),
            "MDC_PULS_OXIM_SAT_O2": (more.get("spo2", 97), "%"),
            "MDC_RESP_RATE": (more.get("rr", 14), "/min"),
        }
        observations = [Observation(code=c, value=v, unit=u) for c, (v, u) in values.items()]
        payload = VitalsTelemetry.model_validate(
            {
                **self._envelope(VitalsTelemetry, ts),
                "device_id": "monitor-1",
                "bed": bed,
                "ts": ts,
                "observations": observations,
            }
        )
        await self._send(self.topics.telemetry(bed, "monitor-1"), payload.to_json(), False)

    async def pump(self, bed: str, rate: float, volume: float, state: str = "infusing") -> None:
        ts = datetime.now(UTC)
        observations = [
            Observation(code="MDC_FLOW_FLUID_PUMP", value=rate, unit="mL/h"),
            Observation(code="MDC_VOL_FLUID_DELIV", value=volume, unit="mL"),
        ]
        payload = PumpTelemetry.model_validate(
            {
                **self._envelope(PumpTelemetry, ts),
                "device_id": "pump-1",
                "bed": bed,
                "ts": ts,
                "observations": observations,
                "pump": PumpStatus.model_validate({"state": state, "drug": "Ketamine"}),
            }
        )
        await self._send(self.topics.telemetry(bed, "pump-1"), payload.to_json(), False)

    async def device_state(self, bed: str, device_id: str, connection: Connection) -> None:
        now = datetime.now(UTC)
        payload = DeviceStatePayload.model_validate(
            {
                **self._envelope(DeviceStatePayload, now),
                "device_id": device_id,
                "bed": bed,
                "driver": "textline",
                "connection": connection,
                "since": now,
                "last_reading_at": now,
                "frames_ok": 10,
                "frames_bad": 0,
                "reconnects": 0,
            }
        )
        await self._send(self.topics.device_state(bed, device_id), payload.to_json(), True)

    async def session(
        self,
        bed: str,
        phase: str = "infusion",
        minutes_ago: float = 12,
        estimated: bool = False,
        label: str | None = None,
    ) -> None:
        """A session whose infusion started ``minutes_ago`` (a start ``estimated`` by the edge,
        if so); in ``observation`` it stopped after 40 minutes; the bed's ``label``, if any."""
        started = datetime.now(UTC) - timedelta(minutes=minutes_ago + 10)
        infusion = started + timedelta(minutes=10)
        stopped = infusion + timedelta(minutes=40) if phase == "observation" else None
        payload = SessionPayload.model_validate(
            {
                **self._envelope(SessionPayload),
                "session_id": f"{bed}.s1",
                "bed": bed,
                "phase": phase,
                "started_at": started,
                "infusion_started_at": infusion,
                "infusion_started_estimated": estimated,
                "infusion_stopped_at": stopped,
                "observation_ends_at": stopped + timedelta(minutes=60) if stopped else None,
                "baseline_systolic": 124.0,
                "baseline_diastolic": 79.0,
                "baseline_count": 2,
                **({"label": label} if label else {}),
            }
        )
        await self._send(self.topics.session(bed), payload.to_json(), True)

    async def remove_bed(self, bed: str, *device_ids: str) -> None:
        """What the edge publishes when a reload removes ``bed`` with ``device_ids``: each
        device's retained state cleared, then the bed's session."""
        for device_id in device_ids:
            await self._send(self.topics.device_state(bed, device_id), b"", True)
        await self._send(self.topics.session(bed), b"", True)

    async def alarm(self, alarm: Alarm) -> None:
        """Publish the alarm's current state, retained."""
        self.alarms[alarm.alarm_id] = alarm
        payload = AlarmPayload.model_validate(
            {**self._envelope(AlarmPayload), **alarm.model_dump()}
        )
        await self._send(self.topics.alarm(alarm.bed, alarm.alarm_id), payload.to_json(), True)

    async def end_alarm(self, alarm: Alarm) -> None:
        """The alarm ended: its ``ended`` state, an empty retained payload, the digest."""
        self.alarms.pop(alarm.alarm_id, None)
        now = datetime.now(UTC)
        ended = alarm.model_copy(update={"state": "ended", "ended_at": now})
        payload = AlarmPayload.model_validate(
            {**self._envelope(AlarmPayload), **ended.model_dump()}
        )
        topic = self.topics.alarm(alarm.bed, alarm.alarm_id)
        await self._send(topic, payload.to_json(), True)
        await self._send(topic, b"", True)
        await self.digest()

    async def digest(self) -> None:
        """The retained digest of the alarms this edge holds open."""
        listed = [{"alarm_id": a.alarm_id, "bed": a.bed} for a in self.alarms.values()]
        payload = AlarmDigestPayload.model_validate(
            {**self._envelope(AlarmDigestPayload), "open": listed}
        )
        await self._send(self.topics.alarm_digest(self.edge_id), payload.to_json(), True)

    async def apply_acks(self) -> None:
        """Acknowledge this edge's alarms as their ack commands arrive (run as a task)."""
        await self.client.subscribe(self.topics.ack_filter(), qos=1)
        async for message in self.client.messages:
            target = self.topics.parse_ack(str(message.topic))
            alarm = self.alarms.get(target.alarm_id) if target else None
            if alarm is None or target is None or not isinstance(message.payload, bytes):
                continue
            checked = self.verifier.check(target, message.payload)
            if checked.command is None:
                self.refused.append(checked.verdict)
                continue
            command = checked.command
            self.acks.append(command)
            update = {
                "state": "acknowledged",
                "acknowledged_by": command.by,
                "acknowledged_at": command.at,
                "acknowledged_via": command.dashboard,
            }
            await self.alarm(alarm.model_copy(update=update))


@contextlib.asynccontextmanager
async def fake_edge(
    port: int, site: str = "test-site", edge_id: str = "edge-a", *, acks: bool = False
) -> AsyncIterator[FakeEdge]:
    """A connected :class:`FakeEdge`, online; with ``acks`` it applies acknowledgements."""
    client = aiomqtt.Client("127.0.0.1", port, identifier=f"fake-{site}-{edge_id}")
    try:
        async with client:
            edge = FakeEdge(client, site, edge_id)
            await edge.status("online")
            task = (
                asyncio.create_task(edge.apply_acks(), name=f"fake-edge-{edge_id}")
                if acks
                else None
            )
            try:
                yield edge
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
    finally:
        read_disconnect_reason(client)  # a test may stop the broker first

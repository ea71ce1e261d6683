"""The MQTT payloads of the contract: JSON objects, each with the same envelope.

Every payload carries ``schema`` (its name and version, ``infusion-edge.telemetry/1``),
``edge_id``, ``session`` (new at every daemon start), ``seq`` (monotonic per edge session from
1, so consumers can find gaps and drop duplicates by ``session`` + ``seq``; 0 on the edge
status, which is outside the sequence) and ``ts`` (ISO 8601,
UTC: the time of what the message reports — the measurement for telemetry, the change for
state). The models are the reference: ``infusion-edge schemas`` prints their JSON Schemas.

The models forbid keys they do not know, so what an edge builds is exactly the contract. A
consumer reads with :func:`read_payload`, which ignores unknown keys instead: within one schema
version the contract only adds keys, so a dashboard keeps showing the alarms of an edge that is
newer than itself.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.limits import AlarmLimits
from edge.alarms.models import Alarm, AlarmEvent, TreatmentSession
from edge.device_state import DeviceState
from edge.reload.changes import ConfigChangeRecord

__all__ = [
    "PAYLOAD_MODELS",
    "AckCommand",
    "AlarmDigestPayload",
    "AlarmLogPayload",
    "AlarmPayload",
    "BedLimits",
    "ConfigLogPayload",
    "DeviceStatePayload",
    "EdgeConfigPayload",
    "Envelope",
    "EnvelopeFactory",
    "OpenAlarm",
    "PumpTelemetry",
    "SessionPayload",
    "StatusPayload",
    "Telemetry",
    "VitalsTelemetry",
    "read_payload",
    "read_telemetry",
]

E = TypeVar("E", bound="Envelope")


_NO_TS = datetime(1970, 1, 1, tzinfo=UTC)  # a placeholder, left out of every JSON head


class Envelope(BaseModel):
    """The fields every payload carries."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    SCHEMA: ClassVar[str] = "infusion-edge.envelope/1"

    schema_: str = Field(alias="schema", description="payload name and version")
    edge_id: str
    session: str = Field(description="changes at each start of the edge daemon")
    seq: int = Field(ge=0, description="monotonic per edge session")
    ts: AwareDatetime = Field(description="time of what the message reports, UTC")

    def to_json(self) -> bytes:
        """The payload as UTF-8 JSON, with ``schema`` spelled as in the contract."""
        return self.model_dump_json(by_alias=True).encode()


class PumpTelemetry(Envelope, PumpReading):
    """One pump reading (rates mL/h, volumes mL)."""

    SCHEMA: ClassVar[str] = "infusion-edge.telemetry/1"


class VitalsTelemetry(Envelope, VitalsReading):
    """One vital-signs reading (pressures mm[Hg], rates /min, SpO2 %)."""

    SCHEMA: ClassVar[str] = "infusion-edge.telemetry/1"


Telemetry = Annotated[PumpTelemetry | VitalsTelemetry, Field(discriminator="kind")]


class DeviceStatePayload(Envelope, DeviceState):
    """Retained connection state of one device with its link counters."""

    SCHEMA: ClassVar[str] = "infusion-edge.device-state/1"


class AlarmPayload(Envelope, Alarm):
    """Retained current state of one alarm. When it ends, the state ``ended`` is published,
    then an empty retained payload clears the broker's copy. The edge publishes every open
    alarm again at start and every ``mqtt.alarm_refresh_s``, with a fresh ``seq`` and the
    refresh time as ``ts``: order an alarm's messages by ``session`` + ``seq``, not by ``ts``."""

    SCHEMA: ClassVar[str] = "infusion-edge.alarm/1"


class OpenAlarm(BaseModel):
    """One alarm of a digest: its id and bed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alarm_id: str
    bed: str


class AlarmDigestPayload(Envelope):
    """Retained list of an edge's alarms that have not ended (``open``), published after
    every alarm that opens or ends and with each refresh, always after the alarm messages it
    accounts for. An alarm of this edge missing from a digest with a higher ``seq`` (same
    ``session``) than the alarm's own message has ended."""

    SCHEMA: ClassVar[str] = "infusion-edge.alarm-digest/1"

    open: tuple[OpenAlarm, ...]


class AlarmLogPayload(Envelope, AlarmEvent):
    """One alarm transition (``raised``, ``escalated``, ``acknowledged``, ``ended``, ...) with
    the alarm's state after it; every transition of the site, in order."""

    SCHEMA: ClassVar[str] = "infusion-edge.alarm-log/1"


class SessionPayload(Envelope, TreatmentSession):
    """Retained treatment session of one bed: phase, order, baseline, times, and the bed's
    display ``label`` from the edge's config (``beds.<bed>.label``; absent when none is set),
    so that a dashboard of many edges can show it."""

    SCHEMA: ClassVar[str] = "infusion-edge.session/1"

    label: str | None = Field(None, max_length=64, description="the bed's display label")


class StatusPayload(Envelope):
    """Retained status of one edge; the broker sets ``lost`` through the will."""

    SCHEMA: ClassVar[str] = "infusion-edge.edge-status/1"

    state: Literal["online", "offline", "lost"]
    version: str
    started_at: AwareDatetime


class BedLimits(BaseModel):
    """The alarm limits in force for one bed (units as in the config: mmHg, /min, %, s) and
    since when: the edge's start, or the reload that last changed them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: AlarmLimits
    since: AwareDatetime


class EdgeConfigPayload(Envelope):
    """Retained config in force on one edge: the config file's SHA-256 (``config_hash``), when
    it was loaded (``loaded_at``), the alarm limits in force per bed, and the settings changed
    in the file that wait for a restart (``pending_restart``). Published at start and after
    every applied reload; ``ts`` is the load time."""

    SCHEMA: ClassVar[str] = "infusion-edge.edge-config/1"

    config_hash: str
    loaded_at: AwareDatetime
    beds: dict[str, BedLimits]
    pending_restart: tuple[str, ...] = ()


class ConfigLogPayload(Envelope, ConfigChangeRecord):
    """One applied reload of an edge's config: when (``at``), by whom (``by``: the OS user of
    ``infusion-edge reload``, or a signal), the file's hash before and after, and the diff
    (limits before/after per bed, orders, devices added/removed/changed, what needs a
    restart). Not retained: every change of the site, in order; also kept in the edge's alarm
    log."""

    SCHEMA: ClassVar[str] = "infusion-edge.config-log/1"


class AckCommand(BaseModel):
    """An acknowledgement sent by a dashboard to ``{prefix}/{site}/beds/{bed}/alarms/{alarm_id}
    /ack``: who (a user name, never a patient), when, from which dashboard, and the proof.

    ``sig`` is the HMAC-SHA256 (lowercase hex) with the dashboard's shared secret over the
    canonical bytes of every field and of the target (site, bed and alarm id, from the topic):
    see :mod:`edge.publish.ack_signing`. The edge refuses a command that is unsigned, from a
    dashboard it does not know, tampered with, stale (``at`` outside its window, 30 s by
    default) or replayed (a ``nonce`` seen before)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str = Field(
        min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", description="the user"
    )
    at: AwareDatetime = Field(description="when the user acknowledged, UTC")
    dashboard: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", description="the sending dashboard's id"
    )
    nonce: str = Field(pattern=r"^[0-9a-f]{16,64}$", description="random, once per command")
    sig: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256, lowercase hex")


_TELEMETRY: TypeAdapter[PumpTelemetry | VitalsTelemetry] = TypeAdapter(Telemetry)


def read_payload(model: type[E], data: bytes | str) -> E:
    """``data`` (a payload's JSON) as ``model``, for a consumer: keys the model does not know
    (a newer edge's additions to the same schema version) are ignored, at every level; what it
    knows is validated as strictly as when it was built."""
    return model.model_validate_json(data, extra="ignore")


def read_telemetry(data: bytes | str) -> PumpTelemetry | VitalsTelemetry:
    """A telemetry payload (pump or vitals, by its ``kind``), as :func:`read_payload` reads."""
    return _TELEMETRY.validate_json(data, extra="ignore")


PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "telemetry (pump)": PumpTelemetry,
    "telemetry (vitals)": VitalsTelemetry,
    "device state": DeviceStatePayload,
    "alarm": AlarmPayload,
    "alarm digest": AlarmDigestPayload,
    "alarm log": AlarmLogPayload,
    "treatment session": SessionPayload,
    "edge status": StatusPayload,
    "edge config": EdgeConfigPayload,
    "config log": ConfigLogPayload,
    "alarm acknowledgement (command)": AckCommand,
}


class EnvelopeFactory:
    """Envelope fields for one edge session: a fresh ``session`` id and a ``seq`` counter."""

    def __init__(self, edge_id: str, session: str | None = None, first_seq: int = 1) -> None:
        self.edge_id = edge_id
        self.session = session or uuid.uuid4().hex
        self._seq = itertools.count(first_seq)
        self._heads: dict[type[Envelope], bytes] = {}

    def fields(self, model: type[Envelope], ts: datetime) -> dict[str, Any]:
        """Envelope fields for a new ``model`` payload about an event at ``ts``, with the next
        ``seq``."""
        return {**self.status_fields(model, ts), "seq": next(self._seq)}

    def json_head(self, model: type[Envelope]) -> bytes:
        """The envelope of a new ``model`` payload as the opening of a JSON object, with the
        next ``seq`` and without ``ts``: ``{"schema":...,"seq":7,``. A payload whose own JSON
        carries ``ts`` (a Reading) follows it without its opening brace, so a value this
        process built and validated is neither validated nor encoded twice."""
        prefix = self._heads.get(model)
        if prefix is None:
            fields = {k: v for k, v in self.status_fields(model, _NO_TS).items() if k != "ts"}
            prefix = self._heads[model] = json.dumps(fields, separators=(",", ":"))[:-2].encode()
        return b"%s%d," % (prefix, next(self._seq))

    def status_fields(self, model: type[Envelope], ts: datetime) -> dict[str, Any]:
        """Envelope fields with ``seq`` 0, for the edge status: it is a retained state set
        outside the stream (the broker may publish the will long after it was made), so it
        takes no number from the sequence and leaves no gap in it."""
        return {
            "schema": model.SCHEMA,
            "edge_id": self.edge_id,
            "session": self.session,
            "seq": 0,
            "ts": ts,
        }

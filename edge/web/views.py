"""What the browsers get: beds, alarms and edges as JSON objects, and the alarm order.

A bed view gathers what the nurses' station shows of one bed (``{site}/{bed}``): the latest
value of each vital sign and of each pump, every one with the time it was measured, the
connection of each device and the treatment session. Values are only replaced by newer ones
(telemetry is delivered at least once and may be replayed after an outage). Vital signs and
pump values are declared as tables: a new one is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.readings import Observation, PumpReading, VitalsReading
from edge.alarms.models import PRIORITY_RANK
from edge.publish.payloads import (
    AlarmPayload,
    DeviceStatePayload,
    SessionPayload,
    StatusPayload,
)

__all__ = [
    "PUMP_VALUES",
    "VITALS",
    "BedView",
    "JsonDict",
    "VitalSpec",
    "alarm_json",
    "alarm_order",
    "edge_json",
]

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class VitalSpec:
    """One vital sign of the bed view: the first usable of ``codes`` wins. ``intermittent``
    values (NIBP) are measured now and then and carry their own measurement time."""

    name: str
    codes: tuple[str, ...]
    intermittent: bool = False


VITALS: tuple[VitalSpec, ...] = (
    VitalSpec("sbp", ("MDC_PRESS_BLD_NONINV_SYS",), intermittent=True),  # mm[Hg]
    VitalSpec("dbp", ("MDC_PRESS_BLD_NONINV_DIA",), intermittent=True),  # mm[Hg]
    VitalSpec("map", ("MDC_PRESS_BLD_NONINV_MEAN",), intermittent=True),  # mm[Hg]
    VitalSpec("hr", ("MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE")),  # /min
    VitalSpec("spo2", ("MDC_PULS_OXIM_SAT_O2",)),  # %
    VitalSpec("rr", ("MDC_RESP_RATE", "MDC_AWAY_RESP_RATE")),  # /min
)

PUMP_VALUES: tuple[tuple[str, str], ...] = (
    ("rate", "MDC_FLOW_FLUID_PUMP"),  # programmed rate, mL/h
    ("volume", "MDC_VOL_FLUID_DELIV"),  # volume infused, mL
    ("remaining", "MDC_VOL_FLUID_TBI_REMAIN"),  # volume to be infused, mL
    ("dose_rate", "MDC_RATE_DOSE"),  # as the pump reports it
)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _pick(observations: tuple[Observation, ...], codes: tuple[str, ...]) -> Observation | None:
    """The first usable observation among ``codes`` (in their order), else the first present
    one, so that an invalid value is shown as invalid rather than as missing."""
    present = [o for code in codes for o in observations if o.code == code]
    usable = [o for o in present if o.state in ("valid", "questionable")]
    candidates = usable or present
    return candidates[0] if candidates else None


@dataclass(frozen=True, slots=True)
class _Measured:
    value: float | None
    unit: str
    state: str
    code: str
    ts: datetime

    @classmethod
    def of(cls, observation: Observation, reading_ts: datetime) -> _Measured:
        ts = observation.ts or reading_ts
        return cls(observation.value, observation.unit, observation.state, observation.code, ts)

    def to_json(self) -> JsonDict:
        return {
            "value": self.value,
            "unit": self.unit,
            "state": self.state,
            "code": self.code,
            "ts": _iso(self.ts),
        }


def _newer(current: _Measured | None, candidate: _Measured) -> bool:
    return current is None or candidate.ts >= current.ts


@dataclass(slots=True)
class _Pump:
    device_id: str
    state: str
    drug: str | None
    bolus: bool
    flags: tuple[str, ...]
    values: dict[str, _Measured]
    ts: datetime

    def to_json(self) -> JsonDict:
        values = {name: m.to_json() for name, m in self.values.items()}
        return {
            "device_id": self.device_id,
            "state": self.state,
            "drug": self.drug,
            "bolus": self.bolus,
            "flags": list(self.flags),
            "values": values,
            "ts": _iso(self.ts),
        }


@dataclass(slots=True)
class BedView:
    """Everything the dashboard knows of one bed of one site; ``label`` is the bed's display
    label (from its session, else from the dashboard's own config), ``None`` when unknown."""

    site: str
    bed: str
    edge_id: str | None = None
    label: str | None = None
    vitals: dict[str, _Measured] = field(default_factory=dict)
    pumps: dict[str, _Pump] = field(default_factory=dict)
    devices: dict[str, JsonDict] = field(default_factory=dict)
    session: JsonDict | None = None

    @property
    def key(self) -> str:
        """``{site}/{bed}``: beds of two sites may share a name."""
        return f"{self.site}/{self.bed}"

    def apply_vitals(self, reading: VitalsReading) -> None:
        """Take each vital sign of ``reading`` that is newer than the one held."""
        self._device_seen(reading.device_id, "vitals")
        for spec in VITALS:
            observation = _pick(reading.observations, spec.codes)
            if observation is not None:
                measured = _Measured.of(observation, reading.ts)
                if _newer(self.vitals.get(spec.name), measured):
                    self.vitals[spec.name] = measured

    def apply_pump(self, reading: PumpReading) -> None:
        """Take the pump's state and values unless a newer reading is held."""
        self._device_seen(reading.device_id, "pump")
        held = self.pumps.get(reading.device_id)
        if held is not None and held.ts > reading.ts:
            return
        values = {}
        for name, code in PUMP_VALUES:
            observation = _pick(reading.observations, (code,))
            if observation is not None:
                values[name] = _Measured.of(observation, reading.ts)
        status = reading.pump
        flags = tuple(name for name, on in status.flags.model_dump().items() if on)
        self.pumps[reading.device_id] = _Pump(
            reading.device_id, status.state, status.drug, status.bolus, flags, values, reading.ts
        )

    def apply_device_state(self, device_id: str, payload: DeviceStatePayload | None) -> None:
        """The device's retained connection state; ``None`` forgets the device."""
        if payload is None:
            self.devices.pop(device_id, None)
            self.pumps.pop(device_id, None)
            return
        kind = self.devices.get(device_id, {}).get("kind")
        self.devices[device_id] = {
            "device_id": device_id,
            "kind": kind,
            "driver": payload.driver,
            "connection": payload.connection,
            "since": _iso(payload.since),
            "last_reading_at": _iso(payload.last_reading_at),
            "frames_ok": payload.frames_ok,
            "frames_bad": payload.frames_bad,
            "last_error": payload.last_error,
        }

    def apply_session(self, payload: SessionPayload | None) -> None:
        """The bed's retained treatment session; ``None`` forgets it."""
        if payload is None:
            self.session = None
            return
        self.label = payload.label or self.label
        self.session = payload.model_dump(
            mode="json",
            include={
                "session_id",
                "phase",
                "order",
                "baseline_systolic",
                "baseline_diastolic",
                "started_at",
                "infusion_started_at",
                "infusion_started_estimated",
                "infusion_stopped_at",
                "observation_ends_at",
                "closed_at",
            },
        )

    def _device_seen(self, device_id: str, kind: str) -> None:
        device = self.devices.setdefault(device_id, {"device_id": device_id, "connection": None})
        device["kind"] = kind

    def to_json(self) -> JsonDict:
        """The bed as the browsers get it."""
        return {
            "key": self.key,
            "site": self.site,
            "bed": self.bed,
            "label": self.label,
            "edge_id": self.edge_id,
            "vitals": {name: m.to_json() for name, m in self.vitals.items()},
            "pumps": [pump.to_json() for _, pump in sorted(self.pumps.items())],
            "devices": [dict(device) for _, device in sorted(self.devices.items())],
            "session": self.session,
        }


def alarm_json(site: str, payload: AlarmPayload) -> JsonDict:
    """An alarm as the browsers get it: the payload plus its ``site`` and a ``key``
    (``{site}/{alarm_id}``) unique across sites."""
    data: JsonDict = payload.model_dump(mode="json", by_alias=True)
    return {"key": f"{site}/{payload.alarm_id}", "site": site, **data}


def edge_json(site: str, payload: StatusPayload) -> JsonDict:
    """An edge's status as the browsers get it."""
    return {
        "key": f"{site}/{payload.edge_id}",
        "site": site,
        "edge_id": payload.edge_id,
        "state": payload.state,
        "version": payload.version,
        "started_at": _iso(payload.started_at),
        "ts": _iso(payload.ts),
    }


def alarm_order(alarm: JsonDict) -> tuple[int, float]:
    """Sort key of the alarm list: highest priority first, then the newest first."""
    raised = datetime.fromisoformat(alarm["raised_at"]).timestamp()
    return (-PRIORITY_RANK[alarm["priority"]], -raised)

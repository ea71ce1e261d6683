"""IHE PCD-01 (DEC) ORU^R01: observations of one moment, one MDS per device.

Built from a Reading (every reading) or a chart row (:class:`edge.charting.ChartRow`, which
may hold values of several devices of the bed). The containment follows the fact sheet
(``../shared/protocols/hl7-pcd01.md``, section 2): per device ``n`` an MDS row ``n.0.0.0``
(OBX-11 ``X``, the equipment id in OBX-18); a monitor's metrics as ``n.0.<channel>.<m>``
(channels in :mod:`edge.hl7.mdc`); a pump's VMD ``n.1.0.0`` and channel ``n.1.1.0``, then the
drug name and metrics as ``n.1.1.<m>``. Each metric row: OBX-2 ``NM``, OBX-3 code, OBX-5
value, OBX-6 unit (MDC with UCUM as alternate), OBX-11 ``R``, OBX-14 its measurement time.
Only usable values go out (state ``valid`` or ``questionable``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from drivers.readings import PumpReading, VitalsReading, observation_kind
from edge.charting import ChartRow
from edge.hl7.er7 import SEGMENT_END, components, escape, number, segment, timestamp
from edge.hl7.identity import Hl7Identity
from edge.hl7.mdc import LOCAL_SYSTEM, OTHER_CHANNEL, code_for, unit_for

__all__ = [
    "DeviceMetrics",
    "Metric",
    "chart_devices",
    "chart_message",
    "observation_message",
    "reading_devices",
    "reading_message",
]

MONITOR_MDS = components("69798", "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS", "MDC")
PUMP_MDS = components("69985", "MDC_DEV_PUMP_INFUS_MDS", "MDC")
PUMP_VMD = components("69986", "MDC_DEV_PUMP_INFUS_VMD", "MDC")
PUMP_CHAN = components("126978", "MDC_DEV_PUMP_INFUS_CHAN_DELIVERY", "MDC")
DRUG_NAME = components("184330", "MDC_DRUG_NAME_TYPE", "MDC")
MONITORING = components("182777000", "monitoring of patient", "SNOMED-CT")


@dataclass(frozen=True, slots=True)
class Metric:
    """One value: MDC reference id ``code``, ``value`` in UCUM ``unit``, measured ``at``."""

    code: str
    value: float
    unit: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DeviceMetrics:
    """The metrics of one device in one message; ``drug`` is a pump's drug name."""

    device_id: str
    kind: Literal["pump", "vitals"]
    metrics: tuple[Metric, ...]
    drug: str | None = None


def reading_devices(reading: PumpReading | VitalsReading) -> list[DeviceMetrics]:
    """The device and usable values of one reading."""
    metrics = tuple(
        Metric(obs.code, obs.value, obs.unit, obs.ts or reading.ts)
        for obs in reading.observations
        if obs.value is not None and obs.state in ("valid", "questionable")
    )
    drug = reading.pump.drug if isinstance(reading, PumpReading) else None
    return [DeviceMetrics(reading.device_id, reading.kind, metrics, drug)]


def reading_message(
    reading: PumpReading | VitalsReading, identity: Hl7Identity, control_id: str, now: datetime
) -> str:
    """The ORU^R01 of one reading."""
    devices = reading_devices(reading)
    return observation_message(reading.bed, reading.ts, devices, identity, control_id, now)


def chart_devices(row: ChartRow) -> list[DeviceMetrics]:
    """The devices of one chart row, each with its values, in the row's order."""
    devices: dict[str, list[Metric]] = {}
    for value in row.values:
        metric = Metric(value.code, value.value, value.unit, value.measured_at)
        devices.setdefault(value.device_id, []).append(metric)
    return [
        DeviceMetrics(device_id, _kind_of(metrics), tuple(metrics))
        for device_id, metrics in devices.items()
    ]


def chart_message(row: ChartRow, identity: Hl7Identity, control_id: str, now: datetime) -> str:
    """The ORU^R01 of one chart row (OBR-7 is the row's time: its mark or cuff)."""
    return observation_message(row.bed, row.at, chart_devices(row), identity, control_id, now)


def observation_message(
    bed: str,
    at: datetime,
    devices: Sequence[DeviceMetrics],
    identity: Hl7Identity,
    control_id: str,
    now: datetime,
) -> str:
    """An ORU^R01 for ``bed`` observed at ``at`` (OBR-7), sent at ``now`` (MSH-7)."""
    segments = [identity.msh("ORU^R01^ORU_R01", control_id, now, alarm=False)]
    segments += identity.patient(bed)
    order = identity.order_id(control_id)
    segments.append(segment("OBR", ["1", order, order, MONITORING, "", "", timestamp(at)]))
    rows: list[list[str]] = []
    for index, device in enumerate(devices, start=1):
        rows += _device_rows(index, device, identity)
    for set_id, fields in enumerate(rows, start=1):
        segments.append(segment("OBX", [str(set_id), *fields]))
    return SEGMENT_END.join(segments) + SEGMENT_END


def _kind_of(metrics: Iterable[Metric]) -> Literal["pump", "vitals"]:
    for metric in metrics:
        kind = observation_kind(metric.code)
        if kind is not None:
            return kind.reading_kind
    return "vitals"


def _device_rows(index: int, device: DeviceMetrics, identity: Hl7Identity) -> list[list[str]]:
    equipment = identity.equipment_id(device.device_id)
    if device.kind == "pump":
        rows = [
            _container(PUMP_MDS, f"{index}.0.0.0", equipment),
            _container(PUMP_VMD, f"{index}.1.0.0"),
            _container(PUMP_CHAN, f"{index}.1.1.0"),
        ]
        position = 0
        if device.drug:
            position += 1
            rows.append(
                ["ST", DRUG_NAME, f"{index}.1.1.{position}", escape(device.drug)] + [""] * 5 + ["R"]
            )
        for metric in device.metrics:
            position += 1
            rows.append(_metric_row(metric, f"{index}.1.1.{position}"))
        return rows
    rows = [_container(MONITOR_MDS, f"{index}.0.0.0", equipment)]
    per_channel: dict[int, int] = {}
    for metric in device.metrics:
        row = code_for(metric.code)
        channel = row.channel if row is not None else OTHER_CHANNEL
        per_channel[channel] = per_channel.get(channel, 0) + 1
        rows.append(_metric_row(metric, f"{index}.0.{channel}.{per_channel[channel]}"))
    return rows


def _container(code: str, containment: str, equipment: str = "") -> list[str]:
    """An MDS/VMD/channel row: no value, OBX-11 ``X``; the MDS carries OBX-18."""
    return ["", code, containment] + [""] * 6 + ["X"] + [""] * 6 + [equipment]


def _metric_row(metric: Metric, containment: str) -> list[str]:
    fields = ["NM", observation_id(metric.code), containment, number(metric.value)]
    fields += [unit_field(metric.code, metric.unit), "", "", "", "", "R", "", ""]
    fields.append(timestamp(metric.at))
    return fields


@lru_cache(maxsize=512)
def observation_id(code: str) -> str:
    """OBX-3 of ``code``: ``<number>^<ref id>^MDC``, or ``<ref id>^<label>^99EDGE``."""
    row = code_for(code)
    if row is not None:
        return components(str(row.code), row.ref_id, "MDC")
    kind = observation_kind(code)
    return components(code, kind.label if kind else code, LOCAL_SYSTEM)


@lru_cache(maxsize=512)
def unit_field(code: str, ucum: str) -> str:
    """OBX-6 of ``ucum`` for ``code``: MDC with UCUM as alternate, or UCUM alone."""
    unit = unit_for(code, ucum)
    if unit is None:
        return components(ucum, ucum, "UCUM")
    return components(str(unit.code), unit.ref_id, "MDC", ucum, ucum, "UCUM")

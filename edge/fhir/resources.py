"""FHIR R4 resources as JSON-ready dicts: Device, Observation (vital signs with LOINC beside
MDC), the alarm Observation, and transaction Bundles.

No patient resource and no patient identifier: an Observation names its Device (whose
``location`` is the bed) and, when the bed's config gives a visit number, the Encounter by
that identifier. Without a Patient the vital-signs profiles' required ``subject`` is absent,
so ``meta.profile`` is not claimed; their category, LOINC codes and UCUM units are followed.

Resends are harmless: a reading's Observation is created with ``ifNoneExist`` on its
identifier (bed, device, code, time), a Device and an alarm are PUT by identifier (an alarm
Observation holds the current state of its episode, like the retained MQTT alarm topic).

Alarms are Observations (docs/clinical-outputs.md "FHIR R4 output" says why): code the MDC
event (limit high/low, or generic alarm) with the rule beside it, value and reference range
the measured value and limit, ``effectivePeriod`` from raise to end, components for priority,
state, phase and alert type (the PCD-04 attributes).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.alarms.models import AlarmEvent, stamp
from edge.fhir.codes import (
    BP_COMPONENTS,
    BP_PANEL,
    LOINC_SYSTEM,
    MDC_SYSTEM,
    UCUM_SYSTEM,
    fhir_code,
)
from edge.hl7.mdc import code_for
from edge.hl7.pcd01 import DeviceMetrics, Metric
from edge.hl7.pcd04 import PHASES, PRIORITIES, SOURCES

__all__ = ["FhirIdentity", "alarm_bundle", "observation_bundle", "transaction"]

Json = dict[str, Any]
LOCAL_CODES = "urn:infusion-edge:observation-code"  # the Reading's vendor codes (X_...)
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MDS_CODES = {
    "vitals": ("69798", "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS"),
    "pump": ("69985", "MDC_DEV_PUMP_INFUS_MDS"),
}


@dataclass(frozen=True, slots=True)
class FhirIdentity:
    """Identifier systems of this site (``urn:infusion-edge:{site}:...``), the beds' visit
    numbers and the devices' EUI-64s, from the config."""

    site: str
    visits: Mapping[str, str] = field(default_factory=dict)
    equipment: Mapping[str, str] = field(default_factory=dict)
    visit_system: str | None = None

    def system(self, what: str) -> str:
        """The identifier system of ``what`` (``device``, ``observation``, ``alarm``, ``bed``)."""
        return f"urn:infusion-edge:{self.site}:{what}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mdc(ref_id: str) -> Json | None:
    row = code_for(ref_id)
    return {"system": MDC_SYSTEM, "code": str(row.code), "display": ref_id} if row else None


def _concept(ref_id: str, text: str | None = None) -> Json:
    codings: list[Json] = []
    loinc = fhir_code(ref_id)
    if loinc is not None:
        codings.append({"system": LOINC_SYSTEM, "code": loinc.loinc, "display": loinc.display})
    mdc = _mdc(ref_id)
    if mdc is not None:
        codings.append(mdc)
    if not codings:  # a vendor code: no LOINC, no MDC number
        codings.append({"system": LOCAL_CODES, "code": ref_id})
    return {"coding": codings, "text": text or ref_id}


def _quantity(value: float, unit: str) -> Json:
    return {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": unit}


def _device(device_id: str, kind: str, bed: str, identity: FhirIdentity) -> tuple[str, Json]:
    """(fullUrl, entry) of a conditional PUT of the Device."""
    identifiers: list[Json] = [{"system": identity.system("device"), "value": device_id}]
    eui = identity.equipment.get(device_id)
    if eui:
        identifiers.append({"type": {"text": "EUI-64"}, "value": eui})
    code, ref_id = MDS_CODES.get(kind, MDS_CODES["vitals"])
    resource: Json = {
        "resourceType": "Device",
        "identifier": identifiers,
        "status": "active",
        "deviceName": [{"name": device_id, "type": "user-friendly-name"}],
        "type": {"coding": [{"system": MDC_SYSTEM, "code": code, "display": ref_id}]},
        "location": {
            "identifier": {"system": identity.system("bed"), "value": bed},
            "display": bed,
        },
    }
    full_url = f"urn:uuid:{uuid.uuid4()}"
    search = f"Device?identifier={identity.system('device')}|{device_id}"
    entry = {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": search}}
    return full_url, entry


def _context(bed: str, device_url: str | None, identity: FhirIdentity) -> Json:
    context: Json = {}
    if device_url:
        context["device"] = {"reference": device_url}
    visit = identity.visits.get(bed)
    if visit:
        system = identity.visit_system or identity.system("visit")
        context["encounter"] = {"identifier": {"system": system, "value": visit}}
    return context


def _observation(
    identifier: str, code: Json, at: datetime, context: Json, vital: bool, identity: FhirIdentity
) -> Json:
    resource: Json = {
        "resourceType": "Observation",
        "identifier": [{"system": identity.system("observation"), "value": identifier}],
        "status": "final",
        "code": code,
        "effectiveDateTime": _iso(at),
        **context,
    }
    if vital:
        resource["category"] = [
            {
                "coding": [
                    {"system": CATEGORY_SYSTEM, "code": "vital-signs", "display": "Vital Signs"}
                ]
            }
        ]
    return resource


def _create(resource: Json, identity: FhirIdentity) -> Json:
    value = resource["identifier"][0]["value"]
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": resource,
        "request": {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={identity.system('observation')}|{value}",
        },
    }


def observation_bundle(bed: str, devices: Sequence[DeviceMetrics], identity: FhirIdentity) -> Json:
    """A transaction: each device (PUT) and its Observations (created once each); NIBP as
    one blood-pressure panel per cuff."""
    entries: list[Json] = []
    for device in devices:
        device_url, device_entry = _device(device.device_id, device.kind, bed, identity)
        entries.append(device_entry)
        context = _context(bed, device_url, identity)
        panel = [m for m in device.metrics if m.code in BP_COMPONENTS]
        if panel:
            entries.append(
                _create(_bp_panel(bed, device.device_id, panel, context, identity), identity)
            )
        for metric in device.metrics:
            if metric.code in BP_COMPONENTS:
                continue
            loinc = fhir_code(metric.code)
            identifier = f"{bed}.{device.device_id}.{metric.code}.{stamp(metric.at)}"
            resource = _observation(
                identifier, _concept(metric.code), metric.at, context, loinc is not None, identity
            )
            resource["valueQuantity"] = _quantity(metric.value, metric.unit)
            entries.append(_create(resource, identity))
    return transaction(entries)


def _bp_panel(
    bed: str, device_id: str, metrics: Sequence[Metric], context: Json, identity: FhirIdentity
) -> Json:
    at = max(metric.at for metric in metrics)
    code = {
        "coding": [
            {"system": LOINC_SYSTEM, "code": BP_PANEL.loinc, "display": BP_PANEL.display},
            {"system": MDC_SYSTEM, "code": "150020", "display": "MDC_PRESS_BLD_NONINV"},
        ],
        "text": "Non-invasive blood pressure",
    }
    identifier = f"{bed}.{device_id}.{BP_PANEL.ref_id}.{stamp(at)}"
    resource = _observation(identifier, code, at, context, True, identity)
    resource["component"] = [
        {"code": _concept(m.code), "valueQuantity": _quantity(m.value, m.unit)} for m in metrics
    ]
    return resource


def alarm_bundle(event: AlarmEvent, identity: FhirIdentity) -> Json:
    """A transaction: the alarm's device (PUT) and the alarm Observation (PUT by alarm id)."""
    alarm = event.alarm
    entries: list[Json] = []
    device_url = None
    if alarm.device_id:
        device_url, device_entry = _device(alarm.device_id, "vitals", alarm.bed, identity)
        entries.append(device_entry)
    source = SOURCES.get(alarm.rule)
    high = alarm.value is not None and alarm.limit is not None and alarm.value >= alarm.limit
    limit_rule = alarm.rule in ("hypertension", *SOURCES)
    event_code = (
        ("196648", "MDC_EVT_HI")
        if limit_rule and high
        else ("196674", "MDC_EVT_LO")
        if limit_rule and alarm.value is not None
        else ("196616", "MDC_EVT_ALARM")
    )
    phase, state, inactivation = PHASES[event.transition]
    if event.transition == "acknowledged" and alarm.state == "ended":
        phase, state = "end", "inactive"
    system = identity.system("alarm")
    resource: Json = {
        "resourceType": "Observation",
        "identifier": [{"system": system, "value": alarm.alarm_id}],
        "status": "final" if alarm.state == "ended" else "preliminary",
        "category": [{"coding": [{"system": identity.system("category"), "code": "alarm"}]}],
        "code": {
            "coding": [
                {"system": MDC_SYSTEM, "code": event_code[0], "display": event_code[1]},
                {"system": identity.system("alarm-rule"), "code": alarm.rule},
            ],
            "text": alarm.message,
        },
        "effectivePeriod": {"start": _iso(alarm.raised_at)}
        | ({"end": _iso(alarm.ended_at)} if alarm.ended_at else {}),
        "issued": _iso(event.at),
        "component": [
            _attribute("68484", "MDC_ATTR_ALARM_PRIORITY", PRIORITIES[alarm.priority]),
            _attribute("68482", "MDC_ATTR_ALARM_STATE", state),
            _attribute("68481", "MDC_ATTR_EVENT_PHASE", phase),
            _attribute("68483", "MDC_ATTR_ALARM_INACTIVATION_STATE", inactivation),
            _attribute(
                "68485", "MDC_ATTR_ALERT_TYPE", "SP" if alarm.kind == "physiological" else "ST"
            ),
        ],
        **_context(alarm.bed, device_url, identity),
    }
    if source is not None and alarm.value is not None:
        resource["valueQuantity"] = _quantity(alarm.value, source.unit)
        if alarm.limit is not None:
            bound = "high" if high else "low"
            resource["referenceRange"] = [{bound: _quantity(alarm.limit, source.unit)}]
    if limit_rule and alarm.value is not None:
        resource["interpretation"] = [
            {"coding": [{"system": INTERPRETATION_SYSTEM, "code": "H" if high else "L"}]}
        ]
    if alarm.acknowledged_by:
        resource["component"].append(
            {"code": {"text": "acknowledged by"}, "valueString": alarm.acknowledged_by}
        )
    entries.append(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": resource,
            "request": {
                "method": "PUT",
                "url": f"Observation?identifier={system}|{alarm.alarm_id}",
            },
        }
    )
    return transaction(entries)


def _attribute(code: str, ref_id: str, value: str) -> Json:
    return {
        "code": {"coding": [{"system": MDC_SYSTEM, "code": code, "display": ref_id}]},
        "valueString": value,
    }


def transaction(entries: list[Json]) -> Json:
    """A transaction Bundle of ``entries``."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}

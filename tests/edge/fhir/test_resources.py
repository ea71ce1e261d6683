"""FHIR resources validated with fhir.resources' R4B models (R4B keeps R4's Observation,
Device and Bundle unchanged) and checked field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation

from edge.alarms.models import Transition
from edge.fhir.codes import LOINC_SYSTEM, MDC_SYSTEM
from edge.fhir.output import FhirEncoder
from edge.fhir.resources import FhirIdentity
from tests.edge.hl7.messages import alarm_event, pump, vitals

IDENTITY = FhirIdentity(
    "clinic", visits={"chair-1": "V0042"}, equipment={"mon-1": "00112233445566FF"}
)
ENCODER = FhirEncoder(IDENTITY)


def _validated(payload: bytes) -> dict[str, Any]:
    """The bundle, validated whole and resource by resource."""
    bundle: dict[str, Any] = json.loads(payload)
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Device":
            Device.model_validate(entry["resource"])
        else:
            Observation.model_validate(entry["resource"])
    assert bundle["type"] == "transaction"
    return bundle


def _observations(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Observations by their first coding's code."""
    return {
        e["resource"]["code"]["coding"][0]["code"]: e
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }


def test_vitals_become_vital_sign_observations_with_loinc_beside_mdc() -> None:
    message = ENCODER.reading(vitals())
    assert message.kind == "observation"
    bundle = _validated(message.payload)
    device = bundle["entry"][0]
    assert device["request"] == {
        "method": "PUT",
        "url": "Device?identifier=urn:infusion-edge:clinic:device|mon-1",
    }
    assert device["resource"]["identifier"][1] == {
        "type": {"text": "EUI-64"},
        "value": "00112233445566FF",
    }
    assert device["resource"]["location"]["display"] == "chair-1"
    observations = _observations(bundle)
    assert set(observations) == {"85354-9", "8867-4", "59408-5", "X_MASIMO_SPCO"} - {
        "X_MASIMO_SPCO"
    } | {next(c for c in observations if c not in ("85354-9", "8867-4", "59408-5"))}
    heart = observations["8867-4"]["resource"]
    assert heart["code"]["coding"] == [
        {"system": LOINC_SYSTEM, "code": "8867-4", "display": "Heart rate"},
        {"system": MDC_SYSTEM, "code": "147842", "display": "MDC_ECG_HEART_RATE"},
    ]
    assert heart["category"][0]["coding"][0]["code"] == "vital-signs"
    assert heart["valueQuantity"] == {
        "value": 72.0,
        "unit": "/min",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert heart["effectiveDateTime"] == "2025-01-01T10:00:00.000Z"
    assert heart["device"] == {"reference": device["fullUrl"]}
    assert heart["encounter"]["identifier"]["value"] == "V0042"
    assert "subject" not in heart  # no patient known to the edge
    created = observations["8867-4"]["request"]
    assert created["method"] == "POST"
    assert created["ifNoneExist"].startswith("identifier=urn:infusion-edge:clinic:observation|")
    bp = observations["85354-9"]["resource"]
    components = {
        c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in bp["component"]
    }
    assert components == {"8480-6": 120.0, "8462-4": 80.0, "8478-0": 93.0}
    assert bp["effectiveDateTime"] == "2025-01-01T09:59:55.000Z"  # the cuff's time
    spo2 = observations["59408-5"]["resource"]
    assert spo2["valueQuantity"]["code"] == "%"


def test_a_quantity_without_loinc_keeps_its_mdc_code_and_no_category() -> None:
    bundle = _validated(ENCODER.reading(pump()).payload)
    observations = _observations(bundle)
    rate = observations["157784"]["resource"]
    assert rate["code"]["coding"] == [
        {"system": MDC_SYSTEM, "code": "157784", "display": "MDC_FLOW_FLUID_PUMP"}
    ]
    assert "category" not in rate
    assert rate["valueQuantity"]["unit"] == "mL/h"
    device = bundle["entry"][0]["resource"]
    assert device["type"]["coding"][0]["code"] == "69985"  # an infusion pump


@pytest.mark.parametrize(
    ("transition", "state", "status", "phase"),
    [
        ("raised", "active", "preliminary", "start"),
        ("acknowledged", "acknowledged", "preliminary", "update"),
        ("ended", "ended", "final", "end"),
    ],
)
def test_an_alarm_is_one_observation_per_episode_updated_in_place(
    transition: Transition, state: str, status: str, phase: str
) -> None:
    message = ENCODER.alarm(alarm_event(transition, state=state))
    assert message.kind == "alarm"
    bundle = _validated(message.payload)
    entry = bundle["entry"][-1]
    alarm = entry["resource"]
    assert entry["request"] == {
        "method": "PUT",
        "url": "Observation?identifier=urn:infusion-edge:clinic:alarm|"
        "chair-1.mon-1.spo2_low.20250101T100000000Z",
    }
    assert alarm["status"] == status
    assert alarm["code"]["coding"][0] == {
        "system": MDC_SYSTEM,
        "code": "196674",
        "display": "MDC_EVT_LO",
    }
    assert alarm["code"]["coding"][1]["code"] == "spo2_low"
    assert alarm["valueQuantity"]["value"] == 88
    assert alarm["referenceRange"] == [
        {"low": {"value": 90, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}}
    ]
    assert alarm["interpretation"][0]["coding"][0]["code"] == "L"
    attributes = {
        c["code"]["coding"][0]["display"]: c["valueString"]
        for c in alarm["component"]
        if "coding" in c["code"]
    }
    assert attributes["MDC_ATTR_EVENT_PHASE"] == phase
    assert attributes["MDC_ATTR_ALARM_PRIORITY"] == "PM"
    assert attributes["MDC_ATTR_ALERT_TYPE"] == "SP"
    assert alarm["effectivePeriod"]["start"] == "2025-01-01T10:00:00.000Z"
    assert ("end" in alarm["effectivePeriod"]) == (state == "ended")


def test_bundle_ids_differ_and_are_the_control_ids() -> None:
    first, second = ENCODER.reading(vitals()), ENCODER.reading(vitals())
    assert first.control_id != second.control_id
    assert json.loads(first.payload)["identifier"]["value"] == f"urn:uuid:{first.control_id}"

"""The FHIR encoder of the clinical output: one transaction Bundle (JSON) per reading, chart
row or alarm transition; the bundle's control id is a new UUID kept for every resend."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import AlarmEvent
from edge.charting import ChartRow
from edge.config import Config, FhirConfig
from edge.fhir.resources import FhirIdentity, Json, alarm_bundle, observation_bundle
from edge.forward.queue import NewMessage
from edge.hl7.pcd01 import chart_devices, reading_devices

__all__ = ["FhirEncoder", "fhir_identity"]


def fhir_identity(config: Config, fhir: FhirConfig) -> FhirIdentity:
    """The identities ``config`` gives (site, visit numbers, EUI-64s)."""
    return FhirIdentity(
        site=config.site,
        visits=config.visit_numbers(),
        equipment=config.device_eui64s(),
        visit_system=fhir.visit_system,
    )


class FhirEncoder:
    """Transaction Bundles with ``identity``."""

    def __init__(self, identity: FhirIdentity) -> None:
        self._identity = identity

    def reidentify(self, config: Config) -> None:
        """Take the visit numbers and EUI-64s of ``config`` (a reload) for the next bundles."""
        self._identity = replace(
            self._identity, visits=config.visit_numbers(), equipment=config.device_eui64s()
        )

    def reading(self, reading: PumpReading | VitalsReading) -> NewMessage:
        """The Bundle of one reading."""
        bundle = observation_bundle(reading.bed, reading_devices(reading), self._identity)
        return _message(bundle, "observation", reading.bed)

    def chart_row(self, row: ChartRow) -> NewMessage:
        """The Bundle of one chart row."""
        bundle = observation_bundle(row.bed, chart_devices(row), self._identity)
        return _message(bundle, "observation", row.bed)

    def alarm(self, event: AlarmEvent) -> NewMessage:
        """The Bundle of one alarm transition."""
        return _message(alarm_bundle(event, self._identity), "alarm", event.alarm.bed)


def _message(bundle: Json, kind: str, bed: str) -> NewMessage:
    control_id = str(uuid.uuid4())
    bundle["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{control_id}"}
    return NewMessage(control_id, kind, bed, json.dumps(bundle, separators=(",", ":")).encode())

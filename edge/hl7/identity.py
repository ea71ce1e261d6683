"""Who sends, for whom and from what: the MSH, PID and PV1 segments and the equipment ids.

Everything comes from the config: the edge's application name and EUI-64 (MSH-3), the site
or a configured facility (MSH-4), the bed as the location (PV1-3 ``point_of_care^^bed``), a
visit number if the bed's config gives one (PID-3 as a ``VN`` identifier, and PV1-19), and a
device's EUI-64 (OBX-18). Nothing is invented: without a visit number PID-3 stays empty and
the name is the "unspecified" marker ``^^^^^^U``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from edge.config import Config, Hl7Config
from edge.hl7.er7 import components, segment, timestamp

__all__ = ["PCD01_PROFILE", "PCD04_PROFILE", "Hl7Identity", "new_control_id"]

PCD01_PROFILE = components("IHE_PCD_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.1.1", "ISO")
PCD04_PROFILE = components("IHE_PCD_ACM_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.4.4", "ISO")


def new_control_id() -> str:
    """A message control id (MSH-10): 20 hex digits, unique; kept for every resend."""
    return uuid.uuid4().hex[:20].upper()


@dataclass(frozen=True, slots=True)
class Hl7Identity:
    """The configured identities of the HL7 output."""

    application: str = "INFUSION-EDGE"
    eui64: str | None = None
    facility: str = "SITE"
    receiving_application: str | None = None
    receiving_facility: str | None = None
    point_of_care: str | None = None
    patient_class: str = "O"
    assigning_authority: str | None = None
    visits: Mapping[str, str] = field(default_factory=dict)
    equipment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config, hl7: Hl7Config) -> Hl7Identity:
        """The identities that ``config`` and its ``hl7`` section give."""
        return cls(
            application=hl7.sending_application,
            eui64=hl7.eui64,
            facility=hl7.sending_facility or config.site,
            receiving_application=hl7.receiving_application,
            receiving_facility=hl7.receiving_facility,
            point_of_care=hl7.point_of_care,
            patient_class=hl7.patient_class,
            assigning_authority=hl7.assigning_authority or config.site,
            visits=config.visit_numbers(),
            equipment=config.device_eui64s(),
        )

    def msh(self, message_type: str, control_id: str, at: datetime, *, alarm: bool) -> str:
        """The MSH segment; PCD-01 asks original-mode acks (NE/AL), PCD-04 commit acks
        (AL/NE)."""
        sender = components(self.application, self.eui64, "EUI-64" if self.eui64 else None)
        return segment(
            "MSH",
            [
                "^~\\&",
                sender,
                components(self.facility),
                components(self.receiving_application),
                components(self.receiving_facility),
                timestamp(at),
                "",
                message_type,
                control_id,
                "P",
                "2.6",
                "",
                "",
                "AL" if alarm else "NE",
                "NE" if alarm else "AL",
                "",
                "UNICODE UTF-8",
                "",
                "",
                PCD04_PROFILE if alarm else PCD01_PROFILE,
            ],
        )

    def patient(self, bed: str) -> list[str]:
        """PID and PV1 of ``bed``: its visit number if configured, else no identifier."""
        visit = self.visits.get(bed)
        pid3 = components(visit, "", "", self.assigning_authority, "VN") if visit else ""
        pid = segment("PID", ["", "", pid3, "", components("", "", "", "", "", "", "U")])
        location = components(self.point_of_care, "", bed)
        pv1 = ["", self.patient_class, location] + [""] * 15 + [components(visit)]
        return [pid, segment("PV1", pv1)]

    def order_id(self, identifier: str) -> str:
        """An entity identifier (OBR-2/OBR-3) assigned by this edge."""
        return components(identifier, self.application, self.eui64, "EUI-64" if self.eui64 else "")

    def equipment_id(self, device_id: str) -> str:
        """OBX-18 of ``device_id``: its EUI-64 if configured, else its id in this edge's
        namespace."""
        eui = self.equipment.get(device_id)
        if eui:
            return components(eui, device_id, eui, "EUI-64")
        return components(device_id, self.application)

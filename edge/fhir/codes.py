"""The FHIR codes of the Reading's observations: LOINC beside MDC, and the FHIR vital-signs
profile each quantity follows (one table, :data:`FHIR_CODES`).

Every Observation carries its MDC code (system ``urn:iso:std:iso:11073:10101``, the numeric
code from :mod:`edge.hl7.mdc`, the reference id as display) and, where a LOINC code exists for
the quantity, the LOINC code first. Quantities of the vital-signs profiles (heart rate,
SpO2, respiratory rate, body temperature, blood pressure) carry its category ``vital-signs``,
its LOINC code and UCUM unit. NIBP is one blood-pressure panel (LOINC 85354-9) with systolic
and diastolic (and mean) as components, as the profile asks.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BP_PANEL", "FHIR_CODES", "MDC_SYSTEM", "FhirCode", "fhir_code"]

MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"


@dataclass(frozen=True, slots=True)
class FhirCode:
    """One quantity: its LOINC ``loinc`` code and ``display``; ``profile`` is the FHIR R4
    vital-signs profile it follows, if any."""

    ref_id: str
    loinc: str
    display: str
    profile: str | None = None


BP_PANEL = FhirCode("MDC_PRESS_BLD_NONINV", "85354-9", "Blood pressure panel", "bp")

FHIR_CODES: tuple[FhirCode, ...] = (
    FhirCode("MDC_PRESS_BLD_NONINV_SYS", "8480-6", "Systolic blood pressure"),
    FhirCode("MDC_PRESS_BLD_NONINV_DIA", "8462-4", "Diastolic blood pressure"),
    FhirCode("MDC_PRESS_BLD_NONINV_MEAN", "8478-0", "Mean blood pressure"),
    FhirCode("MDC_ECG_HEART_RATE", "8867-4", "Heart rate", "heartrate"),
    FhirCode("MDC_PULS_OXIM_PULS_RATE", "8867-4", "Heart rate", "heartrate"),
    FhirCode(
        "MDC_PULS_OXIM_SAT_O2",
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "oxygensat",
    ),
    FhirCode("MDC_RESP_RATE", "9279-1", "Respiratory rate", "resprate"),
    FhirCode("MDC_AWAY_RESP_RATE", "9279-1", "Respiratory rate", "resprate"),
    FhirCode("MDC_TEMP_BODY", "8310-5", "Body temperature", "bodytemp"),
)
"""Quantities with a LOINC code; the others go out with their MDC code alone."""

_BY_REF = {row.ref_id: row for row in FHIR_CODES}
BP_COMPONENTS = (
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PRESS_BLD_NONINV_DIA",
    "MDC_PRESS_BLD_NONINV_MEAN",
)


def fhir_code(ref_id: str) -> FhirCode | None:
    """The LOINC row of ``ref_id``, or ``None``."""
    return _BY_REF.get(ref_id)

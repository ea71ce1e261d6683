"""``infusion-edge fhir sample``: the transaction Bundles the FHIR output makes of the samples
of :mod:`edge.hl7.sample` (a monitor's and a pump's reading, a chart row, an alarm raised,
acknowledged and ended), as indented JSON after a ``# title`` line; with ``--config`` the
identities come from that config. ``fhir refused`` is :mod:`edge.forward.refused`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from edge.alarms.models import TreatmentSession
from edge.charting import BedCharter
from edge.config_report import load_or_report
from edge.fhir.output import FhirEncoder, fhir_identity
from edge.fhir.resources import FhirIdentity
from edge.hl7.sample import SAMPLE_AT, sample_alarm_events, sample_readings

__all__ = ["sample"]


def sample(config_path: Path | None) -> int:
    """Print the sample bundles; 0, or 1 for a bad config."""
    identity = FhirIdentity("clinic")
    bed = "chair-1"
    if config_path is not None:
        config = load_or_report(config_path)
        if config is None:
            return 1
        bed = next(iter(config.beds), bed)
        identity = FhirIdentity(config.site)
        if config.fhir is not None:
            identity = fhir_identity(config, config.fhir)
    encoder = FhirEncoder(identity)
    vitals, pumped = sample_readings(bed)
    charter = BedCharter()
    charter.session_changed(
        TreatmentSession(
            session_id=f"{bed}.20250101T093000000Z",
            bed=bed,
            phase="infusion",
            started_at=SAMPLE_AT - timedelta(minutes=30),
            infusion_started_at=SAMPLE_AT - timedelta(minutes=5),
        )
    )
    row = next(r for r in charter.reading(pumped) + charter.reading(vitals) if r.reason == "nibp")
    samples = [
        ("one monitor reading", encoder.reading(vitals)),
        ("one pump reading", encoder.reading(pumped)),
        ("a chart row (the cuff)", encoder.chart_row(row)),
    ]
    samples += [(f"alarm {e.transition}", encoder.alarm(e)) for e in sample_alarm_events(bed)]
    for title, message in samples:
        print(f"# transaction Bundle, {title}")
        print(json.dumps(json.loads(message.payload), indent=2))
    return 0

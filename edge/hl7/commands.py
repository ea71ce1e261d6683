"""``infusion-edge hl7 sample``: the sample messages of :mod:`edge.hl7.sample`, one segment a
line (on the wire segments end in CR), a blank line between messages; with ``--config`` the
identities (application, EUI-64, facility, point of care, a bed's visit number, device
EUI-64s) come from that config. ``hl7 refused`` is :mod:`edge.forward.refused`.
"""

from __future__ import annotations

from pathlib import Path

from edge.config_report import load_or_report
from edge.hl7.identity import Hl7Identity
from edge.hl7.sample import sample_messages

__all__ = ["sample"]


def sample(config_path: Path | None) -> int:
    """Print the samples; 0, or 1 for a bad config."""
    identity = Hl7Identity(facility="CLINIC", eui64="0123456789ABCDEF", point_of_care="INF")
    bed = "chair-1"
    if config_path is not None:
        config = load_or_report(config_path)
        if config is None:
            return 1
        if config.hl7 is not None:
            identity = Hl7Identity.from_config(config, config.hl7)
        bed = next(iter(config.beds), bed)
    for title, message in sample_messages(identity, bed):
        print(f"# {title}")
        print(message.replace("\r", "\n"))
    return 0

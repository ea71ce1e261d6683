"""``infusion-edge hl7 sample`` and ``infusion-edge hl7 refused``.

``sample`` prints the sample messages of :mod:`edge.hl7.sample`, one segment a line (on the
wire segments end in CR), a blank line between messages; with ``--config`` the identities
(application, EUI-64, facility, point of care, a bed's visit number, device EUI-64s) come
from that config. ``refused`` prints what the receiver refused (AE/AR), newest first, from
the queue file of the config's ``hl7`` section: when, the code, the receiver's words, the
control id, then the message.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edge.config import Config, ConfigError, load_config
from edge.forward.refused import print_refused
from edge.hl7.identity import Hl7Identity
from edge.hl7.sample import sample_messages

__all__ = ["load_or_none", "refused", "sample"]


def load_or_none(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(
            f"{path}: {len(exc.problems)} config errors (see `infusion-edge config check`)",
            file=sys.stderr,
        )
        return None


def sample(config_path: Path | None) -> int:
    """Print the samples; 0, or 1 for a bad config."""
    identity = Hl7Identity(facility="CLINIC", eui64="0123456789ABCDEF", point_of_care="INF")
    bed = "chair-1"
    if config_path is not None:
        config = load_or_none(config_path)
        if config is None:
            return 1
        if config.hl7 is not None:
            identity = Hl7Identity.from_config(config, config.hl7)
        bed = next(iter(config.beds), bed)
    for title, message in sample_messages(identity, bed):
        print(f"# {title}")
        print(message.replace("\r", "\n"))
    return 0


def refused(config_path: Path, limit: int) -> int:
    """Print the refused messages; 0, or 1 for a bad config or no ``hl7`` section."""
    config = load_or_none(config_path)
    if config is None:
        return 1
    if config.hl7 is None:
        print(f"{config_path}: no hl7 section", file=sys.stderr)
        return 1
    return print_refused("hl7_queue", config.hl7.queue_path, limit)

"""``infusion-edge hl7 sample`` and ``infusion-edge hl7 refused``.

``sample`` prints the sample messages of :mod:`edge.hl7.sample`, one segment a line (on the
wire segments end in CR), a blank line between messages; with ``--config`` the identities
(application, EUI-64, facility, point of care, a bed's visit number, device EUI-64s) come
from that config. ``refused`` prints what the receiver refused (AE/AR), newest first, from
the queue file of the config's ``hl7`` section: when, the code, the receiver's words, the
control id, then the message.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from edge.config import Config, ConfigError, load_config
from edge.forward.queue import ForwardQueue, RefusedMessage
from edge.hl7.identity import Hl7Identity
from edge.hl7.sample import sample_messages

__all__ = ["refused", "sample"]


def _config(path: Path) -> Config | None:
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
        config = _config(config_path)
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
    config = _config(config_path)
    if config is None:
        return 1
    if config.hl7 is None:
        print(f"{config_path}: no hl7 section", file=sys.stderr)
        return 1
    if not config.hl7.queue_path.exists():
        print(f"{config.hl7.queue_path}: no queue file yet: nothing was refused")
        return 0
    messages = asyncio.run(_refused(config, limit))
    if not messages:
        print("nothing refused")
    for message in messages:
        when = datetime.fromtimestamp(message.refused_at, UTC).isoformat(timespec="seconds")
        print(
            f"{when} {message.code} {message.kind} bed {message.bed} "
            f"control id {message.control_id}: {message.detail or '(no detail)'}"
        )
        print(message.payload.decode(errors="replace").replace("\r", "\n"))
    return 0


async def _refused(config: Config, limit: int) -> list[RefusedMessage]:
    assert config.hl7 is not None
    queue = ForwardQueue(
        "hl7_queue", config.hl7.queue_path, config.hl7.max_messages, config.hl7.max_refused
    )
    await queue.open()
    try:
        return await queue.refused(limit)
    finally:
        await queue.close()

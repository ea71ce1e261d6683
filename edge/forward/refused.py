"""``infusion-edge hl7 refused`` and ``fhir refused``: what the receiver refused, newest
first, from the output's queue file: when, the code, the receiver's words, the control id,
then the message."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from edge.config_report import load_or_report
from edge.forward.queue import ForwardQueue, RefusedMessage

__all__ = ["print_refused", "refused_command"]


def refused_command(config_path: Path, limit: int, output: Literal["hl7", "fhir"]) -> int:
    """``infusion-edge hl7|fhir refused``: print the refused messages of ``output``'s queue
    named by the config at ``config_path``; 0, or 1 for a bad config or no such section."""
    config = load_or_report(config_path)
    if config is None:
        return 1
    section = config.hl7 if output == "hl7" else config.fhir
    if section is None:
        print(f"{config_path}: no {output} section", file=sys.stderr)
        return 1
    return print_refused(f"{output}_queue", section.queue_path, limit)


def print_refused(name: str, path: Path, limit: int) -> int:
    """Print the latest ``limit`` refused messages of the queue at ``path``; 0."""
    if not path.exists():
        print(f"{path}: no queue file yet: nothing was refused")
        return 0
    messages = asyncio.run(_refused(name, path, limit))
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


async def _refused(name: str, path: Path, limit: int) -> list[RefusedMessage]:
    queue = ForwardQueue(name, path, 100, 10)
    await queue.open()
    try:
        return await queue.refused(limit)
    finally:
        await queue.close()

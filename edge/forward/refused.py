"""``infusion-edge hl7 refused`` and ``fhir refused``: what the receiver refused, newest
first, from the output's queue file: when, the code, the receiver's words, the control id,
then the message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from edge.forward.queue import ForwardQueue, RefusedMessage

__all__ = ["print_refused"]


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

"""Running sibling tasks so that a failure and a cancellation are never lost.

``asyncio.TaskGroup`` on Python 3.11 folds a cancellation that arrives while a child fails into
the ExceptionGroup, and leaves the parent's ``cancelling()`` count raised after a handled child
failure; a reconnect loop built on it can swallow the cancel meant to stop it. This helper
runs siblings with plain ``asyncio.wait``: the first to finish ends the others, its exception
is raised as is, and a cancellation of the caller always propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_until_first_exits"]


async def run_until_first_exits(*jobs: tuple[str, Coroutine[Any, Any, None]]) -> None:
    """Run each ``(name, coroutine)`` as a named task until one returns or raises.

    The others are then cancelled and awaited. The first one's exception, if any, is raised.
    """
    tasks = [asyncio.create_task(coroutine, name=name) for name, coroutine in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
    first = next(task for task in tasks if task in done)
    if not first.cancelled() and (exc := first.exception()) is not None:
        raise exc

"""Sibling tasks: the first to exit ends the others; failures and cancels are never lost."""

from __future__ import annotations

import asyncio

import pytest

from edge.tasks import run_until_first_exits


class BoomError(Exception):
    pass


async def fail_after(delay: float) -> None:
    await asyncio.sleep(delay)
    raise BoomError


async def forever(ended: list[str], name: str) -> None:
    try:
        await asyncio.sleep(3600)
    finally:
        ended.append(name)


async def test_first_failure_is_raised_and_siblings_are_stopped() -> None:
    ended: list[str] = []
    with pytest.raises(BoomError):
        await run_until_first_exits(("a", fail_after(0.01)), ("b", forever(ended, "b")))
    assert ended == ["b"]


async def test_a_return_ends_the_siblings_quietly() -> None:
    ended: list[str] = []
    await run_until_first_exits(("a", asyncio.sleep(0.01)), ("b", forever(ended, "b")))
    assert ended == ["b"]


async def test_a_cancel_arriving_with_a_failure_still_cancels_the_caller() -> None:
    ended: list[str] = []

    async def loop_like_a_session() -> None:
        while True:  # a reconnect loop: a handled failure must not swallow the cancel
            try:
                await run_until_first_exits(("a", fail_after(0.05)), ("b", forever(ended, "b")))
            except BoomError:
                continue

    task = asyncio.create_task(loop_like_a_session())
    for delay in (0.049, 0.05, 0.051, 0.1):
        await asyncio.sleep(delay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert task.cancelled()

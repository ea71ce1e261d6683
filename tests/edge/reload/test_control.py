"""The control socket: the caller named by its peer credentials, mode 0660, a stale socket
file replaced, a live one left to its owner."""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.reload.changes import ChangedBy
from edge.reload.control import ControlServer, request_reload


@pytest.fixture
def socket_path() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="ie-", dir="/tmp"))
    yield directory / "run" / "control.sock"
    shutil.rmtree(directory, ignore_errors=True)


def wait_answering(path: Path) -> dict[str, Any]:
    """The first answer of the server at ``path`` (polled for up to 5 s, in a thread)."""
    deadline = time.monotonic() + 5
    while (answer := _answer(path)) is None:
        assert time.monotonic() < deadline, "the control socket never answered"
        time.sleep(0.02)
    return answer


def mode_of(path: Path) -> int | None:
    return stat.S_IMODE(path.stat().st_mode) if path.exists() else None


async def test_a_reload_request_is_answered_with_the_callers_os_user(socket_path: Path) -> None:
    seen: list[ChangedBy] = []

    async def handler(by: ChangedBy) -> dict[str, Any]:
        seen.append(by)
        return {"result": "applied", "changes": ["limit x: 1 -> 2"]}

    server = asyncio.create_task(ControlServer(socket_path, handler).run(), name="control")
    try:
        answer = await asyncio.to_thread(wait_answering, socket_path)
        assert mode_of(socket_path) == 0o660
        assert answer == {"result": "applied", "changes": ["limit x: 1 -> 2"]}
        assert seen == [ChangedBy(means="control-socket", user=getpass.getuser(), uid=os.getuid())]

        def garbage() -> bytes:
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(str(socket_path))
                client.sendall(b"shutdown please\n")
                return client.recv(4096)

        assert b"unknown request" in await asyncio.to_thread(garbage)
        assert len(seen) == 1
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    assert mode_of(socket_path) is None  # removed


async def test_a_stale_socket_is_replaced_and_a_live_one_left_alone(socket_path: Path) -> None:
    async def handler(by: ChangedBy) -> dict[str, Any]:
        return {"result": "unchanged"}

    socket_path.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(socket_path))  # bound, never listening: what a killed daemon leaves
    first = asyncio.create_task(ControlServer(socket_path, handler).run(), name="control-1")
    try:
        assert await asyncio.to_thread(wait_answering, socket_path) == {"result": "unchanged"}
        second = ControlServer(socket_path, handler)
        await asyncio.wait_for(second.run(), 5)  # returns at once: the socket is taken
        assert await asyncio.to_thread(_answer, socket_path) == {"result": "unchanged"}
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)


def _answer(path: Path) -> dict[str, Any] | None:
    try:
        return request_reload(path, timeout_s=2)
    except OSError:
        return None

"""The control socket: a Unix socket the running daemon listens on for ``reload``.

Protocol: the client sends one JSON line ``{"command": "reload"}``; the daemon answers one
JSON line (:class:`ReloadResult` as a dict) and closes. Who asks is named by the socket's
peer credentials (``SO_PEERCRED``: the OS user of the client process), never by what the
client says. The socket is created with mode 0660 in the runtime directory: its group decides
who may reload. A socket file left by a dead daemon is replaced; one a live daemon answers on
is left alone (this daemon then runs without a control socket, logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from edge.reload.changes import ChangedBy

__all__ = ["ControlServer", "peer_user", "request_reload"]

log = logging.getLogger(__name__)

REQUEST_MAX = 4096  # bytes of a request line
REQUEST_TIMEOUT_S = 5.0  # s a client has to send its request
SOCKET_MODE = 0o660
CLIENT_TIMEOUT_S = 60.0  # s the command waits for the daemon's answer

Handler = Callable[[ChangedBy], Awaitable[dict[str, Any]]]


def peer_user(sock: socket.socket) -> ChangedBy:
    """The OS user at the other end of a connected Unix socket (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid:{uid}"
    return ChangedBy(means="control-socket", user=name, uid=uid)


class ControlServer:
    """Serves ``handler`` on the Unix socket at ``path`` until cancelled."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler

    async def run(self) -> None:
        """Listen until cancelled; then remove the socket file (if it is still ours)."""
        if not await _claim(self.path):
            return
        server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, SOCKET_MODE)
        inode = self.path.stat().st_ino
        log.info("control socket listening", extra={"path": str(self.path)})
        try:
            async with server:
                await server.serve_forever()
        finally:
            with contextlib.suppress(OSError):
                if self.path.stat().st_ino == inode:
                    self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await self._answer(reader, writer)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, TimeoutError) as exc:
            log.warning("control request dropped", extra={"error": str(exc) or type(exc).__name__})
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any]:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            line = await reader.readline()
        try:
            request = json.loads(line[:REQUEST_MAX])
        except ValueError:
            request = None
        if not isinstance(request, dict) or request.get("command") != "reload":
            return {
                "result": "error",
                "errors": ['control: unknown request; expected {"command": "reload"}'],
            }
        return await self._handler(peer_user(writer.get_extra_info("socket")))


async def _claim(path: Path) -> bool:
    """Make ``path`` free for a new socket: False when a live daemon answers on it."""
    if _free(path):
        return True
    try:
        _, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        _remove(path)  # left by a daemon that is gone
        return True
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    log.error(
        "control socket in use by another process; reload by SIGHUP only",
        extra={"path": str(path), "hint": "set control.socket to a path of this edge's own"},
    )
    return False


def _free(path: Path) -> bool:
    """Whether nothing is at ``path`` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return not path.exists() and not path.is_symlink()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def request_reload(path: Path, timeout_s: float = CLIENT_TIMEOUT_S) -> dict[str, Any]:
    """Ask the daemon listening at ``path`` to reload; its answer. Raises ``OSError`` when
    no daemon answers there, ``ValueError``/``TypeError`` on an answer that is not a JSON
    object."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        sock.sendall(b'{"command": "reload"}\n')
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = json.loads(b"".join(chunks))
    if not isinstance(answer, dict):
        raise TypeError("the daemon's answer is not a JSON object")
    return answer

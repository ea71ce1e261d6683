"""Serve a :class:`~.runner.Simulation` on a pseudo-terminal or a TCP port on loopback.

:func:`serve` runs the device clock and one port in a task group until cancelled:

- :class:`PtyPort`: a pty in raw mode; the host opens its slave side exactly as it opens a
  serial adapter. ``link`` keeps a stable symlink (like ``/dev/serial/by-id/...``) pointing at
  the current slave. The simulator keeps its own slave descriptor open, so the host may open
  and close the port at will (pyserial flushes input on open: the host should ask first, as
  request/response protocols do, or wait for the next line of a streaming one).
- :class:`TcpPort`: a listener on ``host:port`` (a terminal server); one host at a time, a
  newer connection replaces the older one.

While a ``disconnect`` window is open the port is gone: the pty is closed and its symlink
removed (the host's reads fail as with a pulled USB adapter), or the listener and its
connection are closed (connections are refused). When the window closes the port comes back
(a new pty, so a new slave path: ``announce`` is called again with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import socket
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from drivers.sim.runner import Simulation

__all__ = ["Port", "PtyPort", "TcpPort", "serve"]

Announce = Callable[[str], None]
_READ_SIZE = 4096


class Port(Protocol):
    """Where a simulation is served; ``run`` returns only by cancellation."""

    async def run(self, simulation: Simulation, announce: Announce) -> None: ...


async def serve(simulation: Simulation, port: Port, announce: Announce) -> None:
    """Run ``simulation`` on ``port`` until cancelled; ``announce`` gets the path or URL the
    host should open each time the port (re)appears."""
    async with asyncio.TaskGroup() as group:
        group.create_task(simulation.run(), name="sim.device")
        group.create_task(port.run(simulation, announce), name="sim.port")


class _PtyChannel:
    """The master side of a pty as a :class:`~.runner.Channel`."""

    def __init__(self, master: int, name: str) -> None:
        self.name = name
        self._fd = master

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        while True:
            try:
                return os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                pass
            except OSError:
                return b""
            readable: asyncio.Future[None] = loop.create_future()
            loop.add_reader(self._fd, _wake, readable)
            try:
                await readable
            finally:
                loop.remove_reader(self._fd)

    def write(self, data: bytes) -> None:
        # A full pty buffer means the host is not reading: what does not fit is lost.
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._fd, data)

    async def drain(self) -> None:
        return None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@contextlib.contextmanager
def _open_pty(link: Path | None) -> Iterator[tuple[int, str]]:
    """A raw pty: (master fd, the path the host opens); the symlink goes with it."""
    master, slave = pty.openpty()
    try:
        tty.setraw(slave)
        os.set_blocking(master, False)
        slave_name = os.ttyname(slave)
        if link is not None:
            temporary = link.with_name(link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(slave_name)
            temporary.replace(link)
        yield master, str(link) if link is not None else slave_name
    finally:
        if link is not None and link.is_symlink() and os.readlink(link) == slave_name:
            link.unlink()
        os.close(master)
        os.close(slave)


class PtyPort:
    """A pseudo-terminal, reachable at ``link`` (a symlink) if given, else at its slave path."""

    def __init__(self, link: Path | None = None) -> None:
        if link is not None and link.exists() and not link.is_symlink():
            raise ValueError(f"{link} exists and is not a symlink; it will not be replaced")
        self.link = link

    async def run(self, simulation: Simulation, announce: Announce) -> None:
        while True:
            await simulation.until(lambda wire: not wire.disconnected)
            with _open_pty(self.link) as (master, path):
                announce(path)
                async with asyncio.TaskGroup() as group:
                    session = group.create_task(
                        simulation.attach(_PtyChannel(master, f"pty[{path}]")),
                        name=f"sim.pty[{path}].session",
                    )
                    await simulation.until(lambda wire: wire.disconnected)
                    session.cancel()


class _TcpChannel:
    """One accepted TCP connection as a :class:`~.runner.Channel`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        peer = writer.get_extra_info("peername")
        self.name = f"tcp[{peer[0]}:{peer[1]}]" if peer else "tcp"

    async def read(self) -> bytes:
        try:
            return await self._reader.read(_READ_SIZE)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(OSError):
            await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


class TcpPort:
    """A TCP listener on ``host:port`` (``port`` 0: a free one, kept across disconnects)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The pyserial URL of the port (``socket://host:port``)."""
        return f"socket://{self.host}:{self.port}"

    async def run(self, simulation: Simulation, announce: Announce) -> None:
        announced = False
        while True:
            await simulation.until(lambda wire: not wire.disconnected)
            listener = socket.create_server((self.host, self.port))
            listener.setblocking(False)
            self.port = listener.getsockname()[1]
            try:
                if not announced:
                    announce(self.url)
                    announced = True
                async with asyncio.TaskGroup() as group:
                    accepting = group.create_task(
                        self._accept(simulation, listener, group), name=f"sim.tcp[{self.port}]"
                    )
                    await simulation.until(lambda wire: wire.disconnected)
                    accepting.cancel()
                    self._end_sessions()
            finally:
                listener.close()

    async def _accept(
        self, simulation: Simulation, listener: socket.socket, group: asyncio.TaskGroup
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            connection, _ = await loop.sock_accept(listener)
            self._end_sessions()  # one host at a time: the newest wins
            reader, writer = await asyncio.open_connection(sock=connection)
            channel = _TcpChannel(reader, writer)
            task = group.create_task(self._session(simulation, channel), name=f"sim.{channel.name}")
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)

    async def _session(self, simulation: Simulation, channel: _TcpChannel) -> None:
        try:
            await simulation.attach(channel)
        finally:
            channel.close()

    def _end_sessions(self) -> None:
        for task in self._sessions:
            task.cancel()

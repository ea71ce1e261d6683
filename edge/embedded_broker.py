"""A Mosquitto broker for the demo, on a free loopback port, with its own config and folder.

It is the real broker (Debian's ``mosquitto``), started as a child process; the demo stops it
on exit. ``scripts/setup`` installs it when missing. The free port is chosen before Mosquitto
binds it, so another process may take it in between: Mosquitto then exits at once and the
next attempt takes another port. Its start is judged by its own log ("running" once its
listener is bound), not by a connection, which another process on the port would accept too.
What Mosquitto printed goes with the error when all fail.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import tempfile
from pathlib import Path

__all__ = ["BrokerUnavailableError", "EmbeddedBroker"]


ATTEMPTS = 3


class BrokerUnavailableError(RuntimeError):
    """No mosquitto binary, or it would not start."""


def _find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(path).exists():
            return path
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedBroker:
    """``async with EmbeddedBroker() as broker``: ``broker.url`` while it runs."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._directory = tempfile.TemporaryDirectory(prefix="infusion-edge-broker-")
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def __aenter__(self) -> EmbeddedBroker:
        binary = _find_mosquitto()
        if binary is None:
            raise BrokerUnavailableError(
                "mosquitto is not installed: run scripts/setup, or give --broker mqtt://HOST:PORT"
            )
        for attempt in range(ATTEMPTS):
            if attempt:  # another process took the port between the choice and the bind
                self.port = _free_port()
            if await self._start(binary):
                return self
            await self._stop_process()
        said = self._said().strip().splitlines()
        self._directory.cleanup()
        raise BrokerUnavailableError(
            f"mosquitto could not listen on 127.0.0.1:{self.port}"
            + (f" ({said[-1].strip()})" if said else "")
            + "; give --broker mqtt://HOST:PORT to use a running broker"
        )

    def _said(self) -> str:
        log = Path(self._directory.name) / "mosquitto.log"
        return log.read_text(errors="replace") if log.exists() else ""

    async def _start(self, binary: str) -> bool:
        """Start Mosquitto on ``self.port``; False if it exited without listening."""
        directory = Path(self._directory.name)
        config = directory / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"set_tcp_nodelay true\nuser {getpass.getuser()}\n"
        )
        # Its own session: Ctrl-C in the terminal reaches the demo only, which stops the
        # broker last, after the daemon has flushed and said "offline".
        with (directory / "mosquitto.log").open("wb") as said:
            self._process = await asyncio.create_subprocess_exec(
                binary,
                "-c",
                str(config),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=said,
                start_new_session=True,
            )
        # Mosquitto logs "... running" once its listener is bound, and exits when it cannot
        # bind: a connection alone could reach another process holding the port.
        for _ in range(100):  # up to 5 s
            if self._process.returncode is not None:
                return False
            if " running" in self._said():
                return await self._answers()
            await asyncio.sleep(0.05)
        await self.__aexit__()
        raise BrokerUnavailableError(
            f"mosquitto did not start listening on 127.0.0.1:{self.port} within 5 s; "
            "give --broker mqtt://HOST:PORT to use a running broker"
        )

    async def _answers(self) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    async def _stop_process(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                async with asyncio.timeout(5):
                    await self._process.wait()
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_process()
        self._directory.cleanup()

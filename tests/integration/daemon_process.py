"""Run ``infusion-edge`` as a subprocess and follow its JSON log lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

__all__ = ["DaemonProcess", "LogLine", "running_daemon"]

LogLine = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parents[2]


class DaemonProcess:
    """The daemon in a subprocess; every JSON log line it prints is kept in ``lines``, the
    event loop's time at which each arrived in ``arrived``."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, own_group: bool = False
    ) -> None:
        self.args = args
        self.own_group = own_group
        self.env = {**os.environ, **(env or {})}
        self.lines: list[LogLine] = []
        self.arrived: list[float] = []
        self.raw: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None
        self._new_line = asyncio.Event()

    async def start(self) -> None:
        """Start ``python -m edge.cli ARGS``."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge.cli",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=REPO_ROOT,
            start_new_session=self.own_group,
        )
        self._pump = asyncio.create_task(self._read_lines(), name="daemon-log-reader")

    async def _read_lines(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            self.raw.append(text)
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict):
                self.lines.append(line)
                self.arrived.append(asyncio.get_running_loop().time())
                self._new_line.set()

    async def wait_for(
        self, predicate: Callable[[LogLine], bool], timeout: float = 15.0, after: int = 0
    ) -> LogLine:
        """The first line from index ``after`` on that satisfies ``predicate``."""
        async with asyncio.timeout(timeout):
            index = after
            while True:
                while index < len(self.lines):
                    if predicate(self.lines[index]):
                        return self.lines[index]
                    index += 1
                self._new_line.clear()
                await self._new_line.wait()

    def index_after(self, moment: float) -> int:
        """The index of the first line that arrived after loop time ``moment`` (or the next)."""
        return next((i for i, at in enumerate(self.arrived) if at > moment), len(self.arrived))

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to the daemon."""
        assert self._process is not None
        self._process.send_signal(signum)

    def signal_group(self, signum: int | None = None) -> None:
        """Send ``signum`` to the daemon's whole process group, as Ctrl-C in a terminal does
        (needs ``own_group=True``)."""
        assert self._process is not None
        assert self.own_group
        os.killpg(self._process.pid, signal.SIGINT if signum is None else signum)

    async def wait(self, timeout: float = 10.0) -> int:
        """Wait for exit; the exit code."""
        assert self._process is not None
        async with asyncio.timeout(timeout):
            code = await self._process.wait()
            if self._pump is not None:
                await self._pump
        return code

    async def stop(self) -> None:
        """Kill the daemon if it still runs and collect it."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        if self._pump is not None:
            await self._pump

    def output(self) -> str:
        """Everything the daemon printed, for assertion messages."""
        return "\n".join(self.raw[-60:])


@contextlib.asynccontextmanager
async def running_daemon(config: Path) -> AsyncIterator[DaemonProcess]:
    """``infusion-edge run --config CONFIG`` for the duration of the block."""
    process = DaemonProcess("run", "--config", str(config))
    await process.start()
    try:
        yield process
    finally:
        await process.stop()

"""The connection flood of :mod:`bench.http_flood`, in a process of its own.

The flood runs apart from the process that measures (the MQTT subscriber and the nurse), so
that its hundreds of sockets never delay the measurement's own event loop, and so that its CPU
can be seen and pinned apart. ``idle`` sockets never send a byte (each is opened again
:data:`REOPEN_S` after the server closed it, so that many are open or opening throughout);
``streams`` attempts at ``GET /api/events`` go round the session ``cookies`` given, the
admitted ones read until the server or the flood ends them.

Usage: ``python -m bench.flood_client PORT IDLE STREAMS COOKIE...``. Commands come on stdin,
one a line: ``on`` starts the flood, ``on whole`` starts it with streams that ask for whole
beds (``?beds=whole``: no deltas, as before they existed), ``off`` stops it (every socket
closed). After each command
one JSON line goes to stdout: the Unix time it took effect and the counters so far
(``streams``: attempts by HTTP status, 0 for no answer; ``stream_bytes``: bytes the admitted
streams read, headers included; ``idle_opened``; ``idle_closed``: closed by the server).
End of stdin: exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Flood", "main"]

COOKIE = "infusion_edge_session"
REOPEN_S = 1.0  # an idle socket closed by the server is opened again after this


@dataclass
class Flood:
    """What the flood did so far."""

    streams: Counter[int] = field(default_factory=Counter)
    stream_bytes: int = 0
    idle_opened: int = 0
    idle_closed: int = 0

    def report(self, at: float) -> str:
        return json.dumps(
            {
                "at": at,
                "streams": {str(k): v for k, v in sorted(self.streams.items())},
                "stream_bytes": self.stream_bytes,
                "idle_opened": self.idle_opened,
                "idle_closed": self.idle_closed,
            }
        )


async def _idle(port: int, flood: Flood) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(REOPEN_S)
            continue
        flood.idle_opened += 1
        try:
            with contextlib.suppress(ConnectionError):
                while await reader.read(4096):
                    pass
            flood.idle_closed += 1
        finally:
            writer.close()
        await asyncio.sleep(REOPEN_S)


async def _stream(port: int, cookie: str, flood: Flood, query: str) -> None:
    request = (
        f"GET /api/events{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Accept: text/event-stream\r\nCookie: {COOKIE}={cookie}\r\n\r\n"
    ).encode()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        flood.streams[0] += 1
        return
    status = 0
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split()[1])
        flood.streams[status] += 1
        flood.stream_bytes += len(head)
        while data := await reader.read(65536):
            flood.stream_bytes += len(data)
    except (ConnectionError, asyncio.IncompleteReadError):
        if not status:
            flood.streams[0] += 1
    finally:
        writer.close()


def _start(
    port: int, idle: int, streams: int, cookies: list[str], flood: Flood, query: str
) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(_idle(port, flood)) for _ in range(idle)]
    tasks += [
        asyncio.create_task(_stream(port, cookies[i % len(cookies)], flood, query))
        for i in range(streams)
    ]
    return tasks


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def main(port: int, idle: int, streams: int, cookies: list[str]) -> None:
    """Obey the commands on stdin (see the module docstring)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = idle + streams + 64
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    flood = Flood()
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = line.strip()
            if command.startswith("on") and not tasks:
                query = "?beds=whole" if command == "on whole" else ""
                tasks = _start(port, idle, streams, cookies, flood, query)
            elif command == "off":
                await _stop(tasks)
                tasks = []
            print(flood.report(time.time()), flush=True)
    finally:
        await _stop(tasks)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    asyncio.run(main(int(arguments[0]), int(arguments[1]), int(arguments[2]), arguments[3:]))

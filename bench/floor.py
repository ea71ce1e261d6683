"""The floor: what the parts every reading must pass through cost alone, in CPU µs per reading.

A reading crosses a serial link (a poll out, an answer in), is decoded, judged by the alarm
engine, encoded, stored and published at QoS 1. Each part is measured here at its cheapest,
warm and alone, with none of the daemon's glue between them:

- ``link``: bare asyncio stream links, no decoding. ``links`` TCP connections to a server in
  another process (so its CPU is not counted); each link, ``rate_hz`` times a second on the
  daemon's tick grid (:func:`edge.session.tick_grid_at`), writes a 38-byte poll and reads a
  whole answer: 718 bytes on even links (a B. Braun pump's answer), 210 on odd ones (an
  IntelliVue poll result): the sizes the simulators send. CPU of this process (user +
  system) per exchange, over ``seconds`` after a warm-up.
- ``publish``: the bare aiomqtt client's own CPU per QoS 1 message with 20 in flight (the
  broker's Receive Maximum), PUBACKs included, messages of the telemetry's size.
- the stages of :mod:`bench.stages` (conversation, alarm engine, JSON, outbox put).

Their sum is a lower bound for the daemon's CPU per reading on this machine with this stack
(CPython, asyncio, paho via aiomqtt, pydantic, SQLite): the daemon does each of these at least
once per reading, and more besides (the outbox's deletes after PUBACK, watchdogs, metrics,
the hand-offs between tasks). Code that runs once per reading in a loop that sleeps between
bursts also runs from colder caches than these loops do, so the real cost lies above the sum.

Usage: ``python -m bench.floor [--links 200] [--rate-hz 1] [--seconds 10]``. Prints the link
floor; :mod:`bench.run_all` puts every part side by side with the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bench.baselines import bare_aiomqtt
from edge.session import tick_grid_at

__all__ = ["LinkFloor", "link_floor", "publish_cpu_us"]

POLL = b"P" * 38  # bytes a host sends per poll
ANSWERS = {ord("P"): b"A" * 718, ord("M"): b"B" * 210}  # first byte of the poll -> answer
WARM_UP_S = 3.0
SERVER_START_S = 10.0
PUBLISH_WINDOW = 20


@dataclass(frozen=True, slots=True)
class LinkFloor:
    """CPU µs (user + system) of this process per poll-and-answer exchange."""

    links: int
    rate_hz: float
    exchanges_per_s: float
    cpu_us_per_exchange: float


async def _serve() -> None:
    """The device side: answer each 38-byte poll at once; print the port, run until EOF on
    stdin (the parent closing the pipe)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                poll = await reader.readexactly(len(POLL))
                writer.write(ANSWERS[poll[0]])
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    stdin = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.read()
    server.close()


@contextlib.asynccontextmanager
async def _server() -> AsyncIterator[int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.floor",
        "--serve",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), SERVER_START_S)
        yield int(json.loads(line)["port"])
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _link(
    port: int, poll: bytes, period_s: float, phase_s: float, until: float, count: list[int]
) -> None:
    """One link: connect, then poll on the grid every ``period_s`` until ``until`` (monotonic
    s), counting each whole answer in ``count[0]``."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    size = len(ANSWERS[poll[0]])
    due = loop.time() + phase_s
    try:
        while due < until:
            await asyncio.sleep(max(tick_grid_at(due) - loop.time(), 0.0))
            writer.write(poll)
            await reader.readexactly(size)
            count[0] += 1
            due += period_s
    finally:
        writer.close()


async def link_floor(links: int, rate_hz: float, seconds: float) -> LinkFloor:
    """Run ``links`` bare links at ``rate_hz`` for a warm-up and ``seconds``; the CPU of this
    process per exchange during the measured ``seconds``."""
    period_s = 1.0 / rate_hz
    async with _server() as port:
        loop = asyncio.get_running_loop()
        until = loop.time() + WARM_UP_S + seconds + period_s
        count = [0]
        polls = [POLL if i % 2 == 0 else b"M" + POLL[1:] for i in range(links)]
        tasks = [
            asyncio.create_task(_link(port, polls[i], period_s, i * period_s / links, until, count))
            for i in range(links)
        ]
        try:
            await asyncio.sleep(WARM_UP_S)
            count0, cpu0, wall0 = count[0], time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            exchanges = count[0] - count0
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    if exchanges == 0:
        raise RuntimeError("no exchange completed: the link floor's server did not answer")
    return LinkFloor(links, rate_hz, exchanges / wall, cpu / exchanges * 1e6)


async def publish_cpu_us(port: int, count: int) -> float:
    """The bare aiomqtt client's CPU µs (this process) per QoS 1 telemetry-sized message, 20
    in flight, against the broker on ``port``."""
    started = time.process_time()
    await bare_aiomqtt(port, count, PUBLISH_WINDOW)
    return (time.process_time() - started) / count * 1e6


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--links", type=int, default=200)
    parser.add_argument("--rate-hz", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _parse()
    if arguments.serve:
        asyncio.run(_serve())
    else:
        print(asyncio.run(link_floor(arguments.links, arguments.rate_hz, arguments.seconds)))

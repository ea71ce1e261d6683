"""Ceilings on the same broker: a bare aiomqtt QoS 1 loop and ``mosquitto_pub -l``.

- ``bare_aiomqtt``: ``client.publish`` of telemetry-sized payloads (those of
  :mod:`bench.publish`) with ``window`` publishes in flight; the best of several windows is the
  client library's ceiling (no storage, no envelope building).
- ``mosquitto_pub``: ``mosquitto_pub -l -q 1`` publishing one line of stdin per message, a C
  client: the broker's ceiling as seen from one connection.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import aiomqtt

from bench.publish import TOPICS, payload

__all__ = ["WINDOWS", "bare_aiomqtt", "mosquitto_pub"]

WINDOWS = (1, 20, 100, 500)


async def bare_aiomqtt(port: int, count: int, window: int) -> float:
    """Messages/s for ``count`` QoS 1 publishes with ``window`` in flight."""
    topic = TOPICS.telemetry("bed-1", "m-1")
    body = payload(1)
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=window) as client:
        client.pending_calls_threshold = 10 * window + 10
        started = time.perf_counter()
        for base in range(0, count, window):
            await asyncio.gather(
                *(client.publish(topic, body, qos=1) for _ in range(min(window, count - base)))
            )
        return count / (time.perf_counter() - started)


async def mosquitto_pub(port: int, count: int) -> float:
    """Messages/s of ``mosquitto_pub -l -q 1`` sending ``count`` lines."""
    binary = shutil.which("mosquitto_pub")
    assert binary, "mosquitto_pub is not installed (Debian: mosquitto-clients)"
    lines = (payload(1) + b"\n") * count
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        binary,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-q",
        "1",
        "-l",
        "-t",
        TOPICS.telemetry("bed-1", "m-1"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await process.communicate(lines)
    return count / (time.perf_counter() - started)

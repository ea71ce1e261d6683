"""Ceilings on the same broker: a bare aiomqtt QoS 1 loop and ``mosquitto_pub -l``.

- ``bare_aiomqtt``: ``client.publish`` of telemetry-sized payloads (those of
  :mod:`bench.publish`) with ``window`` publishes in flight; the best of several windows is the
  client library's ceiling (no storage, no envelope building).
- ``bare_aiomqtt_delivered``: the same loop publishing under the bench's site while the
  bench's own subscriber (:class:`bench.pipeline.Subscriber`, which checks every ``seq``) takes
  every message: the rate the subscriber receives them, from its first arrival to its last.
  These are the conditions a replay is measured in (the broker forwards each message, the
  subscriber parses it, on the same cores); the replay is compared with both.
- ``mosquitto_pub``: ``mosquitto_pub -l -q 1`` publishing one line of stdin per message, a C
  client: the broker's ceiling as seen from one connection.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Sequence

import aiomqtt

from bench.common import SITE
from bench.pipeline import subscribed
from bench.publish import TOPICS, payload
from edge.publish.topics import Topics

__all__ = ["WINDOWS", "bare_aiomqtt", "bare_aiomqtt_delivered", "mosquitto_pub"]

DELIVERED_LIMIT_S = 60.0  # s for the subscriber to receive a baseline's messages

WINDOWS = (1, 20, 100, 500)


def _client(port: int, window: int) -> aiomqtt.Client:
    """A bare aiomqtt client allowed ``window`` publishes in flight."""
    client = aiomqtt.Client("127.0.0.1", port, max_inflight_messages=window)
    client.pending_calls_threshold = 10 * window + 10
    return client


async def _publish(
    client: aiomqtt.Client, topic: str, bodies: Sequence[bytes], window: int
) -> None:
    """Publish ``bodies`` at QoS 1, ``window`` at a time, each window awaited whole."""
    for base in range(0, len(bodies), window):
        await asyncio.gather(
            *(client.publish(topic, body, qos=1) for body in bodies[base : base + window])
        )


async def bare_aiomqtt(port: int, count: int, window: int) -> float:
    """Messages/s for ``count`` QoS 1 publishes with ``window`` in flight."""
    topic = TOPICS.telemetry("bed-1", "m-1")
    bodies = [payload(1)] * count
    async with _client(port, window) as client:
        started = time.perf_counter()
        await _publish(client, topic, bodies, window)
        return count / (time.perf_counter() - started)


async def bare_aiomqtt_delivered(port: int, count: int, window: int) -> float:
    """Messages/s the bench subscriber receives of ``count`` QoS 1 telemetry messages a bare
    aiomqtt client publishes under the bench's site with ``window`` in flight."""
    session = uuid.uuid4().hex
    topic = Topics("infusion-edge/v1", SITE).telemetry("bed-1", "m-1")
    bodies = [payload(n).replace(b"0" * 32, session.encode(), 1) for n in range(1, count + 1)]
    async with subscribed(port) as subscriber, _client(port, window) as client:
        await _publish(client, topic, bodies, window)
        deadline = time.monotonic() + DELIVERED_LIMIT_S
        while time.monotonic() < deadline:
            ours = [a.at for a in subscriber.arrivals if a.session == session]
            if len(ours) >= count:
                return count / max(ours[-1] - ours[0], 1e-3)
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the subscriber received {len(ours)} of {count} baseline messages")


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

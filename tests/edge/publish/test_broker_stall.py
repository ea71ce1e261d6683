"""A broker that accepts the connection but stops acknowledging: the publisher notices within
``mqtt.ack_timeout_s``, drops the connection, counts the stall, never reads as connected to a
silent broker, and keeps in the outbox whatever was not acknowledged, for the real broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.publish.mqtt import Publisher
from tests.edge.publish.broker_client import subscribed
from tests.edge.publish.test_publisher import ROOT, outbox_at, publishing, telemetry
from tests.mosquitto import Mosquitto
from tests.silent_broker import SilentBroker

pytestmark = pytest.mark.integration

ACK_TIMEOUT_S = 1.0
SLACK_S = 3.0  # detection may lag the deadline by this much on a loaded machine
CLIENT_ID = "infusion-edge-edge-1"


async def watch_connected(publisher: Publisher, stalls: int, timeout: float) -> list[bool]:
    """``counters.connected`` every 20 ms until ``stalls`` stalls were counted."""
    seen: list[bool] = []
    for _ in range(int(timeout / 0.02)):  # bounded in count and time
        seen.append(publisher.counters.connected)
        if publisher.counters.stalls >= stalls:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"{stalls} stalls not counted within {timeout} s: {publisher.counters}")


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_a_stalled_broker_is_dropped_and_what_it_did_not_acknowledge_is_kept(
    tmp_path: Path, mosquitto: Mosquitto, protocol: str
) -> None:
    stored = [telemetry(f"pump-{n % 2}", n) for n in range(30)]
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,  # its session survives the restart
        outbox_at(tmp_path / "outbox.sqlite") as outbox,
    ):
        mosquitto.stop()
        # The fake acknowledges the online status and 10 messages, then falls silent for good.
        async with SilentBroker(mosquitto.port, acknowledge=11) as fake:
            await outbox.put(stored)
            async with publishing(
                outbox, mosquitto.url, protocol=protocol, ack_timeout_s=ACK_TIMEOUT_S
            ) as publisher:
                await watch_connected(publisher, stalls=1, timeout=15)
                detected = asyncio.get_running_loop().time()
                assert fake.first_swallowed_at is not None
                assert detected - fake.first_swallowed_at <= ACK_TIMEOUT_S + SLACK_S
                assert not publisher.counters.connected
                assert publisher.readiness() == "no PUBACK for 1 s"
                assert publisher.counters.delivered == 10
                assert outbox.depth == 20
                # Reconnected with backoff; its online status is not acknowledged: a second
                # stall, and the publisher never read as connected meanwhile.
                seen = await watch_connected(publisher, stalls=2, timeout=15)
                assert not any(seen)
                assert fake.connects_of(CLIENT_ID) >= 2
                levels = {level for client, level in fake.connects if client == CLIENT_ID}
                assert levels == {5 if protocol == "5" else 4}
                assert publisher.counters.connect_failures == 0
                assert publisher.counters.delivered == 10
                assert outbox.depth == 20

                await fake.close()
                mosquitto.start()
                await subscriber.wait_until(lambda: len(subscriber.on("/telemetry")) >= 20)
                for _ in range(100):  # bounded: the deletions follow the PUBACKs
                    if outbox.depth == 0:
                        break
                    await asyncio.sleep(0.05)
                assert outbox.depth == 0
                assert publisher.counters.connected
                assert publisher.readiness() is True
                assert publisher.counters.delivered == 30
    received = [(m.topic, m.payload) for m in subscriber.on("/telemetry")]
    assert received == [(m.topic, m.payload) for m in stored[10:]]  # once each, in order
    assert len([topic for topic in fake.acknowledged if topic.endswith("/telemetry")]) == 10

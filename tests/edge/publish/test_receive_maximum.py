"""The broker's Receive Maximum (MQTT 5) bounds the publishes in flight.

A backlog drains with two batches of 100 in flight, but a broker may allow fewer: HiveMQ and
EMQX disconnect a client that exceeds the Receive Maximum they sent in the CONNACK (reason
0x93), and a publisher that kept exceeding it would reconnect forever and never drain. The
publisher keeps to the broker's figure; the fake broker acknowledges in rounds every 10 ms so
that publishes pile up as they would on a busy broker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.edge.publish.test_publisher import outbox_at, publishing, telemetry
from tests.mosquitto import free_port
from tests.strict_broker import StrictBroker

pytestmark = pytest.mark.integration

BACKLOG = 500


async def drain_backlog(tmp_path: Path, receive_maximum: int) -> StrictBroker:
    """Publish a stored backlog of ``BACKLOG`` telemetry messages to a :class:`StrictBroker`
    advertising ``receive_maximum``; the broker, once every message was delivered (15 s at
    most)."""
    async with (
        StrictBroker(free_port(), receive_maximum=receive_maximum) as broker,
        outbox_at(tmp_path / "outbox.sqlite") as outbox,
    ):
        await outbox.put([telemetry(f"pump-{n % 4}", n) for n in range(BACKLOG)])
        async with publishing(outbox, f"mqtt://127.0.0.1:{broker.port}", protocol="5") as pub:
            for _ in range(300):  # bounded: 15 s
                if pub.counters.delivered >= BACKLOG:
                    break
                await asyncio.sleep(0.05)
            assert pub.counters.delivered >= BACKLOG
    return broker


async def test_a_backlog_drains_within_the_brokers_receive_maximum(tmp_path: Path) -> None:
    broker = await drain_backlog(tmp_path, receive_maximum=10)
    assert broker.refusals == 0
    assert broker.connects == 1
    assert 1 < broker.most_in_flight <= 10
    telemetry_topics = [t for t in broker.acknowledged if t.endswith("/telemetry")]
    assert len(telemetry_topics) == BACKLOG


async def test_a_broker_that_allows_many_gets_the_full_window(tmp_path: Path) -> None:
    broker = await drain_backlog(tmp_path, receive_maximum=65535)
    assert broker.refusals == 0
    assert broker.most_in_flight > 100  # two batches of 100 went out before the first PUBACKs

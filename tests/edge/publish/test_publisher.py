"""The publisher and outbox against a real Mosquitto: nothing lost, refusals seen."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import trustme

from edge.backoff import Backoff
from edge.config import MqttConfig
from edge.publish.ack_signing import Verdict, sign
from edge.publish.ack_verifier import AckVerifier
from edge.publish.mqtt import Publisher
from edge.publish.outbox import MessageClass, NewMessage, Outbox
from edge.publish.payloads import AckCommand, EnvelopeFactory
from edge.publish.topics import AckTopic, Topics
from tests.edge.publish.broker_client import subscribed
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.integration

TOPICS = Topics("infusion-edge/v1", "test")
ROOT = f"{TOPICS.root}/#"
ACK_SECRET = "station-1's secret, long enough for HMAC"


def telemetry(device: str, seq: int, bed: str = "bed-1") -> NewMessage:
    payload = json.dumps({"device": device, "seq": seq}).encode()
    return NewMessage(TOPICS.telemetry(bed, device), payload, MessageClass.TELEMETRY, expiry_s=600)


def alarm(number: int) -> NewMessage:
    payload = json.dumps({"alarm": number}).encode()
    return NewMessage(TOPICS.alarm_log(), payload, MessageClass.ALARM)


@contextlib.asynccontextmanager
async def outbox_at(path: Path, max_messages: int = 100_000) -> AsyncIterator[Outbox]:
    outbox = Outbox(path, max_messages=max_messages, max_age_s=3600)
    await outbox.open()
    try:
        yield outbox
    finally:
        await outbox.close()


@contextlib.asynccontextmanager
async def publishing(
    outbox: Outbox, url: str, on_ack: Any = None, **mqtt: Any
) -> AsyncIterator[Publisher]:
    publisher = Publisher(
        MqttConfig(url=url, **mqtt),
        "edge-1",
        TOPICS,
        outbox,
        EnvelopeFactory("edge-1"),
        "test",
        datetime.now(UTC),
        on_ack=on_ack,
        backoff=Backoff(initial=0.2, cap=1.0),
        verifier=AckVerifier(TOPICS.site, {"station-1": ACK_SECRET}) if on_ack else None,
    )
    task = asyncio.create_task(publisher.run(), name="publisher")
    try:
        yield publisher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def seqs_by_device(messages: list[Any]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for message in messages:
        if message.topic.endswith("/telemetry"):
            body = message.json()
            out.setdefault(body["device"], []).append(body["seq"])
    return out


async def test_delivers_in_order_then_empties_the_outbox(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,
        outbox_at(tmp_path / "outbox.sqlite") as outbox,
    ):
        await outbox.put([telemetry(f"pump-{n % 4}", n) for n in range(400)])
        async with publishing(outbox, mosquitto.url) as publisher:
            await subscriber.wait_until(lambda: len(subscriber.on("/telemetry")) == 400)
            received = seqs_by_device(subscriber.messages)
            assert received == {f"pump-{d}": list(range(d, 400, 4)) for d in range(4)}
            status = subscriber.on("/edges/edge-1/status")[0].json()
            assert status["state"] == "online"
            assert status["schema"] == "infusion-edge.edge-status/1"
            await asyncio.sleep(0.2)
            assert outbox.depth == 0
            assert publisher.counters.delivered == 400


async def test_broker_outage_of_ten_seconds_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,
        outbox_at(tmp_path / "outbox.sqlite") as outbox,
        publishing(outbox, mosquitto.url) as publisher,
    ):
        sent = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        stopped = restarted = False
        for _ in range(2000):  # bounded: 20 s of 4 devices at 20 Hz, in steps of 50 ms
            elapsed = loop.time() - started
            if elapsed > 17:
                break
            if elapsed > 3 and not stopped:
                mosquitto.stop()
                stopped = True
            if elapsed > 13 and not restarted:
                mosquitto.start()
                restarted = True
            await outbox.put([telemetry(f"monitor-{d}", sent + d) for d in range(4)])
            sent += 4
            await asyncio.sleep(0.05)
        assert stopped
        assert restarted
        await subscriber.wait_until(lambda: len(subscriber.on("/telemetry")) >= sent, 30)
        received = seqs_by_device(subscriber.messages)
        for device in range(4):
            expected = list(range(device, sent, 4))
            got = received[f"monitor-{device}"]
            assert sorted(set(got)) == expected, "a reading is missing"
            deduplicated = list(dict.fromkeys(got))
            assert deduplicated == expected, "out of order"
        assert publisher.counters.connects >= 2


async def test_overflow_drops_telemetry_not_alarms_and_counts_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    mosquitto.stop()
    async with (
        outbox_at(tmp_path / "outbox.sqlite", max_messages=100) as outbox,
        publishing(outbox, mosquitto.url) as publisher,
    ):
        for n in range(300):
            await outbox.put([telemetry("pump-1", n)])
            if n % 60 == 0:
                await outbox.put([alarm(n)])
        assert outbox.depth == 100
        assert outbox.dropped[MessageClass.ALARM] == 0
        mosquitto.start()
        async with subscribed(mosquitto.port, ROOT) as subscriber:
            for _ in range(200):  # bounded wait for the backlog to drain
                if outbox.depth == 0:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            alarms = [m.json()["alarm"] for m in subscriber.on("alarm-log")]
            received = len(subscriber.on("/telemetry"))
        assert alarms == [0, 60, 120, 180, 240]
        assert received + outbox.dropped[MessageClass.TELEMETRY] == 300
        assert publisher.counters.delivered == received + 5


async def test_a_wrong_password_is_reported_and_nothing_counts_as_delivered(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path / "broker", users={"edge": "right"})
    broker.start()
    try:
        async with (
            outbox_at(tmp_path / "outbox.sqlite") as outbox,
            publishing(outbox, broker.url, username="edge", password="wrong") as publisher,
        ):
            await outbox.put([telemetry("pump-1", 1)])
            for _ in range(100):
                if publisher.counters.connect_failures:
                    break
                await asyncio.sleep(0.05)
            assert publisher.counters.connect_failures >= 1
            assert "user name or password" in (publisher.counters.last_error or "").lower() or (
                "not authorized" in (publisher.counters.last_error or "").lower()
            )
            assert publisher.counters.delivered == 0
            assert outbox.depth == 1
    finally:
        broker.stop()


async def test_an_untrusted_server_certificate_is_refused(tmp_path: Path) -> None:
    server_ca, other_ca = trustme.CA(), trustme.CA()
    cert = server_ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    trusted, untrusted = tmp_path / "ca.pem", tmp_path / "other-ca.pem"
    server_ca.cert_pem.write_to_path(str(trusted))
    other_ca.cert_pem.write_to_path(str(untrusted))
    broker = Mosquitto(tmp_path / "broker", tls=(cert_file, key_file))
    broker.start()
    try:
        async with outbox_at(tmp_path / "outbox.sqlite") as outbox:
            await outbox.put([telemetry("pump-1", 1)])
            async with publishing(outbox, broker.url, tls={"ca_file": untrusted}) as publisher:
                for _ in range(100):
                    if publisher.counters.connect_failures:
                        break
                    await asyncio.sleep(0.05)
                assert "certificate verify failed" in (publisher.counters.last_error or "").lower()
                assert publisher.counters.delivered == 0
                assert outbox.depth == 1
            async with publishing(outbox, broker.url, tls={"ca_file": trusted}) as publisher:
                for _ in range(100):
                    if outbox.depth == 0:
                        break
                    await asyncio.sleep(0.05)
                assert publisher.counters.delivered == 1
    finally:
        broker.stop()


async def test_a_publish_denied_by_the_acl_is_kept_and_not_counted(tmp_path: Path) -> None:
    broker = Mosquitto(
        tmp_path / "broker",
        users={"edge": "secret", "reader": "secret"},
        acl=[
            "user edge",
            "topic readwrite infusion-edge/v1/test/edges/#",
            "topic write infusion-edge/v1/test/beds/bed-1/#",
            "user reader",
            "topic read infusion-edge/v1/#",
        ],
    )
    broker.start()
    try:
        async with (
            subscribed(broker.port, ROOT, username="reader", password="secret") as subscriber,
            outbox_at(tmp_path / "outbox.sqlite") as outbox,
            publishing(outbox, broker.url, username="edge", password="secret") as publisher,
        ):
            await outbox.put(
                [
                    telemetry("pump-1", 1),
                    telemetry("pump-2", 2, bed="bed-2"),
                    telemetry("pump-1", 3),
                ]
            )
            await subscriber.wait_until(lambda: len(subscriber.on("/telemetry")) == 2)
            for _ in range(100):
                if publisher.counters.refused:
                    break
                await asyncio.sleep(0.05)
            assert publisher.counters.refused == 1
            assert publisher.counters.delivered == 2
            assert outbox.depth == 1
            assert [m.json()["seq"] for m in subscriber.on("/telemetry")] == [1, 3]
    finally:
        broker.stop()


async def test_only_verified_acknowledgements_reach_the_handler(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    received: list[tuple[AckTopic, AckCommand]] = []
    alarm_id = "bed-2.pump-2.rate_deviation.1"

    async def on_ack(topic: AckTopic, command: AckCommand) -> None:
        received.append((topic, command))

    async with (
        outbox_at(tmp_path / "outbox.sqlite") as outbox,
        publishing(outbox, mosquitto.url, on_ack=on_ack) as publisher,
    ):
        for _ in range(100):
            if publisher.counters.connected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the ack subscription is made right after connecting
        command = sign(
            ACK_SECRET,
            site=TOPICS.site,
            bed="bed-2",
            alarm_id=alarm_id,
            by="nurse.kim",
            dashboard="station-1",
        )
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as dashboard:
            topic = TOPICS.alarm_ack("bed-2", alarm_id)
            await dashboard.publish(topic, b'{"by": "nurse.kim"}', qos=1)
            await dashboard.publish(topic, b'{"who": "nobody"}', qos=1)
            await dashboard.publish(topic, b"[]", qos=1)
            await dashboard.publish(topic, command.model_dump_json(), qos=1)
            await dashboard.publish(topic, command.model_dump_json(), qos=1)
            for _ in range(100):
                if sum(publisher.counters.acks.values()) == 5:
                    break
                await asyncio.sleep(0.05)
    assert received == [(AckTopic("bed-2", alarm_id), command)]
    assert publisher.counters.acks == {
        **dict.fromkeys(Verdict, 0),
        Verdict.ACCEPTED: 1,
        Verdict.UNSIGNED: 2,
        Verdict.MALFORMED: 1,
        Verdict.REPLAYED: 1,
    }


async def test_finish_flushes_and_says_offline(tmp_path: Path, mosquitto: Mosquitto) -> None:
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,
        outbox_at(tmp_path / "outbox.sqlite") as outbox,
    ):
        publisher = Publisher(
            MqttConfig(url=mosquitto.url),
            "edge-1",
            TOPICS,
            outbox,
            EnvelopeFactory("edge-1"),
            "test",
            datetime.now(UTC),
        )
        task = asyncio.create_task(publisher.run(), name="publisher")
        await outbox.put([telemetry("pump-1", n) for n in range(50)])
        publisher.finish()
        async with asyncio.timeout(10):
            await task
        assert outbox.depth == 0
        await subscriber.wait_until(
            lambda: any(m.json()["state"] == "offline" for m in subscriber.on("/status"))
        )
        states = [m.json()["state"] for m in subscriber.on("/status")]
        assert states == ["online", "offline"]
        assert len(subscriber.on("/telemetry")) == 50


async def test_telemetry_carries_its_message_expiry_to_an_mqtt5_subscriber(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    client = aiomqtt.Client(
        "127.0.0.1", mosquitto.port, protocol=aiomqtt.ProtocolVersion.V5, identifier="expiry"
    )
    async with client, outbox_at(tmp_path / "outbox.sqlite") as outbox:
        await client.subscribe(f"{TOPICS.root}/beds/#", qos=1)
        await outbox.put([telemetry("pump-1", n) for n in range(3)])
        expiries = []
        async with publishing(outbox, mosquitto.url), asyncio.timeout(10):
            async for message in client.messages:
                assert message.properties is not None
                expiries.append(getattr(message.properties, "MessageExpiryInterval", None))
                if len(expiries) == 3:
                    break
        # 600 s when stored, less the few seconds it waited (the broker counts down too)
        assert all(e is not None and 590 <= e <= 600 for e in expiries), expiries

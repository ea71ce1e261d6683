"""A test subscriber on the real broker that keeps every message and reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

from edge.publish.connection import read_disconnect_reason

__all__ = ["Received", "Subscriber", "subscribed"]


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """Subscribes to ``topic_filter`` at QoS 1 with a persistent session (it keeps receiving
    across a broker restart) and records what arrives."""

    def __init__(self, port: int, topic_filter: str, **client_options: Any) -> None:
        self.port = port
        self.topic_filter = topic_filter
        self.options = client_options
        self.messages: list[Received] = []
        self._arrived = asyncio.Event()
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        while True:
            client = aiomqtt.Client(
                "127.0.0.1",
                self.port,
                identifier="test-subscriber",
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False,
                **self.options,
            )
            try:
                async with client:
                    await client.subscribe(self.topic_filter, qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        self.messages.append(Received(str(message.topic), payload, message.retain))
                        self._arrived.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)
            finally:
                read_disconnect_reason(client)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()

    def on(self, suffix: str) -> list[Received]:
        return [m for m in self.messages if m.topic.endswith(suffix)]


@contextlib.asynccontextmanager
async def subscribed(port: int, topic_filter: str, **options: Any) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(port, topic_filter, **options)
    task = asyncio.create_task(subscriber.run(), name="test-subscriber")
    try:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        yield subscriber
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

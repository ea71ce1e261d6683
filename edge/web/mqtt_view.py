"""The dashboard's broker connection: one subscriber on ``{prefix}/#`` feeding the live state
and the event journal, and the sender of acknowledgements.

It connects with the edge's own MQTT settings (URL, TLS, credentials, protocol), as a client
of its own (``{client_id or infusion-edge-{edge_id}}-dashboard-{random}``) and reconnects with
capped, jittered backoff. After a reconnect the retained alarms and each edge's retained
digest of its open alarms come again, and the live state reconciles against them (alarms that
ended meanwhile leave by the digest, see ``edge.web.state``). An acknowledgement is a
signed ``AckCommand`` published at QoS 1 to the alarm's ack topic; the edge that owns the
alarm verifies and applies it and publishes the alarm's new state, which comes back here like
any change.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import aiomqtt

from edge.backoff import Backoff
from edge.config import MqttConfig
from edge.publish.connection import connected
from edge.publish.payloads import AckCommand
from edge.publish.topics import Topics
from edge.web.state import Change, LiveState

__all__ = ["BrokerUnavailableError", "MqttFeed"]

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0  # PUBACK of an acknowledgement


class BrokerUnavailableError(Exception):
    """The dashboard is not connected to the broker, or the broker did not confirm."""


class MqttFeed:
    """Subscribes to every site under the prefix and turns messages into changes."""

    def __init__(
        self,
        config: MqttConfig,
        edge_id: str,
        state: LiveState,
        publish_changes: Callable[[Iterable[Change]], None],
        backoff: Backoff | None = None,
    ) -> None:
        self._config = config
        base = config.client_id or f"infusion-edge-{edge_id}"
        self.identifier = f"{base}-dashboard-{uuid.uuid4().hex[:8]}"
        self._state = state
        self._publish_changes = publish_changes
        self._backoff = backoff or Backoff(initial=0.5, cap=10.0)
        self._client: aiomqtt.Client | None = None
        self.connects = 0
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        """Whether the subscription is live."""
        return self._client is not None

    async def run(self) -> None:
        """Receive until cancelled, reconnecting with backoff."""
        while True:
            try:
                await self._connected_session()
            except aiomqtt.MqttError as exc:
                self._note_error(exc)
            except Exception:  # the supervisor boundary: a bug must not end the dashboard
                log.exception("dashboard feed failed; reconnecting")
            finally:
                if self._client is not None:
                    self._client = None
                    self._publish_changes(self._state.set_feed(False, datetime.now(UTC)))
            await asyncio.sleep(self._backoff.next_delay())

    async def acknowledge(self, site: str, bed: str, alarm_id: str, command: AckCommand) -> str:
        """Publish ``command`` to the alarm's ack topic at QoS 1; the topic. Raises
        :class:`BrokerUnavailableError` when not connected or not confirmed in time."""
        client = self._client
        if client is None:
            raise BrokerUnavailableError("the dashboard is not connected to the broker")
        topic = Topics(self._config.topic_prefix, site).alarm_ack(bed, alarm_id)
        payload = command.model_dump_json().encode()
        try:
            async with asyncio.timeout(ACK_TIMEOUT_S):
                await client.publish(topic, payload, qos=1)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            message = str(exc) or "no confirmation in time"
            raise BrokerUnavailableError(f"the broker did not confirm it: {message}") from exc
        return topic

    def _note_error(self, exc: aiomqtt.MqttError) -> None:
        message = str(exc) or type(exc).__name__
        level = logging.DEBUG if message == self.last_error else logging.WARNING
        log.log(level, "dashboard broker connection failed", extra={"error": message})
        self.last_error = message

    async def _connected_session(self) -> None:
        async with connected(self._config, self.identifier) as client:
            await client.subscribe(f"{self._config.topic_prefix}/#", qos=1)
            self._client = client
            self.connects += 1
            self._backoff.reset()
            self._publish_changes(self._state.set_feed(True, datetime.now(UTC)))
            log.info("dashboard subscribed", extra={"url": self._config.url})
            async for message in client.messages:
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload or "").encode()
                self._publish_changes(self._state.apply(str(message.topic), data))
        raise aiomqtt.MqttError("the broker's message stream ended")

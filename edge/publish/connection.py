"""One way to build an MQTT client from the config, for the publisher and the dashboard."""

from __future__ import annotations

import contextlib
import ssl
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt

from edge.config import MqttConfig

__all__ = ["connected", "mqtt_client", "read_disconnect_reason"]


def _tls_context(config: MqttConfig) -> ssl.SSLContext:
    tls = config.tls
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls and tls.ca_file else None)
    if tls and tls.cert_file and tls.key_file:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return context  # hostname verification and certificate checks stay on


def mqtt_client(config: MqttConfig, identifier: str, **options: Any) -> aiomqtt.Client:
    """A client for ``config``'s broker: TLS for ``mqtts://`` (hostname verified), the
    credentials, the protocol version and keep-alive; ``options`` go to aiomqtt (a will, the
    in-flight window)."""
    url = urllib.parse.urlsplit(config.url)
    tls = url.scheme == "mqtts"
    client = aiomqtt.Client(
        hostname=url.hostname or "127.0.0.1",
        port=url.port or (8883 if tls else 1883),
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        identifier=identifier,
        protocol=(
            aiomqtt.ProtocolVersion.V5 if config.protocol == "5" else aiomqtt.ProtocolVersion.V311
        ),
        keepalive=config.keepalive_s,
        tls_context=_tls_context(config) if tls else None,
        timeout=10.0,
        **options,
    )
    _keep_to_receive_maximum(client)
    return client


def _keep_to_receive_maximum(client: aiomqtt.Client) -> None:
    """Keep the publishes in flight within the Receive Maximum the broker sends in its
    CONNACK (MQTT 5; 65,535 when it sends none): paho holds the rest back until PUBACKs
    come. HiveMQ and EMQX disconnect a client that exceeds it, so a backlog that drains with
    more in flight would never drain. Read in paho's CONNACK callback, which aiomqtt owns:
    it is wrapped, not replaced. paho refuses a new window on an open connection through its
    setter; at the CONNACK nothing is in flight yet (a client is made per connection), so the
    bound is set on the attribute behind it (tests/edge/publish/test_receive_maximum.py)."""
    paho = client._client
    wanted: int = paho.max_inflight_messages  # the window asked for
    inner = paho.on_connect

    def on_connect(*args: Any) -> None:
        properties = args[4] if len(args) > 4 else None
        allowed = getattr(properties, "ReceiveMaximum", None)
        bound = (
            min(wanted, allowed) if wanted and isinstance(allowed, int) and allowed > 0 else wanted
        )
        paho._max_inflight_messages = bound
        if inner is not None:
            inner(*args)

    paho.on_connect = on_connect


@contextlib.asynccontextmanager
async def connected(
    config: MqttConfig, identifier: str, **options: Any
) -> AsyncIterator[aiomqtt.Client]:
    """``async with connected(...) as client``: :func:`mqtt_client`, connected for the block.

    After an unexpected disconnection the reason is read here (see
    :func:`read_disconnect_reason`); the error itself reaches the caller through the failed
    operation.
    """
    client = mqtt_client(config, identifier, **options)
    try:
        async with client:
            yield client
    finally:
        read_disconnect_reason(client)


def read_disconnect_reason(client: aiomqtt.Client) -> None:
    """Read the reason aiomqtt 2.5 keeps on a private future after an unexpected
    disconnection, so asyncio does not report it as never retrieved at exit."""
    disconnected = getattr(client, "_disconnected", None)
    if disconnected is not None and disconnected.done() and not disconnected.cancelled():
        disconnected.exception()

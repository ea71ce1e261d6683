"""The messages the outbox holds: what the writer stores and what the publisher takes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["MessageClass", "NewMessage", "OutboxMessage"]


class MessageClass(IntEnum):
    """Drop order under pressure: lowest first."""

    TELEMETRY = 0
    STATE = 1
    ALARM = 2


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to store. ``expiry_s``: MQTT 5 message expiry interval, if any."""

    topic: str
    payload: bytes
    cls: MessageClass
    qos: int = 1
    retain: bool = False
    expiry_s: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A stored message; ``created`` is a Unix time in seconds. ``id`` is positive on disk,
    negative in the outbox's memory tier."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    cls: MessageClass
    created: float
    expiry_s: int | None
    attempts: int

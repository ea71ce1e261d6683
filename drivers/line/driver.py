"""The line driver entry for the registry."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from drivers.base import Conversation, DeviceTarget, Driver, StreamConversation
from drivers.line.codec import LineCodec
from drivers.line.framer import LineFramer
from drivers.line.options import LineOptions
from drivers.link import SerialSettings

__all__ = ["DRIVER", "conversation_for"]


def conversation_for(target: DeviceTarget, options: LineOptions) -> Conversation:
    """The receive-only conversation of one ``line`` device."""
    return StreamConversation(LineFramer(options), LineCodec(options).decode, target)


def _conversation(targets: Sequence[DeviceTarget], options: BaseModel) -> Conversation:
    (target,) = targets
    assert isinstance(options, LineOptions)
    return conversation_for(target, options)


DRIVER = Driver(
    name="line",
    summary="ASCII lines described in the device's options (terminator, checksum, fields)",
    conversation=_conversation,
    serial_defaults=SerialSettings(baudrate=9600),
    options=LineOptions,
    period_s=1.0,
    period_option="period_s",
)

"""The textline driver entry for the registry."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from drivers.base import Conversation, DeviceTarget, Driver, StreamConversation
from drivers.link import SerialSettings
from drivers.textline.codec import decode
from drivers.textline.frames import TextLineFramer

__all__ = ["DRIVER"]


def _conversation(targets: Sequence[DeviceTarget], options: BaseModel) -> Conversation:
    (target,) = targets
    return StreamConversation(TextLineFramer(), decode, target)


DRIVER = Driver(
    name="textline",
    summary="ASCII lines '$VIT,HR=72,...*CS' or '$PMP,...'; one reading per line, device streams",
    conversation=_conversation,
    serial_defaults=SerialSettings(baudrate=9600),
    period_s=1.0,
)

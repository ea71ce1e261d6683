"""The IntelliVue driver entry for the registry."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from drivers.base import Conversation, DeviceTarget, Driver, TimingFloor
from drivers.intellivue.conversation import IntelliVueConversation
from drivers.intellivue.options import IntelliVueOptions
from drivers.link import SerialSettings

__all__ = ["DRIVER"]


def _conversation(targets: Sequence[DeviceTarget], options: BaseModel) -> Conversation:
    (target,) = targets
    if not isinstance(options, IntelliVueOptions):
        options = IntelliVueOptions.model_validate(options.model_dump())
    return IntelliVueConversation(target, options)


def _min_timeout(options: BaseModel) -> TimingFloor:
    """Long enough for one re-association: the poll timeout, then one more request."""
    assert isinstance(options, IntelliVueOptions)
    seconds = options.poll_timeout_s + options.association_retry_s
    return TimingFloor(seconds, ("poll_timeout_s", "association_retry_s"))


DRIVER = Driver(
    name="intellivue",
    summary=(
        "Philips IntelliVue MIB/RS232 data export: association, MDS create, extended polls "
        "for HR, pulse rate, SpO2, RR and NIBP"
    ),
    conversation=_conversation,
    serial_defaults=SerialSettings(baudrate=115200),
    options=IntelliVueOptions,
    max_devices_per_port=1,
    period_s=1.0,  # extended poll results come every second while the poll is active
    min_timeout=_min_timeout,
)

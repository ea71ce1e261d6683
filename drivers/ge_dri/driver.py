"""The GE S/5 Computer Interface driver entry for the registry."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from drivers.base import Conversation, DeviceTarget, Driver, TimingFloor
from drivers.ge_dri.conversation import GeDriConversation
from drivers.ge_dri.options import GeDriOptions
from drivers.link import SerialSettings

__all__ = ["DRIVER"]


def _conversation(targets: Sequence[DeviceTarget], options: BaseModel) -> Conversation:
    (target,) = targets
    if not isinstance(options, GeDriOptions):
        options = GeDriOptions.model_validate(options.model_dump())
    return GeDriConversation(target, options)


def _min_timeout(options: BaseModel) -> TimingFloor:
    """Long enough to notice the silence, request again and get the next record."""
    assert isinstance(options, GeDriOptions)
    return TimingFloor(options.resend_after_s + options.period_s, ("resend_after_s", "period_s"))


DRIVER = Driver(
    name="ge_dri",
    summary=(
        "GE/Datex-Ohmeda S/5 Computer Interface (DRI records): displayed values every "
        "period_s for HR, NIBP, SpO2, pulse rate, RR and temperature"
    ),
    conversation=_conversation,
    serial_defaults=SerialSettings(baudrate=19200, parity="E", rtscts=True),
    options=GeDriOptions,
    max_devices_per_port=1,
    period_s=5.0,
    period_option="period_s",
    min_timeout=_min_timeout,
)

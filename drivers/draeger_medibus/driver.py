"""The Dräger MEDIBUS driver entry for the registry."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from drivers.base import Conversation, DeviceTarget, Driver, TimingFloor
from drivers.draeger_medibus.conversation import MedibusConversation
from drivers.draeger_medibus.options import MedibusOptions
from drivers.link import SerialSettings

__all__ = ["DRIVER"]


def _conversation(targets: Sequence[DeviceTarget], options: BaseModel) -> Conversation:
    (target,) = targets
    if not isinstance(options, MedibusOptions):
        options = MedibusOptions.model_validate(options.model_dump())
    return MedibusConversation(target, options)


def _min_timeout(options: BaseModel) -> TimingFloor:
    """Long enough to notice a lost link, initialise it again and finish one poll cycle."""
    assert isinstance(options, MedibusOptions)
    seconds = 2 * options.reply_timeout_s + options.period_s
    return TimingFloor(seconds, ("reply_timeout_s", "period_s"))


DRIVER = Driver(
    name="draeger_medibus",
    summary=(
        "Dräger MEDIBUS (RS-232) intensive-care ventilators (Evita, Savina): measured data "
        "every period_s (RR, tidal and minute volume, airway pressures, FiO2, EtCO2) and "
        "current alarms as a device condition"
    ),
    conversation=_conversation,
    serial_defaults=SerialSettings(baudrate=19200, parity="E"),
    options=MedibusOptions,
    max_devices_per_port=1,
    period_s=2.0,
    period_option="period_s",
    min_timeout=_min_timeout,
)

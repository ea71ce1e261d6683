"""The Alaris Asena driver entry for the registry (read-only, unofficial)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drivers.alaris_asena.conversation import AsenaConversation
from drivers.base import Conversation, DeviceTarget, Driver, TimingFloor
from drivers.link import SerialSettings

__all__ = ["DEFAULT_POLL_PERIOD_S", "DRIVER", "AsenaOptions", "build_conversation"]

DEFAULT_POLL_PERIOD_S = 3.0
BAUDRATE = 38400


class AsenaOptions(BaseModel):
    """Per-port options of the Alaris Asena driver (times in seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll_period_s: float = Field(
        default=DEFAULT_POLL_PERIOD_S,
        ge=1.0,
        le=60.0,
        description="Interval between INF status polls (OpenICE polls every 2.5-4.5 s).",
    )
    response_timeout_s: float = Field(
        default=4.0,
        gt=0,
        le=10.0,
        description="Wait for an answer before the request is sent once more "
        "(the pump reports COMMS_RESPONSE_MAX 4000 ms).",
    )


def _options(options: Any) -> AsenaOptions:
    if options is None:
        return AsenaOptions()
    if isinstance(options, Mapping):
        return AsenaOptions.model_validate(options)
    if not isinstance(options, AsenaOptions):
        raise TypeError(f"alaris_asena options must be AsenaOptions, not {type(options).__name__}")
    return options


def build_conversation(targets: Sequence[DeviceTarget], options: Any = None) -> Conversation:
    """A read-only host conversation for the one pump in ``targets``."""
    chosen = _options(options)
    return AsenaConversation(
        targets, poll_period_s=chosen.poll_period_s, response_timeout_s=chosen.response_timeout_s
    )


def min_timeout(options: Any) -> TimingFloor:
    """A poll period plus one request's two tries: one lost cycle is not an outage."""
    chosen = _options(options)
    seconds = chosen.poll_period_s + 2 * chosen.response_timeout_s
    return TimingFloor(seconds, ("poll_period_s", "response_timeout_s"))


DRIVER = Driver(
    name="alaris_asena",
    summary="Alaris Asena GH/CC syringe pump, RS-232, read-only (unofficial, from OpenICE facts)",
    conversation=build_conversation,
    serial_defaults=SerialSettings(baudrate=BAUDRATE),
    options=AsenaOptions,
    period_s=DEFAULT_POLL_PERIOD_S,
    period_option="poll_period_s",
    min_timeout=min_timeout,
)

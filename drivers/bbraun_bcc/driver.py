"""The B. Braun BCC driver entry for the registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drivers.base import Conversation, DeviceTarget, Driver
from drivers.bbraun_bcc.conversation import MAX_PUMPS, MIN_POLL_GAP_S, BccConversation
from drivers.bbraun_bcc.identity import LEARNED
from drivers.link import SerialSettings

__all__ = ["DEFAULT_POLL_PERIOD_S", "DRIVER", "BccOptions", "build_conversation"]

DEFAULT_POLL_PERIOD_S = 5.0


class BccOptions(BaseModel):
    """Per-port options of the B. Braun BCC driver (all times in seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll_period_s: float = Field(
        default=DEFAULT_POLL_PERIOD_S,
        ge=MIN_POLL_GAP_S,
        description="Interval between MEM:GET requests; never less than 0.5 s.",
    )
    response_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="Silence after a request or ACK/NAK before ADMIN:ALIVE is sent again.",
    )
    stuffing: bool = Field(
        default=True,
        description="Character stuffing (D/E/d/e escapes); off with the DoseTrac profile.",
    )
    bed_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=15,
        pattern=r"^[/-9A-z]+$",
        description="The ComDevice's bedId; answers from a rack with another one are refused. "
        "Unset: the bedId first answered since the daemon started is the one accepted.",
    )


def build_conversation(targets: Sequence[DeviceTarget], options: Any = None) -> Conversation:
    """A host conversation for the pumps ``targets`` of one ComDevice.

    ``options`` is a :class:`BccOptions`, a mapping of its fields, or ``None`` for defaults.
    Raises :class:`ValueError` for a pump without a valid slot address (``[1-3][1-9A-O]``).
    The bedId first learned for these pumps is kept for the process (:data:`.identity.LEARNED`).
    """
    if options is None:
        options = BccOptions()
    elif isinstance(options, Mapping):
        options = BccOptions.model_validate(options)
    elif not isinstance(options, BccOptions):
        raise TypeError(f"bbraun_bcc options must be BccOptions, not {type(options).__name__}")
    return BccConversation(
        targets,
        poll_period_s=options.poll_period_s,
        response_timeout_s=options.response_timeout_s,
        stuffing=options.stuffing,
        expected_bed_id=options.bed_id,
        bed_ids=LEARNED,
    )


DRIVER = Driver(
    name="bbraun_bcc",
    summary="B. Braun Space/Compact plus rack via ComDevice, BCC request mode (MEM:GET polls)",
    conversation=build_conversation,
    serial_defaults=SerialSettings(baudrate=9600),
    options=BccOptions,
    max_devices_per_port=MAX_PUMPS,
    period_s=DEFAULT_POLL_PERIOD_S,
    period_option="poll_period_s",
    address_pattern=r"[1-3][1-9A-O]",
    address_hint="the pump's slot: pillar 1-3, then slot 1-9 or A-O counted bottom-up ('11', '1A')",
)

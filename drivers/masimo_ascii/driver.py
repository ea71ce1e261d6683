"""The masimo_ascii driver entry for the registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from drivers.base import Conversation, DeviceTarget, Driver
from drivers.link import SerialSettings
from drivers.masimo_ascii.conversation import MasimoConversation

__all__ = ["DRIVER", "MasimoOptions"]


class MasimoOptions(BaseModel):
    """Options of a Masimo oximeter: ``skip_first_line`` drops the first line after the
    port opens (it may be a partial one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    skip_first_line: bool = True


def _conversation(targets: Sequence[DeviceTarget], options: Any) -> Conversation:
    (target,) = targets
    if not isinstance(options, MasimoOptions):
        options = MasimoOptions.model_validate(options or {})
    return MasimoConversation(target, skip_first_line=options.skip_first_line)


DRIVER = Driver(
    name="masimo_ascii",
    summary="Masimo pulse oximeter 'ASCII 1' serial output (Radical-7, Rad-8...); device streams",
    conversation=_conversation,
    serial_defaults=SerialSettings(baudrate=9600),
    options=MasimoOptions,
    period_s=2.0,  # 1 s on the Radical-7, 2 s on the Rad-8 (its manual)
)

"""Faults a scenario can inject, as frozen pydantic models tagged by ``kind``.

Two families:

- pump faults change what a pump does and reports (:data:`PumpFault`): ``occlusion`` and
  ``air_in_line`` halt it with the flag set; ``end_of_volume`` puts it in KVO with the flag
  set; ``rate_drift`` makes it deliver ``factor`` x the programmed rate; ``stall`` stops
  delivery while it still says it is infusing. ``slot`` picks one pump, none means all.
- wire faults change what reaches the host (:data:`WireFault`): ``silence`` (the device stops
  answering), ``garbage`` (random bytes between frames), ``bad_checksum`` (frames sent with a
  wrong checksum), ``byte_by_byte`` (frames trickled out one byte at a time), ``disconnect``
  (the port goes away: the pty is closed, or the TCP listener and its connection).
  ``device`` says which device of the bed it hits: ``pumps``, ``monitor`` or ``all``.

Every fault is a window on the scenario clock: it starts at ``at_min`` (minutes) and lasts
``duration_s`` (seconds, scaled by ``--speed`` like all scenario time), or to the end when
``duration_s`` is omitted. Wire details (``every_s``, ``gap_ms``) are real time: they
describe the cable, not the patient.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FAULT_KINDS",
    "AirInLine",
    "BadChecksum",
    "ByteByByte",
    "DeviceRole",
    "Disconnect",
    "EndOfVolume",
    "Fault",
    "Garbage",
    "Occlusion",
    "PumpFault",
    "RateDrift",
    "Silence",
    "Slot",
    "Stall",
    "WireFault",
]

Slot = Annotated[
    str,
    Field(
        pattern=r"^[1-3][1-9A-O]$",
        description="pump slot: pillar 1-3, then slot 1-9 or A-O counted bottom-up ('11')",
    ),
]
DeviceRole = Literal["pumps", "monitor"]
"""Which device of a bed a simulator plays: the pump rack or the vital-signs monitor."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Window(_Frozen):
    at_min: float = Field(ge=0, description="start, scenario minutes")
    duration_s: float | None = Field(
        default=None, gt=0, description="length in scenario seconds; omitted: to the end"
    )

    @property
    def start_s(self) -> float:
        """Start in scenario seconds."""
        return self.at_min * 60.0

    @property
    def end_s(self) -> float:
        """End in scenario seconds (``inf`` when open-ended)."""
        return math.inf if self.duration_s is None else self.start_s + self.duration_s

    def active(self, t_s: float) -> bool:
        """Whether scenario time ``t_s`` (s) is inside the window (start included)."""
        return self.start_s <= t_s < self.end_s


class _PumpWindow(_Window):
    slot: Slot | None = Field(default=None, description="the pump hit; omitted: every pump")

    def hits(self, slot: str) -> bool:
        """Whether the fault applies to the pump in ``slot``."""
        return self.slot is None or self.slot == slot


class Occlusion(_PumpWindow):
    """Downstream occlusion: the pump halts, sets its occlusion flag, line pressure 100 %."""

    kind: Literal["occlusion"]


class AirInLine(_PumpWindow):
    """Air in the line: the pump halts with its air-in-line flag set."""

    kind: Literal["air_in_line"]


class EndOfVolume(_PumpWindow):
    """The container runs dry early: end-of-volume flag, KVO at the pump's KVO rate."""

    kind: Literal["end_of_volume"]


class Stall(_PumpWindow):
    """Delivery stops (volume infused stays put) while the pump still reports infusing."""

    kind: Literal["stall"]


class RateDrift(_PumpWindow):
    """The pump delivers ``factor`` x the programmed rate (0.7: 30 % less) and counts it."""

    kind: Literal["rate_drift"]
    factor: float = Field(ge=0, le=20, description="delivered / programmed rate")


class _WireWindow(_Window):
    device: DeviceRole | Literal["all"] = Field(
        default="all", description="the device of the bed it hits: pumps, monitor or all"
    )

    def hits(self, role: DeviceRole) -> bool:
        """Whether the fault applies to a simulator playing ``role``."""
        return self.device in ("all", role)


class Silence(_WireWindow):
    """The device ignores the host and sends nothing (its clock keeps running)."""

    kind: Literal["silence"]


class Garbage(_WireWindow):
    """``length`` random bytes injected between frames every ``every_s`` real seconds."""

    kind: Literal["garbage"]
    every_s: float = Field(default=1.0, ge=0.01, le=3600, description="real seconds")
    length: int = Field(default=16, ge=1, le=4096, description="bytes per burst")


class BadChecksum(_WireWindow):
    """A ``fraction`` of the frames the device sends carry a wrong checksum."""

    kind: Literal["bad_checksum"]
    fraction: float = Field(default=0.5, gt=0, le=1)


class ByteByByte(_WireWindow):
    """Frames go out one byte at a time, ``gap_ms`` real milliseconds apart."""

    kind: Literal["byte_by_byte"]
    gap_ms: float = Field(default=2.0, ge=0, le=1000)


class Disconnect(_WireWindow):
    """The port disappears: the pty is closed (or the TCP listener and its connection), and
    comes back when the window ends."""

    kind: Literal["disconnect"]


PumpFault = Occlusion | AirInLine | EndOfVolume | Stall | RateDrift
WireFault = Silence | Garbage | BadChecksum | ByteByByte | Disconnect
Fault = Annotated[PumpFault | WireFault, Field(discriminator="kind")]

FAULT_KINDS: frozenset[str] = frozenset(
    get_args(model.model_fields["kind"].annotation)[0]
    for model in (*get_args(PumpFault), *get_args(WireFault))
)
"""Every fault ``kind`` (also the union tags that :func:`~.scenario.format_location` hides)."""

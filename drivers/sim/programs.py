"""Pump programs in a scenario: one pump per rack slot, its events in time order.

Events are tagged by ``action``: ``start`` (a new program: rate, optional VTBI; the volume
counter restarts), ``rate`` (a new rate for the running program), ``stop``, ``bolus``.
What the pump then does over time (end of volume, KVO, faults) is :mod:`.infusion`'s job.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.sim.faults import Slot

__all__ = ["ACTIONS", "Bolus", "PumpEvent", "PumpSpec", "RateChange", "Start", "Stop"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Event(_Frozen):
    at_min: float = Field(ge=0, description="scenario minutes")


class Start(_Event):
    """A new program: infuse at ``rate_ml_h`` (mL/h) up to ``vtbi_ml`` (mL; none: no end).
    The pump's volume counter restarts at 0."""

    action: Literal["start"]
    rate_ml_h: float = Field(gt=0, le=2000)
    vtbi_ml: float | None = Field(default=None, gt=0, le=10000)


class RateChange(_Event):
    """The nurse changes the rate (mL/h) of the running program; volume and VTBI carry on."""

    action: Literal["rate"]
    rate_ml_h: float = Field(gt=0, le=2000)


class Stop(_Event):
    """The nurse stops the pump (the volume counter keeps its value)."""

    action: Literal["stop"]


class Bolus(_Event):
    """A bolus of ``volume_ml`` (mL) at ``rate_ml_h`` (mL/h); then the pump resumes."""

    action: Literal["bolus"]
    volume_ml: float = Field(gt=0, le=100)
    rate_ml_h: float = Field(default=1200.0, gt=0, le=2000)


PumpEvent = Annotated[Start | RateChange | Stop | Bolus, Field(discriminator="action")]
ACTIONS: frozenset[str] = frozenset({"start", "rate", "stop", "bolus"})
"""Every pump event ``action`` (also union tags that the error paths leave out)."""


class PumpSpec(_Frozen):
    """One pump of the rack, in ``slot``, and its program over time (events in time order).

    At the end of a program's VTBI the pump sets its end-of-volume flag and keeps the vein
    open at ``kvo_rate_ml_h`` (0: it stops). ``near_end_s``: the pre-alarm before the end.
    """

    slot: Slot = "11"
    drug: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9 .+-]{0,19}$")
    concentration_mg_ml: float | None = Field(default=None, gt=0, le=1000)
    kvo_rate_ml_h: float = Field(default=1.0, ge=0, le=20)
    near_end_s: float = Field(default=180.0, ge=0, le=3600)
    program: tuple[PumpEvent, ...] = ()

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        times = [event.at_min for event in self.program]
        for index in range(1, len(times)):
            if times[index] < times[index - 1]:
                raise ValueError(f"program[{index}].at_min: events must be in time order")
        return self

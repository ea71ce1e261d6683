"""What happens at the bed besides the patient's trends: artefacts, extra cuffs, acknowledgements.

- :class:`Artefact`: the monitor marks a quantity's values ``questionable`` or ``invalid``
  (a moving arm under the cuff, a probe off the finger) from ``at_min`` to ``until_min``
  (scenario minutes; none: one scenario second, enough for one cuff measured then). For
  ``nibp`` the flag goes with every cuff *measured* in the window (the monitor then shows it
  flagged for as long as it shows that cuff); for the continuous quantities it holds while
  the window is open.
- :class:`ExtraCuff`: a cuff measurement at ``at_min`` besides the periodic ones (a nurse
  presses "start NIBP"), with the tracks' values or explicit ones (mmHg).
- :class:`Ack`: at ``at_min`` user ``by`` acknowledges every alarm of the bed that is open and
  unacknowledged (of ``rule`` only, when given), as a dashboard does: a signed command. The
  simulators do not speak MQTT; the scenario harness of the tests carries these out.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ARTEFACT_QUANTITIES", "Ack", "Artefact", "ArtefactState", "ExtraCuff"]

ArtefactState = Literal["questionable", "invalid"]
"""How the monitor flags a value (IntelliVue MeasurementState QUESTIONABLE / INVALID)."""
ArtefactQuantity = Literal["hr", "pr", "spo2", "rr", "nibp"]
ARTEFACT_QUANTITIES: tuple[str, ...] = ("hr", "pr", "spo2", "rr", "nibp")

_ONE_SECOND_MIN = 1.0 / 60.0


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Artefact(_Frozen):
    """``quantity`` flagged ``state`` from ``at_min`` to ``until_min`` (scenario minutes)."""

    quantity: ArtefactQuantity
    state: ArtefactState
    at_min: float = Field(ge=0)
    until_min: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.until_min is not None and self.until_min <= self.at_min:
            raise ValueError("until_min must be after at_min")
        return self

    def covers(self, quantity: str, t_s: float) -> bool:
        """Whether this artefact flags ``quantity`` at scenario second ``t_s`` (for ``nibp``:
        a cuff measured then)."""
        end_min = self.at_min + _ONE_SECOND_MIN if self.until_min is None else self.until_min
        return quantity == self.quantity and self.at_min * 60 <= t_s < end_min * 60


class ExtraCuff(_Frozen):
    """A cuff measured at ``at_min`` besides the periodic ones; a value not given follows
    its track (mmHg)."""

    at_min: float = Field(ge=0)
    sbp: float | None = Field(default=None, ge=40, le=300)
    dbp: float | None = Field(default=None, ge=20, le=200)
    map: float | None = Field(default=None, ge=30, le=250)


class Ack(_Frozen):
    """User ``by`` acknowledges the bed's open, unacknowledged alarms (of ``rule``) at
    ``at_min``."""

    at_min: float = Field(ge=0)
    by: str = Field(default="nurse.sim", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    rule: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")

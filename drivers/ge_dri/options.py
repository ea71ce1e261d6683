"""Per-device options of the ``ge_dri`` driver (validated once, from the config)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["GeDriOptions"]


class GeDriOptions(BaseModel):
    """Timing of the GE S/5 Computer Interface client, in seconds.

    ``period_s``: the displayed-values period asked for (``tx_ival``; the interface's minimum
    is 5 s). ``resend_after_s``: silence (no record) after which the request is sent again;
    the default is three periods.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: int = Field(5, ge=5, le=3600)
    resend_after_s: float = Field(15.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.resend_after_s <= self.period_s:
            raise ValueError("resend_after_s must be longer than period_s")
        return self

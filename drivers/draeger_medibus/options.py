"""Per-device options of the ``draeger_medibus`` driver (validated once, from the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MedibusOptions"]


class MedibusOptions(BaseModel):
    """Timing of the MEDIBUS host, in seconds.

    ``period_s``: one poll (measured data, then current alarms) every ``period_s``; the
    protocol suggests 1-5 s. ``keepalive_s``: a NOP after this long without a command of ours
    (the device ends the link after 3 s without data flow). ``reply_timeout_s``: silence
    while a reply is due after which the link counts as lost and is initialised again (ICC).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(2.0, ge=1.0, le=5.0)
    keepalive_s: float = Field(2.0, ge=0.5, le=2.5)
    reply_timeout_s: float = Field(3.0, ge=1.0, le=10.0)

"""Per-device options of the IntelliVue driver (validated once, from the config)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["IntelliVueOptions"]


class IntelliVueOptions(BaseModel):
    """Timing of the IntelliVue client, all in seconds.

    ``poll_period_s``: interval between Extended Poll requests for numerics; each request
    asks for results during ``poll_active_period_s`` (default: ``poll_period_s``), and the
    monitor answers it at once and then once a second while it is active.
    ``association_retry_s``: while no Association Result has come (the monitor is off, its
    cable out), the request is repeated this often, after an Abort (OpenICE: every 2 s), so
    a monitor that is back is associated within about this time.
    ``association_timeout_s``: longest wait for the MDS Create event after the Association
    Result, before the client aborts and asks again.
    ``poll_timeout_s``: longest time without a numerics poll result before re-associating.
    ``retry_backoff_s`` .. ``retry_backoff_max_s``: wait after a refuse, abort or release
    by the monitor, doubled for every failure in a row.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll_period_s: float = Field(1.0, gt=0, le=3600)
    poll_active_period_s: float | None = Field(None, gt=0, le=3600)
    association_retry_s: float = Field(2.0, ge=0.5, le=600)
    association_timeout_s: float = Field(5.0, gt=0, le=600)
    poll_timeout_s: float = Field(5.0, gt=0, le=3600)
    retry_backoff_s: float = Field(2.0, gt=0, le=600)
    retry_backoff_max_s: float = Field(30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.poll_timeout_s <= self.poll_period_s:
            raise ValueError("poll_timeout_s must be longer than poll_period_s")
        if self.retry_backoff_max_s < self.retry_backoff_s:
            raise ValueError("retry_backoff_max_s must not be shorter than retry_backoff_s")
        return self

    @property
    def active_period_s(self) -> float:
        """The active period asked for in each Extended Poll request (s)."""
        return self.poll_active_period_s or self.poll_period_s

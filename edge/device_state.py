"""Device connection state: what the watchdog derives from silence, and publishes on change."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["Connection", "DeviceState", "connection_after"]

Connection = Literal["online", "stale", "offline"]


class DeviceState(BaseModel):
    """A device's connection and link counters at ``since`` (UTC).

    ``frames_ok``/``frames_bad`` count frames on the device's link since the daemon started;
    ``reconnects`` counts link re-opens; ``last_error`` is what the device side reported for
    this device instead of its data (``slot empty: ...``, a pump communication error, an answer
    from another rack refused) until its next reading, else the latest link error, if any.
    ``implausible`` counts the device's observation values made ``invalid`` by the plausibility
    check since the daemon started; ``device_errors`` the errors reported for it (see
    :class:`~drivers.base.DeviceError`); both travel to the metrics, not into the MQTT payload.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str
    bed: str
    driver: str
    connection: Connection
    since: AwareDatetime
    last_reading_at: AwareDatetime | None
    frames_ok: int
    frames_bad: int
    reconnects: int
    last_error: str | None = None
    implausible: int = Field(0, exclude=True)
    device_errors: int = Field(0, exclude=True)


def connection_after(silence_s: float | None, stale_after_s: float, timeout_s: float) -> Connection:
    """The connection state after ``silence_s`` seconds without a reading (``None``: never had
    one): ``online``, then ``stale`` from ``stale_after_s``, ``offline`` from ``timeout_s``."""
    if silence_s is None or silence_s >= timeout_s:
        return "offline"
    if silence_s >= stale_after_s:
        return "stale"
    return "online"

"""Signed acknowledgements for the integration tests: a nurses' station the daemon trusts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.publish.ack_signing import sign

__all__ = ["ACKNOWLEDGEMENTS", "STATION", "STATION_SECRET", "station_ack"]

STATION = "station-1"
STATION_SECRET = "station-1's key for the integration tests"
ACKNOWLEDGEMENTS: dict[str, Any] = {"dashboards": {STATION: {"secret": STATION_SECRET}}}
"""The daemon config's ``acknowledgements``: trust :data:`STATION`."""


def station_ack(
    bed: str,
    alarm_id: str,
    by: str = "nurse.kim",
    *,
    site: str = "test-site",
    at: datetime | None = None,
    secret: str = STATION_SECRET,
    dashboard: str = STATION,
) -> bytes:
    """The payload of an acknowledgement of ``alarm_id`` signed by the station (or, with
    ``secret`` and ``dashboard``, by anybody)."""
    command = sign(secret, site=site, bed=bed, alarm_id=alarm_id, by=by, dashboard=dashboard, at=at)
    return command.model_dump_json().encode()

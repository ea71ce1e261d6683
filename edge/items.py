"""What travels on the daemon's two buses.

Device sessions put :data:`DeviceItem` on the input bus, and acknowledgements arrive there as
:class:`AckRequest`; the alarm stage passes device items on to the output bus with the
alarm and session events they caused (:data:`OutputItem`), where the outbox writer, the log
tap and the live views read them; its ticker adds an :class:`AlarmRefresh` at start and at a
steady interval. A reload that removes a device puts a :class:`DeviceRemoved` on the input bus
once its link has stopped, so it comes after everything the link sent, and one that removes a
bed a :class:`BedRemoved` after its devices'. One producer per bus keeps the output in one
order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drivers.readings import PumpReading, VitalsReading
from edge.alarms.models import Alarm, AlarmEvent, SessionEvent
from edge.device_state import DeviceState

__all__ = [
    "AckRequest",
    "AlarmRefresh",
    "BedRemoved",
    "DeviceItem",
    "DeviceRemoved",
    "InputItem",
    "OutputItem",
    "StorageStatus",
]

DeviceItem = PumpReading | VitalsReading | DeviceState


@dataclass(frozen=True, slots=True)
class AckRequest:
    """A user's acknowledgement of ``alarm_id``, from a dashboard over MQTT or the HTTP API.

    ``by`` names the user (never a patient); ``at`` is when they acknowledged, if known;
    ``dashboard`` is the id of the dashboard whose signature the edge verified.
    """

    alarm_id: str
    by: str
    at: datetime | None = None
    dashboard: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmRefresh:
    """Every alarm of the edge that has not ended, as the engine holds it at ``at``: to be
    published again (retained state that was lost or erased heals), with no transition. The
    outbox writer republishes each bed's latest session with it; ``sessions``, in the first
    refresh after a restart, are the latest session changes restored from the alarm log."""

    alarms: tuple[Alarm, ...]
    at: datetime
    sessions: tuple[SessionEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class StorageStatus:
    """The edge's stores (``outbox``, ``alarm_log``) that are faulted now; none: all work.
    From the storage monitor, on every change; the alarm stage turns it into
    ``storage_fault``."""

    faulted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceRemoved:
    """A reload removed ``device_id`` from ``bed`` (or moved it to another bed): its retained
    state on ``bed`` is cleared, so dashboards forget it there."""

    device_id: str
    bed: str


@dataclass(frozen=True, slots=True)
class BedRemoved:
    """A reload removed ``bed``: the alarm stage closes its open treatment session, then its
    retained session is cleared and no longer refreshed, so dashboards forget the bed."""

    bed: str


InputItem = DeviceItem | AckRequest | StorageStatus | DeviceRemoved | BedRemoved
OutputItem = DeviceItem | AlarmEvent | SessionEvent | AlarmRefresh | DeviceRemoved | BedRemoved

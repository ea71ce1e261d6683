"""What a B. Braun rack says about a pump instead of its data, as device errors.

A MEM:GET answer can carry, instead of a pump's records (fact sheet §6)::

    t,501xy,GNERR,39     pump removed since the last request (sent once), or not reachable
    t,501xy,GNERR,811    wrong pump or pillar address: no pump there
    t,501xy,GNERR,4x     pump communication error (extended codes; also while a new pump starts)
    t,50100,GNERR,11     no pumps in the rack at all
    (nothing at 501xy)   the slot is not in the answer: the rack sees no pump there

:class:`SlotFaults` turns these into :class:`~drivers.base.DeviceError` values, one per
configured pump: an error record at the pump's own address is ``counted`` every time it comes;
a state the host infers (the slot absent, GNERR 11, another code at ``50100``) is reported,
uncounted, only when it changes, and a slot found empty stays so until its data returns. An
answer from another rack (its bedId not the one learned) is refused for every pump, counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.base import DeviceError, DeviceTarget
from drivers.bbraun_bcc.codec import Answer

__all__ = ["EMPTY_CODES", "GNERR_REASONS", "SLOT_ABSENT", "SlotFaults", "foreign_rack", "reason"]

GNERR_REASONS: dict[int, str] = {
    11: "slot empty: no pumps in the rack (GNERR 11)",
    39: "slot empty: pump removed or not reachable (GNERR 39)",
    811: "slot empty: no pump at this address (GNERR 811)",
    68: "rack refused the request (GNERR 68)",
}
"""GNERR code -> what a nurse or technician reads in the device's ``last_error``."""
EMPTY_CODES = frozenset({11, 39, 811})
"""Codes that mean no pump is in the slot: the device is offline for that reason."""
SLOT_ABSENT = "slot empty: no pump in this slot"
GENERAL_OK = frozenset({None, 68})  # 68 is the conversation's (it re-runs ALIVE), not a pump's


def reason(code: int) -> str:
    """The readable reason for GNERR ``code`` (``-1``: a code that is not a number)."""
    known = GNERR_REASONS.get(code)
    if known is not None:
        return known
    if 40 <= code <= 49:
        return f"pump communication error (GNERR {code})"
    if 50 <= code <= 59:
        return f"rack topology fault: SpaceCover missing or rack fault (GNERR {code})"
    return "rack error, unreadable GNERR code" if code < 0 else f"rack error (GNERR {code})"


def foreign_rack(got: str, learned: str) -> str:
    """The reason for refusing an answer framed with bedId ``got`` instead of ``learned``."""
    return f"answer from another rack refused (bedId {got!r}, expected {learned!r})"


class SlotFaults:
    """The fault state of the pumps ``targets`` of one rack over one conversation."""

    def __init__(self, targets: Sequence[DeviceTarget]) -> None:
        self._targets = tuple(targets)
        self._stated: dict[str, str] = {}  # slot -> the uncounted state last reported
        self._empty: set[str] = set()  # slots known empty until their data returns

    def after_answer(self, answer: Answer) -> list[DeviceError]:
        """The device errors of a complete MEM:GET answer."""
        found: list[DeviceError] = []
        general = answer.general_error
        for target in self._targets:
            slot = target.address or ""
            code = answer.pump_errors.get(slot)
            if code is not None:
                found.append(DeviceError(target.device_id, reason(code)))
                self._stated.pop(slot, None)
                self._mark(slot, code in EMPTY_CODES)
            elif slot in answer.present:
                self._stated.pop(slot, None)
                self._empty.discard(slot)
            elif general not in GENERAL_OK:
                assert general is not None
                self._state(found, target, reason(general), empty=general in EMPTY_CODES)
            elif general is None and slot not in self._empty:
                self._state(found, target, SLOT_ABSENT, empty=True)
        return found

    def refused(self, why: str) -> list[DeviceError]:
        """An answer refused as a whole (another rack's): one counted error per pump."""
        return [DeviceError(target.device_id, why) for target in self._targets]

    def _state(self, found: list[DeviceError], target: DeviceTarget, why: str, empty: bool) -> None:
        slot = target.address or ""
        self._mark(slot, empty)
        if self._stated.get(slot) != why:
            self._stated[slot] = why
            found.append(DeviceError(target.device_id, why, counted=False))

    def _mark(self, slot: str, empty: bool) -> None:
        if empty:
            self._empty.add(slot)
        else:
            self._empty.discard(slot)

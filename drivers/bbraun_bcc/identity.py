"""Which rack a port's pumps belong to: the ComDevice's bedId, learned on first contact.

A host takes the bedId from the first ADMIN:ALIVE answer (fact sheet §4). If another rack
answers later on the same port (a swapped cable, a second ComDevice on a network port), its
pumps must not be published as ours, not even after the link was reopened: so the bedId
learned for a set of pumps outlives the conversation that learned it, for the life of the
process. ``options.bed_id`` pins it across restarts.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.base import DeviceTarget

__all__ = ["LEARNED", "BedIdMemory"]

RackKey = tuple[tuple[str, str | None], ...]


def rack_key(targets: Sequence[DeviceTarget]) -> RackKey:
    """The pumps of one port, as (device id, slot) in slot order: the same on every reopen."""
    return tuple(sorted(((t.device_id, t.address) for t in targets), key=lambda t: str(t[1])))


class BedIdMemory:
    """The bedId learned for each port's set of pumps."""

    def __init__(self) -> None:
        self._learned: dict[RackKey, str] = {}

    def get(self, targets: Sequence[DeviceTarget]) -> str | None:
        """The bedId learned for ``targets``, if any."""
        return self._learned.get(rack_key(targets))

    def learn(self, targets: Sequence[DeviceTarget], bed_id: str) -> None:
        """Remember ``bed_id`` for ``targets`` (the first one stays)."""
        self._learned.setdefault(rack_key(targets), bed_id)

    def forget(self) -> None:
        """Forget every learned bedId (as a restart does)."""
        self._learned.clear()


LEARNED = BedIdMemory()
"""The process's memory, used by the registered driver (see ``driver.build_conversation``)."""

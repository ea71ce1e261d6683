"""What changed in a bed view between two of its events, and the ``bed_delta`` event data.

A bed view (:meth:`edge.web.views.BedView.to_json`, ~2 KB) is cut into *parts*: each vital
sign (``vitals/hr``), each pump and each device by its id (``pumps/{device_id}``,
``devices/{device_id}``) and each other field (``label``, ``edge_id``, ``session``, ...). A
reading changes a few parts (a monitor's vital signs, or one pump), so the event streams send
only those parts (a few hundred bytes) once the page holds the whole bed. A change in the set of
pumps or devices is no delta (:func:`changed_parts` returns ``None``): the whole bed goes out.

``bed_delta`` data: ``{"key": ..., "vitals": {name: value}, "pumps": {device_id: pump},
"devices": {device_id: device}, <field>: value}``, each group present only when one of its
parts changed; the page replaces exactly those parts of the bed it holds.
"""

from __future__ import annotations

from typing import Any

from edge.web.views import JsonDict

__all__ = ["GROUPS", "bed_delta", "changed_parts"]

GROUPS = ("vitals", "pumps", "devices")  # parts kept by name (vitals) or by device id
_LISTED = ("pumps", "devices")


def _parts(bed: JsonDict) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for name, value in bed.items():
        if name == "vitals":
            parts.update((f"vitals/{vital}", v) for vital, v in value.items())
        elif name in _LISTED:
            parts.update((f"{name}/{item['device_id']}", item) for item in value)
        else:
            parts[name] = value
    return parts


def _ids(bed: JsonDict, group: str) -> list[str]:
    return [item["device_id"] for item in bed[group]]


def changed_parts(old: JsonDict | None, new: JsonDict) -> frozenset[str] | None:
    """The parts of ``new`` that differ from ``old``; ``None`` when the page needs the whole
    bed: no ``old``, a pump or device came or went, or another part went away."""
    if old is None or any(_ids(old, group) != _ids(new, group) for group in _LISTED):
        return None
    before, after = _parts(old), _parts(new)
    if before.keys() - after.keys():
        return None  # a part went away: only the whole bed says so
    return frozenset(name for name, value in after.items() if before.get(name, ...) != value)


def bed_delta(bed: JsonDict, parts: frozenset[str]) -> JsonDict:
    """The ``bed_delta`` data of ``bed`` (a whole bed view) holding only ``parts``."""
    delta: JsonDict = {"key": bed["key"]}
    lists = {group: {item["device_id"]: item for item in bed[group]} for group in _LISTED}
    for part in sorted(parts):
        group, _, name = part.partition("/")
        if not name:
            delta[group] = bed[group]
        else:
            held = bed["vitals"] if group == "vitals" else lists[group]
            delta.setdefault(group, {})[name] = held[name]
    return delta

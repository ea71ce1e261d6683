"""What changed in a bed view between two of its events, and the ``bed_delta`` event data.

A bed view (:meth:`edge.web.views.BedView.to_json`, ~2 KB) is read as a tree: its pumps and
devices keyed by their ids, every other object by its own keys. A *part* is the path to a
value that changed (``("vitals", "hr", "value")``, ``("pumps", "pump-1", "values", "volume",
"ts")``, ``("label",)``). A reading changes a few values (a monitor's vital signs and their
times, or one pump's), so the event streams send only those once the page holds the whole bed.
A change in the set of pumps or devices, or a key that went away anywhere, is no delta
(:func:`changed_parts` returns ``None``): the whole bed goes out.

``bed_delta`` data: the changed values in their place in the tree, ``{"key": ..., "vitals":
{"hr": {"value": 92, "ts": ...}}, "pumps": {device_id: {...}}, "devices": {device_id: {...}},
<field>: value}``; the page merges it into the bed it holds, object by object (a pump or
device by its id).
"""

from __future__ import annotations

from typing import Any

from edge.web.views import JsonDict

__all__ = ["Part", "bed_delta", "changed_parts"]

Part = tuple[str, ...]  # a path in the bed's tree
_LISTED = ("pumps", "devices")  # lists in the view, keyed by device id in the tree
_MISSING = object()


def _tree(bed: JsonDict) -> JsonDict:
    listed = {group: {item["device_id"]: item for item in bed[group]} for group in _LISTED}
    return {**bed, **listed}


def _ids(bed: JsonDict, group: str) -> list[str]:
    return [item["device_id"] for item in bed[group]]


def _diff(old: JsonDict, new: JsonDict, path: Part, changed: set[Part]) -> bool:
    """Add the paths of ``new``'s values that differ from ``old``'s to ``changed``; ``False``
    when a key of ``old`` is gone from ``new``."""
    for name, value in new.items():
        held = old.get(name, _MISSING)
        if held == value:
            continue
        if isinstance(value, dict) and isinstance(held, dict):
            if not _diff(held, value, (*path, name), changed):
                return False
        else:
            changed.add((*path, name))
    return not old.keys() - new.keys()


def changed_parts(old: JsonDict | None, new: JsonDict) -> frozenset[Part] | None:
    """The parts of ``new`` that differ from ``old``; ``None`` when the page needs the whole
    bed: no ``old``, a pump or device came or went, or a key went away."""
    if old is None or any(_ids(old, group) != _ids(new, group) for group in _LISTED):
        return None
    changed: set[Part] = set()
    if not _diff(_tree(old), _tree(new), (), changed):
        return None
    return frozenset(changed)


def bed_delta(bed: JsonDict, parts: frozenset[Part]) -> JsonDict:
    """The ``bed_delta`` data of ``bed`` (a whole bed view) holding only ``parts``."""
    tree = _tree(bed)
    delta: JsonDict = {"key": bed["key"]}
    for part in sorted(parts, key=len):
        if any(part[:end] in parts for end in range(1, len(part))):
            continue  # within a part sent whole
        source: Any = tree
        target = delta
        for name in part[:-1]:
            source = source[name]
            target = target.setdefault(name, {})
        target[part[-1]] = source[part[-1]]
    return delta

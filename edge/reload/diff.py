"""The difference between the running config and a newly loaded one (pure, no I/O).

Live: alarm limits and bed orders (next evaluation), beds, devices (added, removed, changed:
reopened alone), the beds' visit numbers and the devices' EUI-64s (the HL7 and FHIR outputs'
next messages). Links: a port whose devices are as before (but for their EUI-64s) keeps its
session; any other port's session is stopped and/or started. Everything else (``mqtt``,
``http``, ``storage``, ``log``, ``acknowledgements``, ``hl7``, ``fhir``, ``plausibility``,
``control``, a bed's ``label``) is reported as needing a restart and keeps its running value.
The edge's identity (``site``, ``edge_id``) cannot change live: the reload is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.alarms.limits import AlarmLimits
from edge.alarms.sessions import order_summary
from edge.config import Config, DeviceConfig, Problem, port_key
from edge.reload.changes import (
    NO_LINK_FIELDS,
    ConfigChanges,
    DeviceChange,
    LimitChange,
    OrderChange,
)

__all__ = ["RESTART_SECTIONS", "Plan", "limits_of", "plan_reload"]

RESTART_SECTIONS = (
    "log",
    "mqtt",
    "http",
    "storage",
    "acknowledgements",
    "hl7",
    "fhir",
    "plausibility",
    "control",
)
IDENTITY = ("site", "edge_id")
LinkKey = tuple[DeviceConfig, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a reload does: ``config`` is the config to run with (the new file, with the
    sections that need a restart kept as running), ``changes`` the audit's diff, ``refused``
    the problems that forbid it, ``stop``/``start`` the links (their devices) to stop and to
    start, ``removed`` the device ids the alarm engine forgets, ``added`` those it takes up."""

    config: Config
    changes: ConfigChanges
    refused: tuple[Problem, ...]
    stop: tuple[LinkKey, ...]
    start: tuple[LinkKey, ...]
    removed: tuple[str, ...]
    added: tuple[DeviceConfig, ...]


def plan_reload(running: Config, new: Config) -> Plan:
    """The plan to go from ``running`` to ``new``."""
    refused = tuple(
        Problem(
            key,
            f"{key} changed from {getattr(running, key)!r} to {getattr(new, key)!r}",
            "the edge's identity changes only with a restart",
        )
        for key in IDENTITY
        if getattr(running, key) != getattr(new, key)
    )
    needs_restart = [key for key in RESTART_SECTIONS if getattr(running, key) != getattr(new, key)]
    beds = {}
    for bed, config in new.beds.items():
        old = running.beds.get(bed)
        if old is not None:
            if old.label != config.label:
                needs_restart.append(f"beds.{bed}.label")
            config = config.model_copy(update={"label": old.label})
        beds[bed] = config
    effective = new.model_copy(
        update={"beds": beds, **{key: getattr(running, key) for key in RESTART_SECTIONS}}
    )
    old_devices = {d.id: d for d in running.devices}
    new_devices = {d.id: d for d in new.devices}
    changed = [
        DeviceChange(device_id=d.id, bed=d.bed, fields=_changed_fields(old_devices[d.id], d))
        for d in new.devices
        if d.id in old_devices and old_devices[d.id] != d
    ]
    old_links, new_links = _links(running), _links(new)
    stop = tuple(v for k, v in old_links.items() if _link(new_links.get(k)) != _link(v))
    start = tuple(v for k, v in new_links.items() if _link(old_links.get(k)) != _link(v))
    rebedded = {c.device_id for c in changed if "bed" in c.fields}
    removed = [i for i in old_devices if i not in new_devices or i in rebedded]
    relinked = {
        i
        for i, d in new_devices.items()
        if i in old_devices and _link((d,)) != _link((old_devices[i],))
    }
    added = [d for d in new.devices if d.id not in old_devices or d.id in relinked]
    changes = ConfigChanges(
        limits=tuple(_limit_changes(running, new)),
        orders=tuple(
            OrderChange(
                bed=bed,
                before=_summary(running, bed),
                after=_summary(new, bed),
            )
            for bed in dict.fromkeys([*running.beds, *new.beds])
            if _order(running, bed) != _order(new, bed)
        ),
        beds_added=tuple(b for b in new.beds if b not in running.beds),
        beds_removed=tuple(b for b in running.beds if b not in new.beds),
        devices_added=tuple(i for i in new_devices if i not in old_devices),
        devices_removed=tuple(i for i in old_devices if i not in new_devices),
        devices_changed=tuple(changed),
        visit_numbers_changed=tuple(
            bed
            for bed in new.beds
            if bed in running.beds and running.beds[bed].visit_number != new.beds[bed].visit_number
        ),
        needs_restart=tuple(needs_restart),
    )
    return Plan(effective, changes, refused, stop, start, tuple(removed), tuple(added))


def limits_of(config: Config, bed: str) -> AlarmLimits:
    """The alarm limits in force for ``bed``: the site's with the bed's overrides."""
    limits = config.alarms.for_bed(bed)
    return AlarmLimits.model_validate(limits.model_dump(exclude={"beds"}))


def _links(config: Config) -> dict[str, LinkKey]:
    return {port_key(group[0].port): tuple(group) for group in config.links()}


def _link(devices: LinkKey | None) -> LinkKey | None:
    """``devices`` as their link sees them: without the settings that change no link."""
    if devices is None:
        return None
    return tuple(d.model_copy(update=dict.fromkeys(NO_LINK_FIELDS)) for d in devices)


def _changed_fields(old: DeviceConfig, new: DeviceConfig) -> tuple[str, ...]:
    before, after = old.model_dump(), new.model_dump()
    return tuple(key for key in after if before.get(key) != after[key])


def _order(config: Config, bed: str) -> Any:
    bed_config = config.beds.get(bed)
    return None if bed_config is None else bed_config.order


def _summary(config: Config, bed: str) -> Any:
    order = _order(config, bed)
    return None if order is None else order_summary(order)


def _limit_changes(running: Config, new: Config) -> list[LimitChange]:
    changes = []
    for bed in (b for b in new.beds if b in running.beds):
        before = _flat(limits_of(running, bed).model_dump())
        after = _flat(limits_of(new, bed).model_dump())
        changes += [
            LimitChange(bed=bed, limit=key, before=before.get(key), after=after.get(key))
            for key in after
            if before.get(key) != after[key]
        ]
    return changes


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat

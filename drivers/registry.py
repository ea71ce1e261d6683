"""The driver registry: driver name -> the module attribute that holds its :class:`Driver`.

A new device protocol is a new package under ``drivers/`` and one line in ``_DRIVERS``.
Drivers are imported on first use, so a broken or slow driver costs only the configs using it.
"""

from __future__ import annotations

import importlib

from drivers.base import Driver
from drivers.errors import UnknownDriverError

__all__ = ["driver_names", "get_driver"]

_DRIVERS: dict[str, str] = {
    "alaris_asena": "drivers.alaris_asena.driver:DRIVER",
    "bbraun_bcc": "drivers.bbraun_bcc.driver:DRIVER",
    "draeger_medibus": "drivers.draeger_medibus.driver:DRIVER",
    "ge_dri": "drivers.ge_dri.driver:DRIVER",
    "intellivue": "drivers.intellivue.driver:DRIVER",
    "line": "drivers.line.driver:DRIVER",
    "masimo_ascii": "drivers.masimo_ascii.driver:DRIVER",
    "textline": "drivers.textline.driver:DRIVER",
}


def driver_names() -> list[str]:
    """Every registered driver name, sorted."""
    return sorted(_DRIVERS)


def get_driver(name: str) -> Driver:
    """The driver registered as ``name``; raises :class:`UnknownDriverError`."""
    try:
        target = _DRIVERS[name]
    except KeyError:
        known = ", ".join(driver_names())
        raise UnknownDriverError(f"unknown driver {name!r} (known: {known})") from None
    module_name, _, attribute = target.partition(":")
    driver = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(driver, Driver):
        raise TypeError(f"{target} is not a Driver")
    return driver

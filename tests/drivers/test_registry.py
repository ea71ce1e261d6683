"""The driver registry."""

from __future__ import annotations

import pytest

from drivers.base import Driver
from drivers.errors import UnknownDriverError
from drivers.registry import driver_names, get_driver


def test_every_registered_driver_loads() -> None:
    for name in driver_names():
        driver = get_driver(name)
        assert isinstance(driver, Driver)
        assert driver.name == name
        assert driver.max_devices_per_port >= 1


def test_unknown_driver_names_the_known_ones() -> None:
    with pytest.raises(UnknownDriverError, match=r"known: .*textline"):
        get_driver("nope")

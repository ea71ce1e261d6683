"""A device's silence times against its driver's reporting period, for ``config check``.

A device reports every period (a driver's own, or the one its options set, such as the BCC
``poll_period_s``; or the device's ``period_s``). Its ``timeout_s`` must span at least the
driver's floor (:meth:`~drivers.base.Driver.min_timeout_for`: two periods, or longer where
the protocol needs time to recover a silent device), and its ``stale_after_s`` at least one
period: otherwise a device that reports on time goes stale, or offline, between two reports.
"""

from __future__ import annotations

from pydantic import BaseModel

from drivers.base import MIN_TIMEOUT_PERIODS, Driver, TimingFloor
from edge.config_errors import Problem

__all__ = ["default_stale_after", "timing_problems"]


def default_stale_after(period_s: float, timeout_s: float) -> float:
    """The stale time (s) of a device without ``stale_after_s``: three periods, but at most
    half the timeout, and never less than one and a half periods."""
    return min(3 * period_s, max(timeout_s / 2, 1.5 * period_s))


def _keys(where: str, floor: TimingFloor, driver: Driver) -> str:
    """The config keys ``floor`` follows, or the driver's fixed period."""
    if not floor.keys:
        return f"driver {driver.name!r} reporting every {driver.period_s:g} s"
    return " and ".join(f"{where}.options.{key}" for key in floor.keys)


def _period_source(where: str, driver: Driver, period_s: float | None) -> str:
    if period_s is not None:
        return f"{where}.period_s"
    if driver.period_option is not None:
        return f"{where}.options.{driver.period_option}"
    return f"driver {driver.name!r}"


def timing_problems(
    where: str,
    driver: Driver,
    options: BaseModel,
    *,
    timeout_s: float,
    stale_after_s: float | None,
    period_s: float | None,
) -> list[Problem]:
    """The problems of device ``where`` (``devices[2]``) whose validated ``options`` are for
    ``driver``: a timeout below the driver's floor, a stale time below the period."""
    floor = driver.min_timeout_for(options)
    because = _keys(where, floor, driver)
    if period_s is not None and MIN_TIMEOUT_PERIODS * period_s > floor.seconds:
        floor, because = TimingFloor(MIN_TIMEOUT_PERIODS * period_s), f"{where}.period_s"
    problems = []
    if timeout_s < floor.seconds:
        problems.append(
            Problem(
                f"{where}.timeout_s",
                f"timeout_s ({timeout_s:g} s) is below the {floor.seconds:g} s this device "
                f"needs with {because}: it would go offline between two of its reports",
                f"raise {where}.timeout_s to at least {floor.seconds:g}, or shorten {because}",
            )
        )
    period = period_s if period_s is not None else driver.period_for(options)
    period_key = _period_source(where, driver, period_s)
    if stale_after_s is not None and stale_after_s < period:
        problems.append(
            Problem(
                f"{where}.stale_after_s",
                f"stale_after_s ({stale_after_s:g} s) is below the device's reporting period "
                f"({period:g} s, from {period_key}): it would go stale between two reports",
                f"raise {where}.stale_after_s to at least {period:g}, or remove it",
            )
        )
    return problems

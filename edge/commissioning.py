"""Commissioning tools for a biomedical engineer: which port is which, and does a device talk.

``infusion-edge ports`` lists serial ports with their stable ``/dev/serial/by-id`` and
``by-path`` names (use these in the config: ``/dev/ttyUSB0`` can change at the next boot).
``infusion-edge probe PORT --driver NAME`` runs the driver against one device for a few
seconds through the daemon's own link session, printing every reading and the link's frame
counts, so cabling and settings can be checked before going live. ``--options YAML`` gives
the device's driver options as an inline mapping (a ``line`` device's format, a GE period),
checked as ``config check`` checks them (:func:`probe_options`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from pydantic import ValidationError
from serial.tools import list_ports

from drivers.readings import PumpReading, VitalsReading
from drivers.registry import get_driver
from edge.backoff import Backoff
from edge.bus import Bus
from edge.clock import SystemClock
from edge.config import DeviceConfig
from edge.config_errors import problems_from_validation
from edge.device_state import DeviceState
from edge.items import InputItem
from edge.session import LinkSession

__all__ = [
    "PortInfo",
    "ProbeOptionsError",
    "ProbeResult",
    "format_ports",
    "list_serial_ports",
    "probe",
    "probe_options",
]


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One serial port: its kernel name, stable names and what the adapter says it is."""

    device: str
    by_id: tuple[str, ...] = ()
    by_path: tuple[str, ...] = ()
    description: str = ""


def _links(folder: Path) -> dict[str, list[str]]:
    """Real device path -> the symlinks in ``folder`` that point at it."""
    out: dict[str, list[str]] = {}
    if folder.is_dir():
        for link in sorted(folder.iterdir()):
            with contextlib.suppress(OSError):
                out.setdefault(os.path.realpath(link), []).append(str(link))
    return out


def list_serial_ports(serial_root: Path = Path("/dev/serial")) -> list[PortInfo]:
    """Every serial port pyserial finds or ``serial_root/by-id`` names, sorted."""
    by_id, by_path = _links(serial_root / "by-id"), _links(serial_root / "by-path")
    described = {
        os.path.realpath(p.device): p.description
        for p in list_ports.comports()
        if p.description and p.description != "n/a"
    }
    devices = set(described) | set(by_id) | set(by_path)
    return [
        PortInfo(
            dev, tuple(by_id.get(dev, ())), tuple(by_path.get(dev, ())), described.get(dev, "")
        )
        for dev in sorted(devices)
    ]


def format_ports(ports: list[PortInfo]) -> str:
    """A listing for people: the device, then its stable names."""
    if not ports:
        return "no serial ports found (is the USB-serial adapter plugged in?)"
    lines = []
    for port in ports:
        lines.append(f"{port.device}  {port.description}".rstrip())
        lines += [f"    by-id:   {name}" for name in port.by_id]
        lines += [f"    by-path: {name}" for name in port.by_path]
    return "\n".join(lines)


class ProbeOptionsError(ValueError):
    """``--options`` the driver cannot use; the message has one located problem a line."""


def probe_options(driver: str, text: str | None) -> dict[str, Any]:
    """The driver options in YAML ``text`` (a mapping; none: the defaults), validated by the
    driver as ``config check`` does; raises :class:`ProbeOptionsError`."""
    if text is None:
        return {}
    try:
        options = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProbeOptionsError(f"options: not YAML: {exc}") from None
    if not isinstance(options, dict):
        raise ProbeOptionsError("options: give a mapping, like '{period_s: 10}'")
    try:
        get_driver(driver).options.model_validate(options)
    except ValidationError as exc:
        problems = problems_from_validation(exc, prefix="options")
        raise ProbeOptionsError("\n".join(str(problem) for problem in problems)) from None
    return options


@dataclass(slots=True)
class ProbeResult:
    """What a probe saw: readings, frame counts and the last link error."""

    readings: list[PumpReading | VitalsReading] = field(default_factory=list)
    frames_ok: int = 0
    frames_bad: int = 0
    last_error: str | None = None


def _describe(reading: PumpReading | VitalsReading) -> str:
    parts = [
        f"{o.code}={o.value:g} {o.unit}" if o.value is not None else f"{o.code}={o.state}"
        for o in reading.observations
    ]
    if isinstance(reading, PumpReading):
        flags = [name for name, on in reading.pump.flags if on]
        parts.insert(
            0, f"state={reading.pump.state}" + (f" flags={','.join(flags)}" if flags else "")
        )
    if reading.conditions:
        parts.append(f"conditions={','.join(reading.conditions)}")
    return f"{reading.ts:%H:%M:%S} {reading.kind}: " + "  ".join(parts)


async def probe(
    port: str,
    driver: str,
    seconds: float,
    address: str | None = None,
    out: TextIO = sys.stdout,
    options: dict[str, Any] | None = None,
) -> ProbeResult:
    """Read one device on ``port`` with ``driver`` (and its ``options``, see
    :func:`probe_options`) for ``seconds``; print as it goes."""
    device = DeviceConfig(
        id="probe",
        bed="probe",
        driver=driver,
        port=port,
        address=address,
        timeout_s=max(seconds, 1.0),
        options=options or {},
    )
    bus: Bus[InputItem] = Bus()
    items = bus.subscribe("probe")
    session = LinkSession(
        port, [device], get_driver(driver), bus, SystemClock(), Backoff(initial=0.5, cap=2.0)
    )
    result = ProbeResult()
    task = asyncio.create_task(session.run(), name=session.name)
    print(f"probing {port} with {driver} for {seconds:g} s ...", file=out, flush=True)
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for item in items:
                    if isinstance(item, PumpReading | VitalsReading):
                        result.readings.append(item)
                        print("  " + _describe(item), file=out, flush=True)
                    elif isinstance(item, DeviceState):
                        print(f"  [{item.connection}]", file=out, flush=True)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    result.frames_ok, result.frames_bad = session.frames_ok, session.frames_bad
    result.last_error = session.last_error
    return result

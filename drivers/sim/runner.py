"""One simulated device running on its clocks, and the host connection attached to it.

:class:`Simulation` owns the device (a :class:`~.devices.SimulatedDevice`), the scenario
clock and the wire faults (:class:`~.wire.WirePlan`). :meth:`Simulation.run` is the device's
life: it ticks the device and injects garbage whether or not a host is connected, as a real
device keeps running while its cable is out. :meth:`Simulation.attach` serves one host
connection (a :class:`Channel`): the bytes the host sends go to the device, and everything
the device says goes out through one writer task, whole or byte by byte. A newer connection
takes over from an older one. Silence drops both directions; the ports
(:mod:`.serve`) close themselves while a ``disconnect`` window is open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from drivers.sim.devices import SimTime, SimulatedDevice
from drivers.sim.timeline import Timeline
from drivers.sim.wire import WirePlan, WireState

__all__ = ["Channel", "Simulation"]

log = logging.getLogger(__name__)

_OUTBOX_CHUNKS = 256  # chunks queued for a host that does not read; more are dropped


class Channel(Protocol):
    """A host connection as the simulation sees it. ``read`` returns ``b""`` once closed;
    ``write`` never blocks (a full port drops data); ``drain`` waits for the transport."""

    name: str

    async def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class Simulation:
    """``device`` fed by ``timeline``: the scenario clock starts at ``start_s`` (scenario s)
    and runs ``speed`` times faster than the device clock (real s from construction, read
    from ``clock``). The device is ticked every ``tick_s`` real seconds."""

    def __init__(
        self,
        device: SimulatedDevice,
        timeline: Timeline,
        *,
        speed: float = 1.0,
        start_s: float = 0.0,
        tick_s: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self.device = device
        self.timeline = timeline
        self.plan = WirePlan(timeline, device.role, timeline.seed)
        self.speed, self._start_s, self._tick_s = speed, start_s, tick_s
        self._clock = clock
        self._t0 = clock()
        self._outbox: asyncio.Queue[bytes] | None = None
        self.dropped_bytes = 0
        self._logged = WireState()
        self._ended = False

    def now(self) -> SimTime:
        """The device and scenario clocks now."""
        device_s = self._clock() - self._t0
        return SimTime(device_s, self._start_s + device_s * self.speed, self.speed)

    def wire(self) -> WireState:
        """The cable now."""
        return self.plan.state(self.now().scenario_s)

    async def until(self, predicate: Callable[[WireState], bool]) -> None:
        """Return once ``predicate`` holds for the cable. The cable changes only at the edges
        of fault windows, so this sleeps from edge to edge (at most a second at a time)."""
        while not predicate(self.wire()):
            at = self.now()
            edge_s = self.plan.next_edge_s(at.scenario_s)
            await asyncio.sleep(min(max((edge_s - at.scenario_s) / self.speed, 0.001), 1.0))

    async def run(self) -> None:
        """The device's life: tick it, inject garbage, log fault windows; until cancelled."""
        while True:
            at = self.now()
            self._log_changes(at)
            self._emit(self.device.tick(at), at)
            self._emit(self.plan.garbage(at.scenario_s, at.device_s), at, frame=False)
            await asyncio.sleep(self._tick_s)

    async def attach(self, channel: Channel) -> None:
        """Serve the host on ``channel`` until it closes (or this task is cancelled)."""
        outbox: asyncio.Queue[bytes] = asyncio.Queue(_OUTBOX_CHUNKS)
        self._outbox = outbox
        log.info("host connected on %s", channel.name)
        try:
            async with asyncio.TaskGroup() as group:
                writer = group.create_task(
                    self._write(channel, outbox), name=f"{channel.name}.writer"
                )
                await self._read(channel)
                writer.cancel()
            log.info("host left %s", channel.name)
        finally:
            if self._outbox is outbox:
                self._outbox = None

    async def _read(self, channel: Channel) -> None:
        while data := await channel.read():
            at = self.now()
            if not self.plan.state(at.scenario_s).silent:
                self._emit(self.device.receive(data, at), at)

    async def _write(self, channel: Channel, outbox: asyncio.Queue[bytes]) -> None:
        while True:
            data = await outbox.get()
            gap_s = self.wire().byte_gap_s
            if gap_s is None:
                channel.write(data)
                await channel.drain()
                continue
            for byte in data:
                channel.write(bytes((byte,)))
                await channel.drain()
                await asyncio.sleep(gap_s)

    def _emit(self, data: bytes, at: SimTime, *, frame: bool = True) -> None:
        """Queue ``data`` for the host, unless there is none or the device is silent."""
        if not data:
            return
        if frame and self.plan.spoil_next_frame(at.scenario_s):
            self.device.spoil_next_frame()  # the draw for the frame after this one
        outbox = self._outbox
        if outbox is None or self.plan.state(at.scenario_s).silent:
            return
        try:
            outbox.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped_bytes += len(data)

    def _log_changes(self, at: SimTime) -> None:
        state = self.plan.state(at.scenario_s)
        if state != self._logged:
            log.info("scenario minute %.2f: wire %s", at.scenario_s / 60, _describe(state))
            self._logged = state
        if not self._ended and at.scenario_s >= self.timeline.duration_s:
            self._ended = True
            log.info("scenario ended; values hold, pumps carry on")


def _describe(state: WireState) -> str:
    parts = [name for name in ("silent", "disconnected") if getattr(state, name)]
    if state.byte_gap_s is not None:
        parts.append(f"byte-by-byte {state.byte_gap_s * 1000:g} ms")
    if state.corrupt_fraction:
        parts.append(f"bad checksums {state.corrupt_fraction:.0%}")
    if state.garbage is not None:
        parts.append(f"garbage every {state.garbage.every_s:g} s")
    return ", ".join(parts) or "clean"

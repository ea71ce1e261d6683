"""Wire faults, sans I/O: what the cable does to a simulated device's bytes, and when.

:class:`WirePlan` reads the wire faults open on the scenario clock (for the device ``role``
being simulated) and answers the serving loop's questions: is the device silent, is the
port gone, should the next frame be spoiled, is a garbage burst due, how far apart go the
bytes. Random choices come from the plan's own seeded generator, so a seed repeats them
(not their timing, which follows the real clock). Scenario time (``scenario_s``) opens and
closes the windows; real device time (``device_s``) paces garbage bursts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from drivers.sim.faults import (
    BadChecksum,
    ByteByByte,
    DeviceRole,
    Disconnect,
    Garbage,
    Silence,
    WireFault,
)
from drivers.sim.timeline import Timeline

__all__ = ["WirePlan", "WireState"]


@dataclass(frozen=True, slots=True)
class WireState:
    """The cable at one moment: ``silent`` (nothing in or out), ``disconnected`` (the port
    is gone), ``byte_gap_s`` (real s between bytes; ``None``: whole writes), the share of
    frames to spoil, and the garbage fault in force."""

    silent: bool = False
    disconnected: bool = False
    byte_gap_s: float | None = None
    corrupt_fraction: float = 0.0
    garbage: Garbage | None = None

    @classmethod
    def of(cls, faults: tuple[WireFault, ...]) -> WireState:
        """The combined effect of ``faults`` (overlapping ones: the harsher wins)."""
        gaps = [f.gap_ms / 1000.0 for f in faults if isinstance(f, ByteByByte)]
        garbage = [f for f in faults if isinstance(f, Garbage)]
        return cls(
            silent=any(isinstance(f, Silence) for f in faults),
            disconnected=any(isinstance(f, Disconnect) for f in faults),
            byte_gap_s=max(gaps) if gaps else None,
            corrupt_fraction=max(
                (f.fraction for f in faults if isinstance(f, BadChecksum)), default=0.0
            ),
            garbage=min(garbage, key=lambda f: f.every_s) if garbage else None,
        )


class WirePlan:
    """The wire faults of ``timeline`` for a simulator playing ``role``; ``seed`` drives the
    garbage bytes and which frames are spoiled."""

    def __init__(self, timeline: Timeline, role: DeviceRole, seed: int) -> None:
        self._timeline = timeline
        self._role = role
        self._random = random.Random(f"wire/{seed}")  # noqa: S311  # simulation, not secrets
        self._next_garbage_s: float | None = None

    def state(self, scenario_s: float) -> WireState:
        """The cable at scenario time ``scenario_s``."""
        return WireState.of(self._timeline.wire_faults(scenario_s, self._role))

    def next_edge_s(self, scenario_s: float) -> float:
        """The first scenario time after ``scenario_s`` when a wire fault window of this
        device opens or closes (``inf``: none)."""
        edges = (
            edge
            for fault in self._timeline.scenario.faults
            if isinstance(fault, WireFault) and fault.hits(self._role)
            for edge in (fault.start_s, fault.end_s)
            if edge > scenario_s
        )
        return min(edges, default=math.inf)

    def spoil_next_frame(self, scenario_s: float) -> bool:
        """Whether the next frame sent should carry a bad checksum (a seeded draw)."""
        fraction = self.state(scenario_s).corrupt_fraction
        return fraction > 0 and self._random.random() < fraction

    def garbage(self, scenario_s: float, device_s: float) -> bytes:
        """The garbage burst due at this moment, or ``b""``: the first one as the window
        opens, then one every ``every_s`` real seconds while it stays open."""
        fault = self.state(scenario_s).garbage
        if fault is None:
            self._next_garbage_s = None
            return b""
        if self._next_garbage_s is not None and device_s < self._next_garbage_s:
            return b""
        self._next_garbage_s = device_s + fault.every_s
        return self._random.randbytes(fault.length)

"""An in-memory link between the client conversation and the monitor side, with a hand
clock: no I/O, no sleeping, every byte and every instant under the test's control."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from drivers.base import DeviceTarget, Instant
from drivers.intellivue.conversation import IntelliVueConversation, Phase
from drivers.intellivue.monitor import IntelliVueMonitor, MonitorPhase
from drivers.intellivue.options import IntelliVueOptions
from drivers.readings import VitalsReading

WALL0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
TARGET = DeviceTarget(device_id="mon-1", bed="bed-1")
STEP = 0.05  # s between ticks of the hand clock


def phase(conversation: IntelliVueConversation) -> Phase:
    """The client's phase (a call, so that type checkers do not narrow it between steps)."""
    return conversation.phase


def monitor_phase(monitor: IntelliVueMonitor) -> MonitorPhase:
    """The monitor's phase, read through a call for the same reason."""
    return monitor.phase


def instant(t: float) -> Instant:
    """The session's view of time ``t`` s after the start."""
    return Instant(monotonic=t, wall=WALL0 + timedelta(seconds=t))


@dataclass
class Wire:
    """Client and monitor joined by two byte pipes. ``monitor_mute`` drops what the monitor
    sends, ``client_mute`` what the client sends (a silent or cut line)."""

    monitor: IntelliVueMonitor
    client: IntelliVueConversation = field(
        default_factory=lambda: IntelliVueConversation(TARGET, IntelliVueOptions())
    )
    now: float = 0.0
    monitor_mute: bool = False
    client_mute: bool = False
    readings: list[VitalsReading] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    frames_ok: int = 0
    to_monitor: bytearray = field(default_factory=bytearray)
    sent_by_client: list[bytes] = field(default_factory=list)

    def open(self) -> None:
        self._from_client(self.client.open(instant(self.now)))

    def run(self, seconds: float) -> list[VitalsReading]:
        """Advance the hand clock by ``seconds``; returns the readings made meanwhile."""
        before = len(self.readings)
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = round(self.now + STEP, 6)
            self._step()
        return self.readings[before:]

    def close(self) -> bytes:
        data = self.client.close(instant(self.now))
        self._from_client(data)
        self._deliver()
        return data

    def _step(self) -> None:
        self._deliver()
        self._to_client(self.monitor.tick(self.now))
        self._from_client(self.client.tick(instant(self.now)))

    def _deliver(self) -> None:
        data, self.to_monitor = bytes(self.to_monitor), bytearray()
        if data:
            self._to_client(self.monitor.receive(data, self.now))

    def _from_client(self, data: bytes) -> None:
        if data:
            self.sent_by_client.append(data)
            if not self.client_mute:
                self.to_monitor += data

    def _to_client(self, data: bytes) -> None:
        if not data or self.monitor_mute:
            return
        exchange = self.client.receive(data, instant(self.now))
        self.readings.extend(r for r in exchange.readings if isinstance(r, VitalsReading))
        self.errors.extend(exchange.errors)
        self.frames_ok += exchange.frames_ok
        self._from_client(exchange.send)

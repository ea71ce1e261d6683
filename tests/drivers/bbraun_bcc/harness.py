"""A host conversation wired to a ComDevice in memory, with time moved by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from drivers.base import DeviceError, Instant
from drivers.bbraun_bcc.conversation import BccConversation
from drivers.bbraun_bcc.device import ComDevice
from drivers.bbraun_bcc.framer import BccFramer
from drivers.bbraun_bcc.frames import BccFrame, Control
from drivers.readings import PumpReading, VitalsReading

WALL0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
UPTIME0 = 3600.0  # the ComDevice has been on for an hour when the test starts
STEP_S = 0.05  # s, time moves in these steps and the host is ticked at each (early is harmless)


class Wire:
    """Every host write goes to the device at once, every answer back to the host at once.

    ``line`` may alter what the device sends (fault injection on the cable). ``log`` holds
    ``(monotonic time, "host" | "device", bytes)`` for every write.
    """

    def __init__(
        self,
        host: BccConversation,
        device: ComDevice,
        line: Callable[[bytes], bytes] = lambda data: data,
    ) -> None:
        self.host, self.device, self.line = host, device, line
        self.steps = 0
        self.readings: list[PumpReading | VitalsReading] = []
        self.errors: list[str] = []
        self.device_errors: list[DeviceError] = []
        self.frames_ok = 0
        self.log: list[tuple[float, str, bytes]] = []

    @property
    def now(self) -> float:
        return round(self.steps * STEP_S, 6)

    def at(self) -> Instant:
        return Instant(self.now, WALL0 + timedelta(seconds=self.now))

    def open(self) -> None:
        self._deliver(self.host.open(self.at()))

    def run(self, seconds: float) -> None:
        end = self.steps + round(seconds / STEP_S)
        while self.steps < end:
            self.steps += 1
            self._deliver(self.host.tick(self.at()))

    def run_until(self, readings: int, limit_s: float = 120.0) -> None:
        """Run until at least ``readings`` readings arrived in total."""
        end = self.steps + round(limit_s / STEP_S)
        while len(self.readings) < readings:
            assert self.steps < end, f"only {len(self.readings)} readings after {limit_s} s"
            self.run(STEP_S)

    def _deliver(self, data: bytes) -> None:
        if not data:
            return
        self.log.append((self.now, "host", data))
        answer = self.line(self.device.receive(data, UPTIME0 + self.now))
        if not answer:
            return
        self.log.append((self.now, "device", answer))
        exchange = self.host.receive(answer, self.at())
        assert exchange.send == b""
        self.readings += exchange.readings
        self.errors += exchange.errors
        self.device_errors += exchange.device_errors
        self.frames_ok += exchange.frames_ok

    def host_said(self) -> list[tuple[float, str]]:
        """What the host sent, decoded: ``ACK``, ``NAK`` or the request text with its bedId."""
        said = []
        for time, who, data in self.log:
            if who != "host":
                continue
            for item in BccFramer(stuffing=self.device.stuffing).feed(data):
                if isinstance(item, Control):
                    said.append((time, item.name))
                elif isinstance(item, BccFrame):
                    said.append((time, f"{item.bed_id}:{item.text}"))
        return said

"""The device side of masimo_ascii, for tests and the simulator: an oximeter streaming one
"ASCII 1" line every ``period_s`` seconds from the values it is given, with the same frame
code the host decodes with.

``sensor_off`` sends dashes with EXC 0x000020; ``low_quality`` sends the values with EXC
0x000C00 (low signal IQ and Masimo SET). ``spoil_next_line`` flips the high bit of one byte
of the next line's SpO2 value (a non-printable byte: the host's framer drops the line; a
Masimo line has no checksum to spoil).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from drivers.masimo_ascii.codec import encode

__all__ = ["EXC_LOW_QUALITY", "EXC_NORMAL", "EXC_SENSOR_OFF", "Oximeter", "OximeterValues"]

EXC_NORMAL = 0x000800  # Masimo SET running
EXC_LOW_QUALITY = 0x000C00  # low signal IQ + Masimo SET
EXC_SENSOR_OFF = 0x000020


@dataclass(slots=True)
class OximeterValues:
    """What the oximeter shows: SpO2 (%), pulse rate (/min), PI (%), SpCO, SpMet (%), PVI
    (%); ``None`` is no value. ``alarm`` is the ALARM bit field."""

    spo2: float | None = 98
    pulse_rate: float | None = 72
    pi: float | None = 2.35
    spco: float | None = None
    spmet: float | None = None
    pvi: float | None = None
    sensor_off: bool = False
    low_quality: bool = False
    alarm: int = 0


class Oximeter:
    """A streaming Masimo oximeter whose clock reads ``clock_at_start`` at device time 0."""

    def __init__(self, period_s: float = 1.0, clock_at_start: datetime | None = None) -> None:
        self.values = OximeterValues()
        self._period_s = period_s
        self._start = clock_at_start or datetime(2025, 1, 2, 10, 0, 0)
        self._next_s = 0.0
        self._spoil = False

    def line(self, device_s: float) -> bytes:
        """The line the oximeter sends at device time ``device_s`` (s)."""
        v = self.values
        shown = not v.sensor_off
        numbers = {
            "SPO2": v.spo2,
            "BPM": v.pulse_rate,
            "PI": v.pi,
            "SPCO": v.spco,
            "SPMET": v.spmet,
            "PVI": v.pvi,
        }
        exc = EXC_SENSOR_OFF if v.sensor_off else EXC_LOW_QUALITY if v.low_quality else EXC_NORMAL
        stamp = (self._start + timedelta(seconds=device_s)).strftime("%m/%d/%y %H:%M:%S")
        values = {name: value if shown else None for name, value in numbers.items()}
        data = encode(stamp, values, alarm=v.alarm, exc=exc).to_bytes()
        if self._spoil:
            self._spoil = False
            at = data.index(b"SPO2=") + 5
            data = data[:at] + bytes((data[at] ^ 0x80,)) + data[at + 1 :]
        return data

    def tick(self, device_s: float) -> bytes:
        """A line when one is due at ``device_s``, else nothing."""
        if device_s < self._next_s:
            return b""
        self._next_s = max(self._next_s + self._period_s, device_s)
        return self.line(device_s)

    def spoil_next_line(self) -> None:
        self._spoil = True

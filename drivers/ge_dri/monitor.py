"""The monitor side of the S/5 Computer Interface, sans I/O: requests in, records out.

It uses the same framer and record code as the host, so the simulator and the tests that
wire it to :class:`~.conversation.GeDriConversation` exercise both ends (fact sheet §8):

- frames with a bad checksum are ignored (no ACK/NAK at frame level);
- a displayed-values request with ``tx_ival`` >= 5 starts (or restarts) the stream: one
  record with one Basic subrecord at once, then one every ``tx_ival`` s; ``tx_ival`` 0 stops
  it; -1 sends one record (a second -1 within 5 s is ignored). Sending the first record at
  once is this simulator's choice; when a real monitor sends its first one is not documented;
- every header carries ``dri_level``, the record number and the monitor's clock; absent
  groups are sent with status 0 and DATA_INVALID values.

Time is the caller's monotonic ``now`` in seconds; the monitor's clock (Unix seconds) is
``clock_at_start`` at the ``now`` given to the constructor. Values live in
:class:`MonitorValues`, a plain mutable dataclass: set them at any time (``None``: no value,
sent as DATA_INVALID).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import BadFrame
from drivers.checksums import sum_mod256
from drivers.errors import DecodeError
from drivers.ge_dri import basic
from drivers.ge_dri.basic import DATA_INVALID, Group
from drivers.ge_dri.framer import DriFramer, frame
from drivers.ge_dri.records import (
    DISPL,
    DRI_LEVEL,
    MT_PHDB,
    SR_DISPL,
    SR_PHDB_REQUEST,
    Header,
    PhdbRequest,
    Subrecord,
    build_record,
    parse_record,
    phdb_subrecord,
)

__all__ = ["GeMonitor", "MonitorValues", "basic_groups"]

MIN_PERIOD_S = 5
_ACTIVE = basic.STATUS_EXISTS | basic.STATUS_ACTIVE
_ECG_SOURCE = 1 << basic.ECG_SOURCE_SHIFT  # HR from ECG
_AXILLARY = 6


@dataclass(slots=True)
class MonitorValues:
    """What the monitor shows: HR, PR, RR (/min), SpO2 (%), temperature (Cel), the last NIBP
    (sys, dia, mean in mmHg) and whether a cuff is being measured. ``None``: no value."""

    hr: float | None = 72
    pr: float | None = 72
    spo2: float | None = 98
    rr: float | None = 14
    temp_c: float | None = 36.8
    nibp: tuple[float | None, float | None, float | None] | None = (120, 80, 93)
    nibp_measuring: bool = False


def _raw(value: float | None, scale: int = 1) -> int:
    return DATA_INVALID if value is None else round(value * scale)


def basic_groups(values: MonitorValues) -> dict[str, Group]:
    """The Basic groups showing ``values``: ECG (HR from ECG, impedance RR), NIBP (AUTO
    mode), T1 (axillary) and SpO2; the other modules absent."""
    invalid = DATA_INVALID
    groups = {
        "ecg": Group(
            _ACTIVE | _ECG_SOURCE, 0, (_raw(values.hr), invalid, invalid, invalid, _raw(values.rr))
        ),
        "t1": Group(_ACTIVE, _AXILLARY, (_raw(values.temp_c, 100),)),
        "spo2": Group(_ACTIVE, 0, (_raw(values.spo2, 100), _raw(values.pr), invalid, invalid)),
    }
    label = basic.NIBP_AUTO | (basic.NIBP_MEASURING if values.nibp_measuring else 0)
    sys, dia, mean = values.nibp or (None, None, None)
    pressures = (_raw(sys, 100), _raw(dia, 100), _raw(mean, 100), invalid)
    groups["nibp"] = Group(_ACTIVE, label, pressures)
    return groups


class GeMonitor:
    """A simulated GE monitor's Computer Interface port. ``values`` may be changed freely;
    ``requests`` counts the requests understood, ``records`` the records sent."""

    def __init__(
        self,
        values: MonitorValues | None = None,
        now: float = 0.0,
        clock_at_start: int = 0x67751220,
    ) -> None:
        self.values = values if values is not None else MonitorValues()
        self.requests = self.records = 0
        self._start, self._clock = now, clock_at_start
        self._framer = DriFramer()
        self._period: int | None = None
        self._next_at = 0.0
        self._once_at: float | None = None
        self._spoil = False

    @property
    def period_s(self) -> int | None:
        """The running stream's period (s), or ``None`` when not streaming."""
        return self._period

    def spoil_next_frame(self) -> None:
        """Send the next record with a wrong checksum."""
        self._spoil = True

    def receive(self, data: bytes, now: float) -> bytes:
        """Handle bytes from the host; returns the records sent back."""
        out = bytearray()
        for item in self._framer.feed(data):
            if isinstance(item, BadFrame):
                continue
            try:
                header, subrecords = parse_record(item)
            except DecodeError:
                continue
            if header.maintype != MT_PHDB:
                continue
            for sub in subrecords:
                if sub.type == SR_PHDB_REQUEST:
                    out += self._request(sub.data, now)
        return bytes(out)

    def _request(self, data: bytes, now: float) -> bytes:
        try:
            request = PhdbRequest.from_subrecord(data)
        except DecodeError:
            return b""
        if request.record_type != DISPL:
            return b""
        self.requests += 1
        interval = request.interval_s
        if interval == 0:
            self._period = None
        elif interval == -1:
            if self._once_at is None or now - self._once_at >= MIN_PERIOD_S:
                self._once_at = now
                return self.record(now)
        elif interval >= MIN_PERIOD_S:
            self._period = interval
            self._next_at = now + interval
            return self.record(now)
        return b""

    def tick(self, now: float) -> bytes:
        """The periodic record, when due."""
        if self._period is None or now < self._next_at:
            return b""
        self._next_at = max(self._next_at + self._period, now)
        return self.record(now)

    def record(self, now: float) -> bytes:
        """One framed displayed-values record with the values at ``now``."""
        clock = self._clock + int(now - self._start)
        self.records += 1
        header = Header(0, self.records % 256, DRI_LEVEL, 0, clock)
        physdata = basic.encode_groups(basic_groups(self.values))
        sub = Subrecord(SR_DISPL, phdb_subrecord(clock, physdata))
        record = build_record(MT_PHDB, (sub,), header)
        if self._spoil:
            self._spoil = False
            return frame(record, checksum=(sum_mod256(record) + 1) & 0xFF)
        return frame(record)

"""The host conversation against the monitor side, in memory: request, stream, silence and
re-request, faults, stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import DeviceTarget, Exchange, Instant
from drivers.ge_dri.conversation import GeDriConversation
from drivers.ge_dri.monitor import GeMonitor, MonitorValues
from drivers.ge_dri.options import GeDriOptions
from drivers.registry import get_driver
from tests.drivers.ge_dri.vectors import E4_BASIC_RECORD

TARGET = DeviceTarget("monitor-1", "bed-1")
T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> Instant:
    return Instant(seconds, T0 + timedelta(seconds=seconds))


class Wire:
    """Host and monitor, bytes passed at once; ``cut`` drops the monitor's output."""

    def __init__(self, options: GeDriOptions | None = None) -> None:
        self.host = GeDriConversation(TARGET, options)
        self.monitor = GeMonitor(MonitorValues())
        self.cut = False
        self.exchanges: list[Exchange] = []

    def to_host(self, data: bytes, now: float) -> None:
        if data and not self.cut:
            self.exchanges.append(self.host.receive(data, at(now)))

    def to_monitor(self, data: bytes, now: float) -> None:
        self.to_host(self.monitor.receive(data, now), now)

    def run(self, start: float, end: float, step: float = 0.5) -> None:
        now = start
        while now <= end:
            due = self.host.next_tick_at()
            if due is not None and now >= due:
                self.to_monitor(self.host.tick(at(now)), now)
            self.to_host(self.monitor.tick(now), now)
            now += step

    def readings(self) -> int:
        return sum(len(e.readings) for e in self.exchanges)


def test_one_request_starts_a_stream_every_period() -> None:
    wire = Wire()
    wire.to_monitor(wire.host.open(at(0)), 0)
    wire.run(0.5, 60)
    assert wire.readings() == 13  # at once, then every 5 s
    assert wire.monitor.requests == 1
    assert wire.host.requests == 1
    assert all(e.errors == [] for e in wire.exchanges)


def test_the_request_is_sent_again_after_silence() -> None:
    wire = Wire(GeDriOptions(period_s=5, resend_after_s=12))
    wire.to_monitor(wire.host.open(at(0)), 0)
    wire.run(0.5, 20)
    wire.monitor = GeMonitor(MonitorValues())  # restarted: it forgot the subscription
    wire.run(20.5, 40)
    assert wire.host.requests == 2
    assert wire.monitor.requests == 1
    before = wire.readings()
    wire.run(40.5, 60)
    assert wire.readings() == before + 4


def test_a_silent_link_is_asked_again_every_resend_period() -> None:
    wire = Wire(GeDriOptions(period_s=5, resend_after_s=10))
    wire.cut = True
    wire.to_monitor(wire.host.open(at(0)), 0)
    wire.run(0.5, 35)
    assert wire.host.requests == 4  # at 0, 10, 20, 30


def test_a_spoiled_record_is_counted_and_the_next_one_read() -> None:
    wire = Wire()
    wire.to_monitor(wire.host.open(at(0)), 0)
    wire.monitor.spoil_next_frame()
    wire.run(0.5, 10)
    assert [len(e.errors) for e in wire.exchanges] == [0, 1, 0]
    assert wire.readings() == 2


def test_close_stops_the_stream() -> None:
    wire = Wire()
    wire.to_monitor(wire.host.open(at(0)), 0)
    wire.to_monitor(wire.host.close(at(1)), 1)
    assert wire.monitor.period_s is None
    assert wire.host.next_tick_at() is None


def test_the_driver_entry() -> None:
    driver = get_driver("ge_dri")
    options = driver.options.model_validate({"period_s": 10, "resend_after_s": 30})
    assert driver.period_for(options) == 10
    assert driver.min_timeout_for(options).seconds == 40
    settings = driver.serial_defaults
    assert (settings.baudrate, settings.parity, settings.rtscts) == (19200, "E", True)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 320), st.integers(1, 255))
def test_no_bytes_make_the_conversation_raise_or_read_a_corrupted_record(
    noise: bytes, index: int, flip: int
) -> None:
    host = GeDriConversation(TARGET)
    wire = bytearray(E4_BASIC_RECORD)
    wire[index] ^= flip
    exchange = host.receive(noise + bytes(wire), at(0))
    assert exchange.readings == [] or bytes(wire) == E4_BASIC_RECORD

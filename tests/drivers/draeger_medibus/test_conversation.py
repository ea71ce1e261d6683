"""The MEDIBUS host against the simulated ventilator, in memory: link set-up, polls, NOP
keep-alive, alarms as a device condition, corrupt replies, silence and re-initialisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import DeviceTarget, Exchange, Instant
from drivers.draeger_medibus.codec import Alarm
from drivers.draeger_medibus.conversation import MedibusConversation
from drivers.draeger_medibus.framer import command, response
from drivers.draeger_medibus.options import MedibusOptions
from drivers.draeger_medibus.ventilator import Ventilator, VentilatorValues
from drivers.plausibility import check_plausible
from drivers.readings import VitalsReading, observation_kind
from drivers.registry import get_driver

TARGET = DeviceTarget("vent-1", "bed-1")
T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> Instant:
    return Instant(seconds, T0 + timedelta(seconds=seconds))


class Wire:
    """Host and ventilator, bytes passed at once; ``cut`` silences the ventilator;
    ``sent`` records every command byte string the host wrote."""

    def __init__(self, options: MedibusOptions | None = None) -> None:
        self.host = MedibusConversation(TARGET, options)
        self.vent = Ventilator(VentilatorValues())
        self.cut = False
        self.exchanges: list[Exchange] = []
        self.sent: list[bytes] = []

    def to_vent(self, data: bytes, now: float) -> None:
        for _ in range(10):  # a reply may carry the host's next command
            if not data:
                return
            self.sent.append(data)
            answer = self.vent.receive(data, now)
            if self.cut or not answer:
                return
            exchange = self.host.receive(answer, at(now))
            self.exchanges.append(exchange)
            data = exchange.send

    def run(self, start: float, end: float, step: float = 0.25) -> None:
        now = start
        while now <= end:
            due = self.host.next_tick_at()
            if due is not None and now >= due:
                self.to_vent(self.host.tick(at(now)), now)
            now += step

    def readings(self) -> list[VitalsReading]:
        return [r for e in self.exchanges for r in e.readings if isinstance(r, VitalsReading)]


def test_link_set_up_then_one_reading_per_period() -> None:
    wire = Wire()
    wire.to_vent(wire.host.open(at(0)), 0)
    assert wire.sent[:4] == [command(0x51), command(0x52), command(0x24), command(0x27)]
    assert wire.host.identity is not None
    assert wire.host.identity.number == "8240"
    assert wire.host.identity.name == "Evita 4"
    wire.run(0.25, 20)
    readings = wire.readings()
    assert len(readings) == 11  # at once, then every 2 s
    reading = readings[0]
    assert reading.value("MDC_VENT_RESP_RATE") == 14
    assert reading.value("MDC_VOL_AWAY_TIDAL_EXP") == 450
    assert reading.value("MDC_VOL_MINUTE_AWAY") == 6.3
    assert reading.value("MDC_PRESS_AWAY_INSP_PEAK") == 22
    assert reading.value("MDC_PRESS_RESP_PLAT") == 18
    assert reading.value("MDC_PRESS_AWAY_INSP_MEAN") == 10
    assert reading.value("MDC_VENT_PRESS_AWAY_END_EXP_POS") == 5
    assert reading.value("MDC_VENT_CONC_AWAY_O2_INSP") == 40
    assert reading.value("X_DRAEGER_CO2_ET_PCT") == 5.1
    assert reading.conditions == ()
    for obs in reading.observations:
        kind = observation_kind(obs.code)
        assert kind is not None
        assert kind.unit == obs.unit
    assert check_plausible(reading) == (reading, [])
    assert wire.host.inits == 1


def test_tidal_volume_in_litres_and_omitted_values() -> None:
    wire = Wire()
    wire.vent.values = VentilatorValues(vt_ml=1250, mv_l_min=15.2, pplat=None, etco2_pct=None)
    wire.to_vent(wire.host.open(at(0)), 0)
    (reading,) = wire.readings()
    assert reading.value("MDC_VOL_AWAY_TIDAL_EXP") == 1250
    assert reading.value("MDC_VOL_MINUTE_AWAY") == 15.2
    codes = {obs.code for obs in reading.observations}
    assert "MDC_PRESS_RESP_PLAT" not in codes
    assert "X_DRAEGER_CO2_ET_PCT" not in codes


def test_current_alarms_become_a_device_condition() -> None:
    wire = Wire()
    wire.vent.values.alarms = (Alarm(29, 0x98, "APNEA EVITA"), Alarm(30, 0x10, "PAW HIGH"))
    wire.to_vent(wire.host.open(at(0)), 0)
    assert wire.readings()[-1].conditions == ("device_alarm",)
    assert [a.code for a in wire.host.alarms] == [0x10, 0x98]  # highest priority first
    wire.vent.values.alarms = ()
    wire.run(0.25, 2.5)
    assert wire.readings()[-1].conditions == ()
    assert wire.host.alarms == ()


def test_nop_keeps_the_link_between_slow_polls() -> None:
    options = MedibusOptions(period_s=5.0, keepalive_s=1.5)
    wire = Wire(options)
    wire.to_vent(wire.host.open(at(0)), 0)
    wire.run(0.25, 10.5)
    assert command(0x30) in wire.sent
    assert len(wire.readings()) == 3
    assert wire.vent.linked
    assert wire.host.inits == 1


def test_silence_reinitialises_the_link_and_a_restarted_device_is_linked_again() -> None:
    wire = Wire()
    wire.to_vent(wire.host.open(at(0)), 0)
    wire.run(0.25, 4)
    wire.cut = True
    wire.run(4.25, 9)
    assert wire.host.inits >= 2
    wire.vent = Ventilator(VentilatorValues(rr=20))  # restarted: knows no link
    wire.cut = False
    before = len(wire.readings())
    wire.run(9.25, 20)
    assert wire.host.linked
    assert len(wire.readings()) > before
    assert wire.readings()[-1].value("MDC_VENT_RESP_RATE") == 20


def test_corrupt_reply_is_asked_again_and_gives_no_reading() -> None:
    wire = Wire()
    wire.to_vent(wire.host.open(at(0)), 0)
    count = len(wire.readings())
    wire.vent.spoil_next_frame()
    wire.run(0.25, 2.1)
    assert any("checksum" in error for e in wire.exchanges for error in e.errors)
    assert len(wire.readings()) == count + 1  # the resent request answered
    assert wire.host.inits == 1


def test_corrupt_command_is_answered_nak_and_resent() -> None:
    host = MedibusConversation(TARGET)
    first = host.open(at(0))
    assert first == command(0x51)
    exchange = host.receive(response(0x15), at(0.1))
    assert exchange.send == command(0x51)


def test_device_commands_are_answered() -> None:
    host = MedibusConversation(TARGET)
    host.open(at(0))
    for code in (0x51, 0x30, 0x49, 0x52):
        assert host.receive(command(code), at(0.1)).send == response(code)
    assert response(0x52) == bytes.fromhex("0152 3533 0D")


def test_close_sends_stop() -> None:
    host = MedibusConversation(TARGET)
    host.open(at(0))
    assert host.close(at(1)) == command(0x55)


def test_driver_timing() -> None:
    driver = get_driver("draeger_medibus")
    options = driver.options.model_validate({})
    assert driver.period_for(options) == 2.0
    assert driver.min_timeout_for(options).seconds == 8.0
    assert driver.serial_defaults.baudrate == 19200
    assert driver.serial_defaults.parity == "E"
    assert not driver.serial_defaults.xonxoff  # MEDIBUS DC1/DC3 are the reverse of XON/XOFF


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_any_bytes_never_raise_and_never_make_a_reading_out_of_garbage(chunks: list[bytes]) -> None:
    host = MedibusConversation(TARGET)
    host.open(at(0))
    for index, chunk in enumerate(chunks):
        exchange = host.receive(chunk, at(index * 0.1))
        assert exchange.readings == []


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 200), st.integers(0, 7))
def test_a_flipped_bit_in_a_reply_never_yields_a_wrong_value(index: int, bit: int) -> None:
    host = MedibusConversation(TARGET)
    vent = Ventilator(VentilatorValues())
    data = host.open(at(0))
    readings: list[VitalsReading] = []
    for step in range(20):  # 0.5 s apart: a lost reply is noticed after reply_timeout_s
        now = step * 0.5
        data = data or host.tick(at(now))
        answer = bytearray(vent.receive(data, now))
        if step == 2 and answer:  # the first measured-data reply
            answer[index % len(answer)] ^= 1 << bit
        exchange = host.receive(bytes(answer), at(now))
        readings += [r for r in exchange.readings if isinstance(r, VitalsReading)]
        data = exchange.send
    assert readings  # the request went out again (or the link was set up again)
    for reading in readings:
        assert reading.value("MDC_VENT_RESP_RATE") == 14
        assert reading.value("MDC_VOL_AWAY_TIDAL_EXP") == 450
        assert reading.value("MDC_PRESS_AWAY_INSP_PEAK") == 22

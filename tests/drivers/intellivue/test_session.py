"""The client conversation wired to the monitor side in memory, time advanced by hand."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from drivers.intellivue import codes
from drivers.intellivue.association import Abort, AssociationRequest, ReleaseRequest
from drivers.intellivue.conversation import IntelliVueConversation, Phase
from drivers.intellivue.datatypes import FloatSpecial
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.frames import Frame
from drivers.intellivue.messages import Message, decode_message
from drivers.intellivue.monitor import IntelliVueMonitor, MonitorConfig, MonitorPhase
from drivers.intellivue.monitor_values import MonitorValues, Numeric
from drivers.intellivue.options import IntelliVueOptions
from drivers.readings import VitalsReading
from tests.drivers.intellivue.harness import TARGET, WALL0, Wire, instant, monitor_phase, phase


def sent_messages(wire: Wire) -> list[Message]:
    framer = IntelliVueFramer()
    frames = [item for data in wire.sent_by_client for item in framer.feed(data)]
    return [decode_message(f.user_data) for f in frames if isinstance(f, Frame)]


def observed(reading: VitalsReading) -> dict[str, tuple[float | None, str]]:
    return {o.code: (o.value, o.state) for o in reading.observations}


@pytest.fixture
def wire() -> Wire:
    link = Wire(IntelliVueMonitor())
    link.open()
    return link


def test_association_mds_create_and_polls(wire: Wire) -> None:
    readings = wire.run(5.0)
    assert phase(wire.client) is Phase.POLLING
    assert monitor_phase(wire.monitor) is MonitorPhase.ASSOCIATED
    assert len(readings) == 5
    assert wire.errors == []
    assert wire.frames_ok == 2 + 5  # association result, MDS create, one result per poll
    for reading in readings:
        assert (reading.device_id, reading.bed) == (TARGET.device_id, TARGET.bed)
        assert observed(reading) == {
            "MDC_ECG_HEART_RATE": (72.0, "valid"),
            "MDC_PULS_OXIM_PULS_RATE": (72.0, "valid"),
            "MDC_PULS_OXIM_SAT_O2": (98.0, "valid"),
            "MDC_RESP_RATE": (14.0, "valid"),
        }
    gaps = {round((b.ts - a.ts).total_seconds(), 3) for a, b in itertools.pairwise(readings)}
    assert gaps == {1.0}


def test_values_follow_the_monitor(wire: Wire) -> None:
    wire.run(1.0)
    wire.monitor.values.hr = Numeric(88)
    wire.monitor.values.spo2 = Numeric(93.5, decimals=1)
    reading = wire.run(1.0)[-1]
    assert reading.value("MDC_ECG_HEART_RATE") == 88.0
    assert reading.value("MDC_PULS_OXIM_SAT_O2") == 93.5


def test_nibp_carries_its_own_measurement_time(wire: Wire) -> None:
    wire.run(2.0)
    wire.monitor.values.measure_nibp(135, 85, 102, now=wire.now - 40)
    measured = WALL0 + timedelta(seconds=wire.now - 40)
    first = wire.run(1.0)[-1]
    nibp = [o for o in first.observations if o.code.startswith("MDC_PRESS_BLD_NONINV")]
    assert [(o.value, o.unit, o.state) for o in nibp] == [
        (135.0, "mm[Hg]", "valid"),
        (85.0, "mm[Hg]", "valid"),
        (102.0, "mm[Hg]", "valid"),
    ]
    assert {o.ts for o in nibp} == {measured}
    repeated = wire.run(3.0)
    assert {o.ts for r in repeated for o in r.observations if o.code.startswith("MDC_PRESS")} == {
        nibp[0].ts
    }
    wire.monitor.values.measure_nibp(135, 85, 102, now=wire.now)  # equal values, new cuff
    newer = wire.run(1.0)[-1]
    (ts,) = {o.ts for o in newer.observations if o.code.startswith("MDC_PRESS")}
    assert ts == WALL0 + timedelta(seconds=wire.now - 1.0)


@pytest.mark.parametrize("stamps", [("abs",), ("rel",), ()])
def test_nibp_time_from_any_stamp(stamps: tuple[str, ...]) -> None:
    values = MonitorValues()
    values.measure_nibp(120, 80, 93, now=-20.0)
    wire = Wire(IntelliVueMonitor(values, MonitorConfig(nibp_time_stamps=stamps)))
    wire.open()
    readings = wire.run(3.0)
    times = {o.ts for r in readings for o in r.observations if o.code.startswith("MDC_PRESS")}
    if stamps:
        assert times == {WALL0 - timedelta(seconds=20)}
    else:  # no stamp: the time the client first saw it, kept while it does not change
        assert times == {readings[0].ts}


def test_special_values_and_states(wire: Wire) -> None:
    wire.run(1.0)
    values = wire.monitor.values
    values.hr = Numeric(FloatSpecial.NAN)
    values.pr = Numeric(FloatSpecial.POS_INF)
    values.spo2 = Numeric(95, state=codes.MS_QUESTIONABLE)
    values.rr = Numeric(12, state=codes.MS_INVALID)
    values.nibp_sys, values.nibp_dia = Numeric(FloatSpecial.NRES), Numeric(80)
    values.nibp_mean, values.nibp_time = Numeric(90, state=codes.MS_UNAVAILABLE), wire.now
    reading = wire.run(1.0)[-1]
    assert observed(reading) == {
        "MDC_ECG_HEART_RATE": (None, "unavailable"),
        "MDC_PULS_OXIM_PULS_RATE": (None, "invalid"),
        "MDC_PULS_OXIM_SAT_O2": (95.0, "questionable"),
        "MDC_RESP_RATE": (None, "invalid"),
        "MDC_PRESS_BLD_NONINV_SYS": (None, "invalid"),
        "MDC_PRESS_BLD_NONINV_DIA": (80.0, "valid"),
        "MDC_PRESS_BLD_NONINV_MEAN": (None, "unavailable"),
    }
    assert reading.value("MDC_PULS_OXIM_SAT_O2") == 95.0
    assert wire.errors == []


def test_unit_mismatch_is_reported_and_kpa_converted(wire: Wire) -> None:
    wire.monitor.values.rr = Numeric(12, unit=codes.NOM_DIM_PERCENT)
    wire.monitor.values.nibp_sys = Numeric(16, unit=codes.NOM_DIM_KILO_PASCAL)
    reading = wire.run(1.0)[-1]
    assert observed(reading)["MDC_RESP_RATE"] == (None, "invalid")
    assert reading.value("MDC_PRESS_BLD_NONINV_SYS") == pytest.approx(120.01, abs=0.01)
    assert wire.errors == ["respiration rate: unit % is not /min; value dropped"]


def seconds_since_last_reading(wire: Wire) -> float:
    return wire.now - (wire.readings[-1].ts - WALL0).total_seconds()


def test_silent_monitor_leads_to_reassociation(wire: Wire) -> None:
    wire.run(2.0)
    wire.monitor_mute = True
    assert wire.run(4.9 - seconds_since_last_reading(wire)) == []
    assert phase(wire.client) is Phase.POLLING
    wire.run(0.1)
    assert phase(wire.client) is Phase.ASSOCIATING
    assert wire.client.last_failure == "no poll result within 5 s"
    wire.run(10.0)  # still silent: asked again every 2 s (association_retry_s)
    requests = [m for m in sent_messages(wire) if isinstance(m, AssociationRequest)]
    assert len(requests) == 1 + 1 + 5  # the first, the re-association, one every 2 s
    wire.monitor_mute = False
    readings = wire.run(2.5)  # associated at the next request, polled at once
    assert readings
    readings += wire.run(4.5)
    assert phase(wire.client) is Phase.POLLING
    assert len(readings) >= 3
    assert wire.errors == []


def test_restarted_monitor_leads_to_reassociation(wire: Wire) -> None:
    wire.run(3.0)
    assert wire.monitor.associations == 1
    wire.monitor = IntelliVueMonitor(now=wire.now)  # power cycle: no association, new clock
    assert wire.run(4.9 - seconds_since_last_reading(wire)) == []  # polls go unanswered
    assert phase(wire.client) is Phase.POLLING
    assert wire.monitor.associations == 0
    readings = wire.run(3.0)
    assert wire.monitor.associations == 1
    assert monitor_phase(wire.monitor) is MonitorPhase.ASSOCIATED
    assert len(readings) >= 2
    assert Abort() in sent_messages(wire)


def test_stale_association_is_refused_then_aborted_and_renewed_at_once() -> None:
    monitor = IntelliVueMonitor()
    previous = Wire(monitor)
    previous.open()
    previous.run(2.0)  # a client that vanished without releasing
    wire = Wire(monitor, now=previous.now)
    wire.open()
    readings = wire.run(0.5)  # Refuse -> Abort + request, no backoff
    assert phase(wire.client) is Phase.POLLING
    assert wire.client.last_failure is None
    assert monitor.associations == 2
    assert readings


def test_cut_client_line_monitor_aborts_and_recovers(wire: Wire) -> None:
    wire.run(2.0)
    wire.client_mute = True
    wire.run(12.0)
    assert monitor_phase(wire.monitor) is MonitorPhase.UNASSOCIATED  # supervision timeout
    wire.client_mute = False
    readings = wire.run(8.0)
    assert phase(wire.client) is Phase.POLLING
    assert readings


def test_release_on_close(wire: Wire) -> None:
    wire.run(2.0)
    sent = wire.close()
    assert Frame.from_bytes(sent).user_data == ReleaseRequest().to_bytes()
    assert monitor_phase(wire.monitor) is MonitorPhase.UNASSOCIATED
    assert phase(wire.client) is Phase.CLOSED
    assert wire.errors == []


def test_linked_results_end_to_end() -> None:
    values = MonitorValues()
    values.measure_nibp(118, 76, 90, now=0.0)
    wire = Wire(IntelliVueMonitor(values, MonitorConfig(objects_per_message=2)))
    wire.open()
    readings = wire.run(3.0)
    assert len(readings) == 3
    assert all(len(r.observations) == 7 for r in readings)


def test_long_poll_period_uses_keep_alives() -> None:
    options = IntelliVueOptions(poll_period_s=20, poll_timeout_s=25)
    wire = Wire(IntelliVueMonitor(), client=IntelliVueConversation(TARGET, options))
    wire.open()
    readings = wire.run(60.0)
    assert wire.monitor.associations == 1
    assert monitor_phase(wire.monitor) is MonitorPhase.ASSOCIATED
    assert len(readings) >= 58  # results once a second from the monitor's extended poll
    keep_alives = [
        m for m in sent_messages(wire) if getattr(m, "obj_class", None) == codes.NOM_MOC_VMO_AL_MON
    ]
    assert len(keep_alives) >= 6


def test_line_noise_is_counted_and_harmless(wire: Wire) -> None:
    wire.run(1.0)
    noise = bytes.fromhex("C0 11 01 00 05 AA BB C1 00 7D C0 55")
    exchange = wire.client.receive(noise, instant(wire.now))
    assert exchange.readings == []
    assert len(exchange.errors) == 1
    assert len(wire.run(3.0)) == 3

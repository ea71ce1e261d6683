"""The monitor side on its own: the sheet's monitor examples, association rules, timing."""

from __future__ import annotations

from drivers.intellivue import codes
from drivers.intellivue.association import (
    Abort,
    AssociationRequest,
    AssociationResult,
    PollProfile,
    Refuse,
    ReleaseRequest,
    ReleaseResult,
    UserInfo,
)
from drivers.intellivue.dataexport import EventReportResult, MdsCreateEvent, PollRequest
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.frames import Frame
from drivers.intellivue.messages import Message, decode_message, wire
from drivers.intellivue.monitor import IntelliVueMonitor, MonitorConfig, MonitorPhase
from drivers.intellivue.monitor_values import MonitorValues, Numeric
from drivers.intellivue.poll import PollResult
from tests.drivers.intellivue import vectors
from tests.drivers.intellivue.harness import monitor_phase


def messages(data: bytes) -> list[Message]:
    out = []
    for frame in IntelliVueFramer().feed(data):
        assert isinstance(frame, Frame)
        out.append(decode_message(frame.user_data))
    return out


def associated(monitor: IntelliVueMonitor, now: float = 0.0) -> None:
    """Associate as a client would, answering the MDS Create event it gets."""
    event = messages(monitor.receive(vectors.S1_ASSOCIATION_REQUEST, now))[-1]
    assert isinstance(event, MdsCreateEvent)
    monitor.receive(wire(EventReportResult.answering(event)), now)
    assert monitor_phase(monitor) is MonitorPhase.ASSOCIATED


def test_answers_s1_with_s2_and_s3() -> None:
    monitor = IntelliVueMonitor()
    assert monitor.receive(vectors.S1_ASSOCIATION_REQUEST, 0.0) == (
        vectors.S2_ASSOCIATION_RESULT + vectors.S3_MDS_CREATE_EVENT
    )
    assert monitor_phase(monitor) is MonitorPhase.CONFIGURING
    assert monitor.receive(vectors.S4_MDS_CREATE_RESULT, 0.1) == b""
    assert monitor_phase(monitor) is MonitorPhase.ASSOCIATED
    assert monitor.associations == 1


def test_reproduces_s6() -> None:
    values = MonitorValues(pr=None, spo2=None, rr=None)
    values.measure_nibp(120, 80, 93, now=-20.0)
    monitor = IntelliVueMonitor(values)
    associated(monitor)
    first = monitor.receive(vectors.S5_EXTENDED_POLL_REQUEST, 25.0)
    (ack,) = messages(first)
    assert isinstance(ack, PollResult)
    assert ack.sequence_no == 0
    periodic = [monitor.tick(25.0 + second) for second in range(1, 6)]
    assert periodic[-1] == vectors.S6_EXTENDED_POLL_RESULT


def test_extended_poll_results_stop_with_the_active_period() -> None:
    monitor = IntelliVueMonitor()
    associated(monitor)
    monitor.receive(wire(PollRequest.numerics(5, 1, 3 * 8000)), 1.0)
    sent = [monitor.tick(1.0 + 0.5 * step) for step in range(1, 12)]
    results = [m for data in sent for m in messages(data)]
    assert [r.sequence_no for r in results if isinstance(r, PollResult)] == [1, 2]


def test_poll_without_active_period_is_answered_once() -> None:
    monitor = IntelliVueMonitor()
    associated(monitor)
    (result,) = messages(monitor.receive(wire(PollRequest.numerics(5, 1, None)), 1.0))
    assert isinstance(result, PollResult)
    assert len(result.objects) == 4
    assert monitor.tick(2.5) == b""


def test_keep_alive_does_not_stop_the_extended_poll() -> None:
    monitor = IntelliVueMonitor()
    associated(monitor)
    monitor.receive(wire(PollRequest.numerics(5, 1, 60 * 8000)), 1.0)
    (answer,) = messages(monitor.receive(wire(PollRequest.keep_alive(6, 2)), 1.5))
    assert isinstance(answer, PollResult)
    assert (answer.obj_class, answer.extended, answer.objects) == (
        codes.NOM_MOC_VMO_AL_MON,
        False,
        (),
    )
    (periodic,) = messages(monitor.tick(2.0))
    assert isinstance(periodic, PollResult)
    assert periodic.invoke_id == 5


def test_second_association_is_refused() -> None:
    monitor = IntelliVueMonitor()
    associated(monitor)
    assert messages(monitor.receive(vectors.S1_ASSOCIATION_REQUEST, 1.0)) == [Refuse()]
    assert monitor.associations == 1


def test_polls_before_the_mds_create_result_are_ignored() -> None:
    monitor = IntelliVueMonitor()
    monitor.receive(vectors.S1_ASSOCIATION_REQUEST, 0.0)
    assert monitor.receive(vectors.S5_EXTENDED_POLL_REQUEST, 0.5) == b""
    assert monitor.receive(wire(ReleaseRequest()), 0.6) == b""  # as a real MX800 does
    assert monitor.receive(wire(EventReportResult(99, 0)), 0.7) == b""  # wrong invoke id
    assert monitor_phase(monitor) is MonitorPhase.CONFIGURING


def test_mds_create_is_repeated_then_the_monitor_aborts() -> None:
    monitor = IntelliVueMonitor()
    monitor.receive(vectors.S1_ASSOCIATION_REQUEST, 0.0)
    sent = {round(0.5 * step, 1): monitor.tick(0.5 * step) for step in range(1, 25)}
    repeats = [
        t for t, data in sent.items() if any(isinstance(m, MdsCreateEvent) for m in messages(data))
    ]
    aborts = [t for t, data in sent.items() if Abort() in messages(data)]
    assert repeats == [3.0, 6.0, 9.0]
    assert aborts == [10.0]
    assert monitor_phase(monitor) is MonitorPhase.UNASSOCIATED


def test_silent_client_is_aborted_after_the_supervision_timeout() -> None:
    monitor = IntelliVueMonitor()
    associated(monitor)
    monitor.receive(wire(PollRequest.numerics(5, 1, 600 * 8000)), 1.0)
    assert Abort() not in messages(monitor.tick(10.9))
    assert Abort() in messages(monitor.tick(11.0))
    assert monitor_phase(monitor) is MonitorPhase.UNASSOCIATED
    assert monitor.tick(12.0) == b""


def test_release_and_abort() -> None:
    monitor = IntelliVueMonitor()
    associated(monitor)
    assert messages(monitor.receive(wire(ReleaseRequest()), 1.0)) == [ReleaseResult()]
    assert monitor_phase(monitor) is MonitorPhase.UNASSOCIATED
    associated(monitor, 2.0)
    assert monitor.receive(wire(Abort()), 3.0) == b""
    assert monitor_phase(monitor) is MonitorPhase.UNASSOCIATED
    assert monitor.associations == 2


def test_linked_results() -> None:
    values = MonitorValues()
    values.measure_nibp(110, 70, 83, now=0.0)
    monitor = IntelliVueMonitor(values, MonitorConfig(objects_per_message=2))
    associated(monitor)
    chain = messages(monitor.receive(wire(PollRequest.numerics(5, 1, None)), 1.0))
    assert all(isinstance(m, PollResult) for m in chain)
    links = [m.linked for m in chain if isinstance(m, PollResult)]
    assert links == [
        (codes.RORLS_FIRST, 1),
        (codes.RORLS_NOT_FIRST_NOT_LAST, 2),
        (codes.RORLS_LAST, 3),
        None,
    ]
    sizes = [len(m.objects) for m in chain if isinstance(m, PollResult)]
    assert sizes == [2, 2, 1, 0]


def test_grants_what_both_sides_support() -> None:
    monitor = IntelliVueMonitor()
    asked = AssociationRequest(
        UserInfo(poll_profile=PollProfile(min_poll_period=80_000, ext_options=0x8C000000))
    )
    result = messages(monitor.receive(wire(asked), 0.0))[0]
    assert isinstance(result, AssociationResult)
    profile = result.user_info.poll_profile
    assert (profile.min_poll_period, profile.ext_options) == (80_000, codes.POLL_EXT_PERIOD_NU_1SEC)
    assert result.user_info.system_type == codes.SYST_SERVER
    no_numerics = AssociationRequest(UserInfo(poll_profile=PollProfile(ext_options=0x08000000)))
    other = messages(IntelliVueMonitor().receive(wire(no_numerics), 0.0))[0]
    assert isinstance(other, AssociationResult)
    assert other.user_info.poll_profile.ext_options is None


def test_values_states_and_units_are_sent_as_set() -> None:
    values = MonitorValues(
        hr=Numeric(80, state=codes.MS_QUESTIONABLE),
        pr=None,
        spo2=Numeric(97.5, decimals=1),
        rr=Numeric(12, unit=codes.NOM_DIM_PERCENT),
    )
    monitor = IntelliVueMonitor(values)
    associated(monitor)
    (result,) = messages(monitor.receive(wire(PollRequest.numerics(5, 1, None)), 1.0))
    assert isinstance(result, PollResult)
    assert [obj.handle for obj in result.objects] == [0x14, 0x21, 0x22]
    raw = [obj.attributes[0].value for obj in result.objects]
    assert raw[0] == bytes.fromhex("4182 4000 0AA0 00000050")
    assert raw[1] == bytes.fromhex("4BB8 0000 0220 FF0003CF")
    assert raw[2] == bytes.fromhex("500A 0000 0220 0000000C")


def test_garbage_and_bad_frames_are_ignored() -> None:
    monitor = IntelliVueMonitor()
    damaged = bytearray(vectors.S1_ASSOCIATION_REQUEST)
    damaged[100] ^= 1
    assert (
        monitor.receive(b"\x00\xff\xc1" + bytes(damaged) + wire(PollRequest(1, 1))[:-3], 0.0) == b""
    )
    assert monitor.receive(Frame(b"\x42\x00").to_bytes(), 0.0) == b""
    assert monitor_phase(monitor) is MonitorPhase.UNASSOCIATED


def test_clocks() -> None:
    monitor = IntelliVueMonitor(config=MonitorConfig(rel_at_start=0xFFFFFFFF - 3999), now=10.0)
    assert monitor.rel_time(10.0) == 0xFFFFFFFF - 3999
    assert monitor.rel_time(11.0) == 4000
    assert monitor.wall_time(12.5).isoformat() == "2025-03-14T09:30:02.500000"

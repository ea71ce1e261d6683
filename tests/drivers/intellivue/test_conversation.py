"""The client conversation against scripted monitor messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Exchange
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
from drivers.intellivue.conversation import IntelliVueConversation, Phase
from drivers.intellivue.dataexport import (
    ErrorResult,
    EventReport,
    EventReportResult,
    MdsCreateEvent,
    PollRequest,
)
from drivers.intellivue.framer import IntelliVueFramer
from drivers.intellivue.frames import Frame
from drivers.intellivue.messages import Message, decode_message, wire
from drivers.intellivue.options import IntelliVueOptions
from drivers.intellivue.poll import ContextPoll, PollResult
from tests.drivers.intellivue import vectors
from tests.drivers.intellivue.harness import TARGET, instant, phase


def _s6() -> PollResult:
    result = decode_message(Frame.from_bytes(vectors.S6_EXTENDED_POLL_RESULT).user_data)
    assert isinstance(result, PollResult)
    return result


S6 = _s6()


def messages(data: bytes) -> list[Message]:
    out = []
    for frame in IntelliVueFramer().feed(data):
        assert isinstance(frame, Frame)
        out.append(decode_message(frame.user_data))
    return out


def client(**options: float) -> IntelliVueConversation:
    return IntelliVueConversation(TARGET, IntelliVueOptions.model_validate(options))


def polling(conversation: IntelliVueConversation, t: float = 0.0) -> Exchange:
    conversation.open(instant(t))
    conversation.receive(vectors.S2_ASSOCIATION_RESULT, instant(t))
    exchange = conversation.receive(vectors.S3_MDS_CREATE_EVENT, instant(t))
    assert phase(conversation) is Phase.POLLING
    return exchange


def polling_s6(conversation: IntelliVueConversation, t: float = 0.0) -> None:
    """Polling (default options), S6's invoke id 2 the running extended poll since ``t``."""
    polling(conversation, t - 1.0)
    assert messages(conversation.tick(instant(t))) == [PollRequest.numerics(2, 2, 8000)]


def test_open_sends_the_s1_request() -> None:
    conversation = client()
    assert conversation.open(instant(0)) == vectors.S1_ASSOCIATION_REQUEST
    assert phase(conversation) is Phase.ASSOCIATING
    assert conversation.next_tick_at() == pytest.approx(2.0)  # the request is repeated


def test_association_then_mds_create_then_first_poll() -> None:
    conversation = client()
    conversation.open(instant(0))
    accepted = conversation.receive(vectors.S2_ASSOCIATION_RESULT, instant(0.1))
    assert (accepted.send, accepted.frames_ok, phase(conversation)) == (b"", 1, Phase.CONFIGURING)
    created = conversation.receive(vectors.S3_MDS_CREATE_EVENT, instant(0.2))
    assert created.send.startswith(vectors.S4_MDS_CREATE_RESULT)
    assert messages(created.send[len(vectors.S4_MDS_CREATE_RESULT) :]) == [
        PollRequest.numerics(1, 1, 8000)
    ]
    assert phase(conversation) is Phase.POLLING


def test_polls_every_period_and_decodes_results() -> None:
    conversation = client(poll_period_s=2, poll_timeout_s=10)
    polling(conversation)
    assert conversation.tick(instant(1.9)) == b""
    assert messages(conversation.tick(instant(2.0))) == [PollRequest.numerics(2, 2, 16_000)]
    exchange = conversation.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(2.1))
    assert exchange.frames_ok == 1
    assert exchange.errors == ["4 lost poll result(s) before sequence 5 of invoke 2"]
    assert conversation.counts.lost_results == 4  # S6 is sequence 5, the first one seen
    (reading,) = exchange.readings
    assert reading.value("MDC_ECG_HEART_RATE") == 72.0


def test_next_tick_at_names_the_next_poll_then_the_keep_alive_then_the_timeout() -> None:
    conversation = client(poll_period_s=2, poll_timeout_s=10)
    polling(conversation)  # polled at 0
    assert conversation.next_tick_at() == pytest.approx(2.0)
    conversation.tick(instant(2.0))
    assert conversation.next_tick_at() == pytest.approx(4.0)
    slow = client(poll_period_s=30, poll_timeout_s=40)
    polling(slow)  # supervision 10 s: a keep-alive 5 s after the last write
    slow.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(1.0))
    assert slow.next_tick_at() == pytest.approx(5.0)
    slow.tick(instant(5.0))
    assert slow.next_tick_at() == pytest.approx(10.0)  # the next keep-alive
    quiet = client(poll_period_s=30, poll_timeout_s=40)
    polling(quiet)
    quiet.close(instant(1.0))
    assert quiet.next_tick_at() is None


def test_active_period_option() -> None:
    conversation = client(poll_period_s=1, poll_active_period_s=60)
    sent = polling(conversation).send
    assert messages(sent)[-1] == PollRequest.numerics(1, 1, 480_000)


def test_mds_create_answered_every_time_with_invoke_echoed() -> None:
    conversation = client()
    polling(conversation)
    again = MdsCreateEvent(7, 99, ())
    assert messages(conversation.receive(wire(again), instant(0.5)).send) == [
        EventReportResult(7, 99)
    ]
    unconfirmed = MdsCreateEvent(8, 5, (), command_type=codes.CMD_EVENT_REPORT)
    answer = messages(conversation.receive(wire(unconfirmed), instant(0.6)).send)
    assert answer == [EventReportResult(8, 5, command_type=codes.CMD_EVENT_REPORT)]


def test_other_event_reports() -> None:
    conversation = client()
    polling(conversation)
    confirmed = EventReport(3, 10, 0x0D19, b"")
    assert messages(conversation.receive(wire(confirmed), instant(0.5)).send) == [
        EventReportResult(3, 10, 0x0D19)
    ]
    unconfirmed = EventReport(4, 10, 0x0D19, b"", codes.CMD_EVENT_REPORT)
    assert conversation.receive(wire(unconfirmed), instant(0.5)).send == b""


def test_no_poll_before_the_association_result() -> None:
    """An MDS Create without the Association Result (lost on the line) is answered, but no
    poll goes out: the request is repeated (after an Abort) when its retry time is due."""
    conversation = client()
    conversation.open(instant(0))
    sent = conversation.receive(vectors.S3_MDS_CREATE_EVENT, instant(0.1)).send
    assert messages(sent) == [EventReportResult(1, 0x0012D687)]
    assert phase(conversation) is Phase.ASSOCIATING
    for t in (0.5, 1.0, 1.5, 1.9):
        assert conversation.tick(instant(t)) == b""
    assert messages(conversation.tick(instant(2.0))) == [Abort(), AssociationRequest()]


def test_no_poll_before_the_mds_create() -> None:
    conversation = client()
    conversation.open(instant(0))
    assert conversation.receive(vectors.S2_ASSOCIATION_RESULT, instant(0.1)).send == b""
    for t in (0.5, 1.0, 2.0, 4.0, 5.0):
        assert conversation.tick(instant(t)) == b""
    assert messages(conversation.tick(instant(5.1))) == [Abort(), AssociationRequest()]


def test_refuse_of_the_first_request_aborts_the_old_association_and_asks_at_once() -> None:
    conversation = client()
    conversation.open(instant(0))  # the monitor still holds the association of a closed link
    exchange = conversation.receive(wire(Refuse()), instant(0.1))
    assert messages(exchange.send) == [Abort(), AssociationRequest()]
    assert phase(conversation) is Phase.ASSOCIATING
    conversation.receive(vectors.S2_ASSOCIATION_RESULT, instant(0.2))
    assert phase(conversation) is Phase.CONFIGURING


def test_refuse_backs_off_doubling_then_aborts_and_asks_again() -> None:
    conversation = client(retry_backoff_s=2, retry_backoff_max_s=5)
    conversation.open(instant(-0.2))
    first = conversation.receive(wire(Refuse()), instant(-0.1)).send  # Abort + request at once
    assert messages(first) == [Abort(), AssociationRequest()]
    conversation.receive(wire(Refuse()), instant(0.1))
    assert phase(conversation) is Phase.BACKOFF
    assert conversation.last_failure == "association refused by the monitor"
    assert conversation.tick(instant(2.0)) == b""
    assert messages(conversation.tick(instant(2.1))) == [Abort(), AssociationRequest()]
    conversation.receive(wire(Refuse()), instant(2.2))
    assert conversation.tick(instant(6.1)) == b""
    assert messages(conversation.tick(instant(6.2))) == [Abort(), AssociationRequest()]
    conversation.receive(wire(Refuse()), instant(6.3))
    assert conversation.tick(instant(11.2)) == b""  # capped at 5 s
    assert messages(conversation.tick(instant(11.3))) == [Abort(), AssociationRequest()]


def test_association_request_repeated_until_answered_then_mds_create_timeout() -> None:
    conversation = client(association_timeout_s=3)  # the request is repeated every 2 s
    conversation.open(instant(0))
    assert conversation.tick(instant(1.9)) == b""
    assert messages(conversation.tick(instant(2.0))) == [Abort(), AssociationRequest()]
    assert conversation.last_failure == "no Association Result within 2 s"
    assert conversation.tick(instant(3.9)) == b""
    assert messages(conversation.tick(instant(4.0))) == [Abort(), AssociationRequest()]
    conversation.receive(vectors.S2_ASSOCIATION_RESULT, instant(4.0))
    assert conversation.tick(instant(6.9)) == b""
    assert messages(conversation.tick(instant(7.0))) == [Abort(), AssociationRequest()]
    assert conversation.last_failure == "no MDS Create within 3 s"


def test_poll_timeout_reassociates() -> None:
    conversation = client()
    polling_s6(conversation)
    conversation.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(1.0))
    assert AssociationRequest() not in messages(conversation.tick(instant(5.9)))
    assert messages(conversation.tick(instant(6.0))) == [Abort(), AssociationRequest()]
    assert conversation.last_failure == "no poll result within 5 s"
    assert phase(conversation) is Phase.ASSOCIATING


def test_options_not_granted() -> None:
    conversation = client()
    conversation.open(instant(0))
    refused = AssociationResult(UserInfo(codes.SYST_SERVER, PollProfile(ext_options=None)))
    exchange = conversation.receive(wire(refused), instant(0.1))
    assert messages(exchange.send) == [Abort()]
    assert phase(conversation) is Phase.BACKOFF
    assert (
        conversation.last_failure
        == "monitor did not grant 1 s numerics polling (options 0x00000000)"
    )


def test_monitor_abort_and_release() -> None:
    conversation = client()
    polling(conversation)
    assert conversation.receive(wire(Abort()), instant(1)).send == b""
    assert phase(conversation) is Phase.BACKOFF
    conversation.tick(instant(3.0))
    conversation.receive(vectors.S2_ASSOCIATION_RESULT + vectors.S3_MDS_CREATE_EVENT, instant(3.1))
    assert phase(conversation) is Phase.POLLING
    assert messages(conversation.receive(wire(ReleaseRequest()), instant(4)).send) == [
        ReleaseResult()
    ]
    assert conversation.last_failure == "association released by the monitor"
    assert phase(conversation) is Phase.BACKOFF
    assert conversation.receive(wire(Abort()), instant(4.1)).send == b""  # nothing to abort


def test_keep_alive_when_nothing_was_sent_for_half_the_supervision_timeout() -> None:
    conversation = client(poll_period_s=30, poll_timeout_s=40)
    polling(conversation)  # S2 grants min_poll_period 0.5 s: supervision 10 s
    for t in (1.0, 2.0, 3.0, 4.0):
        assert conversation.tick(instant(t)) == b""
        conversation.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(t))
    assert messages(conversation.tick(instant(5.0))) == [PollRequest.keep_alive(2, 2)]
    assert conversation.tick(instant(9.9)) == b""
    assert [type(m) for m in messages(conversation.tick(instant(10.0)))] == [PollRequest]


def test_linked_results_are_merged_into_one_reading() -> None:
    conversation = client()
    polling(conversation)
    hr, nibp = S6.objects
    first = PollResult(1, 1, S6.rel_time, (ContextPoll(0, (hr,)),), linked=(codes.RORLS_FIRST, 1))
    last = PollResult(1, 1, S6.rel_time, (ContextPoll(0, (nibp,)),), linked=(codes.RORLS_LAST, 2))
    end = PollResult(1, 1, S6.rel_time, ())
    assert conversation.receive(wire(first) + wire(last), instant(1)).readings == []
    exchange = conversation.receive(wire(end), instant(1.1))
    (reading,) = exchange.readings
    assert len(reading.observations) == 4
    assert exchange.errors == []


def test_overlong_chain_is_dropped() -> None:
    conversation = client()
    polling(conversation)
    part = (ContextPoll(0, (S6.objects[0],) * 150),)
    states = [codes.RORLS_FIRST, *[codes.RORLS_NOT_FIRST_NOT_LAST] * 5, codes.RORLS_LAST]
    chain = [PollResult(1, 1, 0, part, linked=(s, n)) for n, s in enumerate(states, 1)]
    assert conversation.receive(b"".join(wire(m) for m in chain), instant(1)).errors == []
    exchange = conversation.receive(wire(PollResult(1, 1, 0, ())), instant(1))
    assert exchange.readings == []
    assert exchange.errors == ["incomplete linked poll result dropped: over 1024 objects"]


def test_non_numeric_results_and_results_while_not_polling_are_ignored() -> None:
    conversation = client()
    conversation.open(instant(0))
    assert conversation.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(0.1)).readings == []
    polling(conversation, 1.0)
    keep_alive = PollResult(9, 9, 0, (), extended=False, obj_class=codes.NOM_MOC_VMO_AL_MON)
    exchange = conversation.receive(wire(keep_alive), instant(1.5))
    assert (exchange.readings, exchange.frames_ok) == ([], 1)


def test_errors_are_counted_one_per_bad_frame() -> None:
    conversation = client()
    polling_s6(conversation)
    damaged = bytearray(vectors.S6_EXTENDED_POLL_RESULT)
    damaged[70] ^= 0x10
    data = (
        bytes(damaged)
        + Frame(b"\x42").to_bytes()
        + wire(ErrorResult(1, 9))
        + vectors.S6_EXTENDED_POLL_RESULT
    )
    exchange = conversation.receive(data, instant(1))
    assert exchange.errors == [
        "FCS mismatch",
        "unknown message type 0x42",
        "monitor error NO_SUCH_ACTION (9) for invoke 1",
        "4 lost poll result(s) before sequence 5 of invoke 2",
    ]
    assert exchange.frames_ok == 2
    assert len(exchange.readings) == 1


def test_close() -> None:
    conversation = client()
    assert conversation.close(instant(0)) == b""
    conversation = client()
    conversation.open(instant(0))
    assert messages(conversation.close(instant(1))) == [Abort()]
    conversation = client()
    polling(conversation)
    assert messages(conversation.close(instant(1))) == [ReleaseRequest()]
    assert phase(conversation) is Phase.CLOSED
    after = conversation.receive(wire(ReleaseResult()) + vectors.S3_MDS_CREATE_EVENT, instant(1.1))
    assert (after.send, after.frames_ok) == (b"", 2)
    assert conversation.tick(instant(100)) == b""


def test_reopen_after_close() -> None:
    conversation = client()
    polling(conversation)
    conversation.close(instant(1))
    assert conversation.open(instant(2)) == vectors.S1_ASSOCIATION_REQUEST


@pytest.mark.parametrize("phase_setup", ["idle", "associating", "polling", "backoff"])
@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.binary(max_size=200), max_size=6))
def test_receive_never_raises(phase_setup: str, chunks: list[bytes]) -> None:
    conversation = client()
    if phase_setup != "idle":
        conversation.open(instant(0))
    if phase_setup == "polling":
        polling(conversation)
    if phase_setup == "backoff":
        conversation.receive(wire(Refuse()), instant(0))
    for chunk in chunks:
        conversation.receive(b"\xc0" + chunk, instant(1))
        conversation.tick(instant(1))


def test_no_single_bit_flip_yields_a_reading() -> None:
    """Every one of the 1184 single-bit errors of S6 on the wire, exhaustively."""
    conversation = client()
    polling_s6(conversation)
    for bit in range(len(vectors.S6_EXTENDED_POLL_RESULT) * 8):
        damaged = bytearray(vectors.S6_EXTENDED_POLL_RESULT)
        damaged[bit // 8] ^= 1 << (bit % 8)
        exchange = conversation.receive(bytes(damaged) + b"\xc1", instant(1))
        assert exchange.readings == [], bit
        assert exchange.frames_ok == 0, bit
    assert len(conversation.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(1)).readings) == 1


@settings(max_examples=200, deadline=None)
@given(start=st.integers(1, len(vectors.S6_EXTENDED_POLL_RESULT) - 3), burst=st.integers(1, 0xFFFF))
def test_a_burst_error_never_yields_a_reading(start: int, burst: int) -> None:
    """FCS-16 detects every burst of up to 16 bits."""
    conversation = client()
    polling(conversation)
    damaged = bytearray(vectors.S6_EXTENDED_POLL_RESULT)
    damaged[start] ^= burst >> 8
    damaged[start + 1] ^= burst & 0xFF
    assert conversation.receive(bytes(damaged), instant(1)).readings == []

"""Which poll results the client takes: own invoke ids, sequence numbers, whole linked series,
remote errors and rejects counted (drivers/intellivue/results.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drivers.intellivue import codes
from drivers.intellivue.conversation import IntelliVueConversation
from drivers.intellivue.dataexport import ErrorResult, PollRequest, RejectResult
from drivers.intellivue.frames import Frame
from drivers.intellivue.messages import decode_message, wire
from drivers.intellivue.monitor import IntelliVueMonitor, MonitorConfig
from drivers.intellivue.monitor_values import MonitorValues
from drivers.intellivue.options import IntelliVueOptions
from drivers.intellivue.poll import ContextPoll, ObservationPoll, PollResult
from drivers.intellivue.results import ResultCounts
from tests.drivers.intellivue import vectors
from tests.drivers.intellivue.harness import TARGET, Wire, instant
from tests.drivers.intellivue.test_conversation import S6, client, messages, polling, polling_s6

# ROER invoke 2, NO_SUCH_ACTION (9), no parameter; RORJ invoke 2, problem 2 (user data)
ROER_BYTES = bytes.fromhex("E1000002 0003 0006 0002 0009 0000")
RORJ_BYTES = bytes.fromhex("E1000002 0004 0006 0002 0002 0000")
HR, NIBP = S6.objects


def result(
    sequence_no: int, *objects: ObservationPoll, linked: tuple[int, int] | None = None
) -> bytes:
    """S6 (invoke 2) as sequence ``sequence_no``, with ``objects`` (default: S6's own)."""
    contexts = S6.contexts if not objects else (ContextPoll(0, objects),)
    return wire(replace(S6, sequence_no=sequence_no, contexts=contexts, linked=linked))


def test_golden_linked_header_is_parsed() -> None:
    """S6 re-sent as ROLRS FIRST/1: ro_type 5, length +2, state and count before invoke."""
    user_data = Frame.from_bytes(vectors.S6_EXTENDED_POLL_RESULT).user_data
    linked = user_data[:4] + bytes.fromhex("0005 0086 01 01") + user_data[8:]
    message = decode_message(linked)
    assert isinstance(message, PollResult)
    assert (message.linked, message.invoke_id, message.sequence_no) == ((1, 1), 2, 5)
    assert replace(S6, linked=(1, 1)).to_bytes() == linked


def test_sequence_gaps_count_lost_results_and_repeats_are_dropped() -> None:
    conversation = client()
    polling_s6(conversation)
    lost = "2 lost poll result(s) before sequence 5 of invoke 2"
    repeat = "poll result out of sequence (sequence {}, expected 6)"
    steps = [(0, [], 1), (1, [], 1), (2, [], 1), (5, [lost], 1), (5, [repeat.format(5)], 0)]
    steps += [(4, [repeat.format(4)], 0), (6, [], 1)]
    for n, (sequence_no, errors, readings) in enumerate(steps):
        exchange = conversation.receive(result(sequence_no), instant(0.1 * n))
        assert exchange.errors == errors, sequence_no
        assert len(exchange.readings) == readings, sequence_no
    assert conversation.counts == ResultCounts(lost_results=2, out_of_sequence=2)


def test_sequence_wraps_and_the_first_result_may_be_one() -> None:
    conversation = client(poll_period_s=2, poll_timeout_s=10)
    polling(conversation)
    assert messages(conversation.tick(instant(2.0))) == [PollRequest.numerics(2, 2, 16_000)]
    for sequence_no in (1, 2):  # no acknowledgement (sequence 0): nothing lost
        assert conversation.receive(result(sequence_no), instant(2.1)).errors == []
    conversation = client()
    polling_s6(conversation)
    for sequence_no in (0, 30_000, 60_000, 65_535, 0, 1):  # gaps under half the u16 range
        exchange = conversation.receive(result(sequence_no), instant(0.1))
        assert len(exchange.readings) == 1
    assert conversation.counts == ResultCounts(lost_results=29_999 * 2 + 5534)


def test_results_for_invoke_ids_not_outstanding_are_ignored_and_counted() -> None:
    conversation = client()
    polling(conversation)  # invoke 1 running
    assert conversation.receive(vectors.S6_EXTENDED_POLL_RESULT, instant(0.1)).readings == []
    first = replace(S6, invoke_id=1, sequence_no=0)
    assert len(conversation.receive(wire(first), instant(0.2)).readings) == 1
    conversation.tick(instant(1.0))  # invoke 2 replaces invoke 1
    late = wire(replace(first, sequence_no=1))
    assert len(conversation.receive(late, instant(1.01)).readings) == 1  # crossed the request
    assert len(conversation.receive(result(0), instant(1.1)).readings) == 1
    exchange = conversation.receive(wire(replace(first, sequence_no=2)), instant(1.2))
    assert (exchange.readings, exchange.errors) == (
        [],
        ["poll result for invoke 1, not one outstanding"],
    )
    assert conversation.counts == ResultCounts(foreign_results=2)


def test_a_keep_alive_is_answered_once() -> None:
    conversation = client(poll_period_s=30, poll_timeout_s=40)
    polling(conversation)
    assert messages(conversation.tick(instant(5.0))) == [PollRequest.keep_alive(2, 2)]
    answer = wire(PollResult(2, 2, 0, (), extended=False, obj_class=codes.NOM_MOC_VMO_AL_MON))
    assert conversation.receive(answer, instant(5.1)).errors == []
    assert conversation.receive(answer, instant(5.2)).errors == [
        "poll result for invoke 2, not one outstanding"
    ]


def test_results_of_an_earlier_association_are_not_taken() -> None:
    conversation = client()
    polling_s6(conversation)
    conversation.tick(instant(10.0))  # poll timeout: re-association, invoke 3 after it
    conversation.receive(vectors.S2_ASSOCIATION_RESULT + vectors.S3_MDS_CREATE_EVENT, instant(10))
    exchange = conversation.receive(result(0), instant(10.1))
    assert (exchange.readings, conversation.counts.foreign_results) == ([], 1)


def test_a_complete_linked_series_is_one_reading() -> None:
    conversation = client()
    polling_s6(conversation)
    parts = [
        result(0, HR, linked=(codes.RORLS_FIRST, 1)),
        result(0, linked=(codes.RORLS_NOT_FIRST_NOT_LAST, 2)),
        result(0, NIBP, linked=(codes.RORLS_LAST, 3)),
    ]
    assert conversation.receive(b"".join(parts), instant(0.1)).readings == []
    exchange = conversation.receive(wire(replace(S6, sequence_no=0, contexts=())), instant(0.2))
    (reading,) = exchange.readings
    assert (len(reading.observations), exchange.errors) == (4, [])


FIRST, MIDDLE, LAST = codes.RORLS_FIRST, codes.RORLS_NOT_FIRST_NOT_LAST, codes.RORLS_LAST


@pytest.mark.parametrize(
    ("links", "reason"),
    [
        ([(FIRST, 1), (LAST, 3)], "part 3 (state 3) where 2 was due"),
        ([(FIRST, 1), (MIDDLE, 2)], "no last part"),
        ([(MIDDLE, 2), (LAST, 3)], "part 2 (state 2) where 1 was due"),
        ([(FIRST, 1), (MIDDLE, 1), (LAST, 2)], "part 1 (state 2) where 2 was due"),
        ([(FIRST, 1), (LAST, 2), (LAST, 3)], "part 3 after the last"),
    ],
)
def test_an_incomplete_linked_series_is_dropped_and_counted(
    links: list[tuple[int, int]], reason: str
) -> None:
    conversation = client()
    polling_s6(conversation)
    parts = b"".join(result(0, HR, linked=link) for link in links)
    assert conversation.receive(parts, instant(0.1)).errors == []
    exchange = conversation.receive(result(0), instant(0.2))  # the RORS ends the series
    assert exchange.readings == []
    assert exchange.errors == [f"incomplete linked poll result dropped: {reason}"]
    assert conversation.counts == ResultCounts(incomplete_series=1)
    assert len(conversation.receive(result(1), instant(1.1)).readings) == 1  # the next is taken


def test_a_new_result_before_the_last_part_drops_the_series() -> None:
    conversation = client()
    polling_s6(conversation)
    conversation.receive(result(0, HR, linked=(FIRST, 1)), instant(0.1))
    exchange = conversation.receive(result(1), instant(1.0))
    assert exchange.errors == ["incomplete linked poll result dropped: a new result before its end"]
    assert len(exchange.readings) == 1  # the new, whole result is taken
    conversation.receive(result(2, HR, linked=(FIRST, 1)), instant(2.0))
    conversation.receive(result(3, NIBP, linked=(FIRST, 1)), instant(3.0))
    assert conversation.counts.incomplete_series == 2


@pytest.mark.parametrize(
    ("data", "error", "counts"),
    [
        (
            ROER_BYTES,
            "monitor error NO_SUCH_ACTION (9) for invoke 2",
            ResultCounts(remote_errors=1),
        ),
        (RORJ_BYTES, "monitor reject (problem 2) for invoke 2", ResultCounts(rejects=1)),
    ],
)
def test_remote_errors_and_rejects_are_counted(
    data: bytes, error: str, counts: ResultCounts
) -> None:
    conversation = client()
    polling_s6(conversation)
    exchange = conversation.receive(Frame(data).to_bytes(), instant(0.1))
    assert (exchange.errors, exchange.frames_ok, exchange.send) == ([error], 1, b"")
    assert conversation.counts == counts
    after = conversation.receive(result(0), instant(0.2))  # the failed poll is over
    assert after.errors == ["poll result for invoke 2, not one outstanding"]
    foreign = conversation.receive(wire(ErrorResult(99, 10)), instant(0.3)).errors
    assert foreign == ["monitor error PROCESSING_FAILURE (10) for foreign invoke 99"]


def test_golden_error_and_reject_bytes_match_the_encoders() -> None:
    assert ErrorResult(2, 9).to_bytes() == ROER_BYTES
    assert RejectResult(2, 2).to_bytes() == RORJ_BYTES
    assert decode_message(RORJ_BYTES) == RejectResult(2, 2)


def test_results_lost_on_the_line_are_counted_end_to_end() -> None:
    """The simulator sends one result a second; 2 s of them are lost on the line."""
    options = IntelliVueOptions(poll_period_s=10, poll_active_period_s=60, poll_timeout_s=15)
    wire_ = Wire(IntelliVueMonitor(MonitorValues()), IntelliVueConversation(TARGET, options))
    wire_.open()
    assert len(wire_.run(3.5)) == 4  # the acknowledgement and 3 periodic results
    wire_.monitor_mute = True
    wire_.run(2.0)
    wire_.monitor_mute = False
    assert len(wire_.run(2.0)) == 2
    assert wire_.client.counts == ResultCounts(lost_results=2)
    assert wire_.errors == ["2 lost poll result(s) before sequence 6 of invoke 1"]


def test_linked_series_from_the_simulator_are_taken_whole() -> None:
    values = MonitorValues()
    values.measure_nibp(110, 70, 83, now=0.0)
    monitor = IntelliVueMonitor(values, MonitorConfig(objects_per_message=1))
    wire_ = Wire(monitor)
    wire_.open()
    readings = wire_.run(3.0)
    assert len(readings) >= 3
    assert all(len(r.observations) == len(readings[0].observations) for r in readings)
    assert (wire_.errors, wire_.client.counts) == ([], ResultCounts())

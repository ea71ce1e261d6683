"""Which IntelliVue poll results the client takes (fact sheet §6.2, §8.3, §8.4, §11.1).

* **Own invoke ids.** A result counts only if it answers a request this client sent and that
  is still outstanding: the running extended poll, the one it replaced (until the new one
  answers; its results may cross the new request on the line) and single polls (keep-alives)
  not yet answered. Anything else is ignored and counted (``foreign_results``).
* **Sequence numbers.** The results of one extended poll carry ``sequence_no`` 0 (the
  acknowledgement; some monitors send none and start at 1), then +1 per result. A skip forward
  counts the results in between as lost (``lost_results``; the first result of a request may
  be 0 or 1 without loss). A number at or behind the last one (a repeat, u16 half-range rule)
  is dropped and counted (``out_of_sequence``).
* **Linked series.** A result split in parts (ROLRS state FIRST/NOT_FIRST_NOT_LAST/LAST with
  count 1, 2, 3 ...) ended by one RORS of the same invoke id is taken only whole: the parts
  contiguous from 1, the LAST seen, then the RORS. A series with a gap, a part after the LAST,
  a RORS before the LAST, or a new result (other ``sequence_no``) before its end is dropped
  and counted (``incomplete_series``).

Every count also adds one short reason to the caller's problem list (one per event; a gap of
several lost results is one reason naming how many), which the session counts as
``frames_bad`` and logs at debug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.intellivue import codes
from drivers.intellivue.dataexport import PollRequest
from drivers.intellivue.poll import ObservationPoll, PollResult

__all__ = ["ResultCounts", "ResultTracker"]

_MAX_SERIES_OBJECTS = 1024  # objects kept from one linked series
_MAX_SINGLE_POLLS = 8  # unanswered single polls remembered
_HALF_RANGE = 0x8000  # sequence numbers further ahead than this are behind (u16 wrap)


@dataclass(slots=True)
class ResultCounts:
    """Protocol faults seen on one link since the conversation was made (event counts)."""

    lost_results: int = 0
    out_of_sequence: int = 0
    incomplete_series: int = 0
    foreign_results: int = 0
    remote_errors: int = 0
    rejects: int = 0


@dataclass(slots=True)
class _Outstanding:
    extended: bool
    expected: int | None = None  # the next sequence_no; None before the first result


@dataclass(slots=True)
class _Series:
    sequence_no: int
    discard: bool = False  # already counted (out of sequence): drop silently
    next_count: int = 1
    ended: bool = False  # the LAST part was seen
    broken: str | None = None
    objects: list[ObservationPoll] = field(default_factory=list)

    def add(self, state: int, count: int, objects: tuple[ObservationPoll, ...]) -> None:
        if self.discard or self.broken:
            return
        if self.ended:
            self.broken = f"part {count} after the last"
        elif count != self.next_count or (state == codes.RORLS_FIRST) != (count == 1):
            self.broken = f"part {count} (state {state}) where {self.next_count} was due"
        elif len(self.objects) + len(objects) > _MAX_SERIES_OBJECTS:
            self.broken = f"over {_MAX_SERIES_OBJECTS} objects"
        if self.broken:
            self.objects.clear()
            return
        self.objects.extend(objects)
        self.next_count = count + 1
        self.ended = state == codes.RORLS_LAST


class ResultTracker:
    """The client's outstanding poll requests and the results it takes (see module doc)."""

    def __init__(self) -> None:
        self.counts = ResultCounts()
        self._outstanding: dict[int, _Outstanding] = {}
        self._series: dict[int, _Series] = {}
        self._current: int | None = None  # the running extended poll
        self._previous: int | None = None  # the one it replaced

    def reset(self) -> None:
        """A new association: nothing is outstanding."""
        self._outstanding.clear()
        self._series.clear()
        self._current = self._previous = None

    def sent(self, request: PollRequest) -> None:
        """``request`` went to the monitor."""
        if request.extended:
            self._forget(self._previous)
            self._previous, self._current = self._current, request.invoke_id
        else:
            singles = [k for k, v in self._outstanding.items() if not v.extended]
            for invoke_id in singles[: max(len(singles) - _MAX_SINGLE_POLLS + 1, 0)]:
                self._forget(invoke_id)
        self._outstanding[request.invoke_id] = _Outstanding(request.extended)

    def accept(self, result: PollResult, problems: list[str]) -> tuple[ObservationPoll, ...] | None:
        """The objects of ``result`` (with its linked parts) when it completes a result to
        decode; ``None`` while a series is open or when it is dropped (counted)."""
        invoke_id = result.invoke_id
        outstanding = self._outstanding.get(invoke_id)
        if outstanding is None:
            self.counts.foreign_results += 1
            problems.append(f"poll result for invoke {invoke_id}, not one outstanding")
            return None
        if invoke_id == self._current:
            self._forget(self._previous)
            self._previous = None
        if result.linked is not None:
            self._link(outstanding, result, problems)
            return None
        series = self._series.pop(invoke_id, None)
        if not outstanding.extended:
            del self._outstanding[invoke_id]  # a single poll is answered once
        if series is not None and series.sequence_no != result.sequence_no:
            self._drop(series, "a new result before its end", problems)
            series = None
        if series is None:
            return result.objects if self._in_sequence(outstanding, result, problems) else None
        if series.broken or not series.ended:
            self._drop(series, series.broken or "no last part", problems)
            return None
        return (*series.objects, *result.objects)

    def ended(self, invoke_id: int) -> bool:
        """A remote error or reject ended ``invoke_id``; whether it was outstanding."""
        known = invoke_id in self._outstanding
        self._forget(invoke_id)
        return known

    def _link(self, outstanding: _Outstanding, result: PollResult, problems: list[str]) -> None:
        assert result.linked is not None
        series = self._series.get(result.invoke_id)
        if series is not None and series.sequence_no != result.sequence_no:
            self._drop(series, "a new result before its end", problems)
            series = None
        if series is None:
            discard = not self._in_sequence(outstanding, result, problems)
            series = self._series[result.invoke_id] = _Series(result.sequence_no, discard)
        series.add(*result.linked, result.objects)

    def _in_sequence(
        self, outstanding: _Outstanding, result: PollResult, problems: list[str]
    ) -> bool:
        if not outstanding.extended:
            return True
        sequence_no, expected = result.sequence_no, outstanding.expected
        # the first answer of a request is 0 (acknowledgement) or 1
        first = expected is None
        missing = max(sequence_no - 1, 0) if first else (sequence_no - (expected or 0)) % 0x10000
        if missing >= _HALF_RANGE:
            self.counts.out_of_sequence += 1
            problems.append(
                f"poll result out of sequence (sequence {sequence_no}, expected {expected})"
            )
            return False
        outstanding.expected = (sequence_no + 1) % 0x10000
        if missing:
            self.counts.lost_results += missing
            problems.append(
                f"{missing} lost poll result(s) before sequence {sequence_no}"
                f" of invoke {result.invoke_id}"
            )
        return True

    def _drop(self, series: _Series, reason: str, problems: list[str]) -> None:
        if not series.discard:
            self.counts.incomplete_series += 1
            problems.append(f"incomplete linked poll result dropped: {reason}")

    def _forget(self, invoke_id: int | None) -> None:
        if invoke_id is not None:
            self._outstanding.pop(invoke_id, None)
            self._series.pop(invoke_id, None)

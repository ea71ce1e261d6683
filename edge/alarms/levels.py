"""The per-level timing of a rule: idle -> pending (delay) -> on -> clearing (hold) -> idle.

A level turns *on* when its raise condition has held on every evaluation for its delay (a
delay of 0: at once), and *off* when its clear condition has held for its hold. Inside the
hysteresis band (neither raise nor clear) a pending level falls back to idle (the condition
must hold without a break) and an active level stays on with its clear timer reset, so a
value hovering at a limit neither raises (unless it stays over it for the whole delay) nor
flaps. Times are the measurement times of the readings (or the clock's, for ticks); a gap
longer than ``max_gap_s`` between evaluations restarts both timers, so a delay is never met
across missing data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from edge.alarms.judges import Facts, Hit, Verdict
from edge.alarms.limits import AlarmLimits, Priority
from edge.alarms.models import PRIORITY_RANK
from edge.alarms.rules import Rule

__all__ = ["Condition", "LevelState", "evaluate"]


@dataclass(slots=True)
class LevelState:
    """The timing state of one level of one rule on one device."""

    on: bool = False
    pending_since: datetime | None = None
    clear_since: datetime | None = None
    last_at: datetime | None = None
    hit: Hit | None = None

    def step(
        self, verdict: Verdict | None, at: datetime, delay_s: float, hold_s: float, max_gap_s: float
    ) -> None:
        """Advance to ``at`` with ``verdict`` (``None``: nothing known, nothing changes)."""
        if verdict is None:
            return
        if self.last_at is not None and (at - self.last_at).total_seconds() > max_gap_s:
            self.pending_since = self.clear_since = None
        self.last_at = at
        if verdict.hit is not None:
            self.clear_since = None
            self.hit = verdict.hit
            if not self.on:
                self.pending_since = self.pending_since or at
                if (at - self.pending_since).total_seconds() >= delay_s:
                    self.on, self.pending_since = True, None
            return
        self.pending_since = None
        if not self.on:
            self.hit = None
        elif not verdict.clear:
            self.clear_since = None
        else:
            self.clear_since = self.clear_since or at
            if (at - self.clear_since).total_seconds() >= hold_s:
                self.on, self.clear_since, self.hit = False, None, None


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule's state after an evaluation: the priority of its highest level that is on and
    that level's latest hit (``None`` for a level restored on without a reading yet)."""

    priority: Priority
    hit: Hit | None


def evaluate(
    rule: Rule,
    limits: AlarmLimits,
    facts: Facts,
    levels: Sequence[LevelState],
    at: datetime,
    max_gap_s: float = float("inf"),
) -> Condition | None:
    """Step every level of ``rule`` with ``facts`` at ``at``; the resulting condition, or
    ``None`` when no level is on."""
    section = rule.limits(limits)
    best: Condition | None = None
    for level, state in zip(rule.levels, levels, strict=True):
        verdict = level.judge(section, facts)
        if verdict is not None:  # the delay and hold are looked up only where step uses them
            raising = verdict.hit is not None and not state.on
            delay_s = level.delay_s(section) if raising else 0.0
            clearing = verdict.hit is None and state.on and verdict.clear
            hold_s = level.hold_s(section) if clearing else 0.0
            state.step(verdict, at, delay_s, hold_s, max_gap_s)
        if state.on:
            priority = level.priority_in(section)
            if best is None or PRIORITY_RANK[priority] > PRIORITY_RANK[best.priority]:
                best = Condition(priority, state.hit)
    return best

"""The delivered-rate estimate's detection latency, as the table in docs/biomed/alarms.md.

For each programmed rate (mL/h) and B. Braun poll period (s), the real estimator and the
``rate_deviation`` levels are fed a synthetic pump in virtual time (a 0.1 mL counter, floored;
:mod:`edge.alarms.rate_latency`): on rate until its windows are full, then off by +30 % or
-30 % (judged by the high level, > 25 %) and +12 % or -12 % (the medium level, > 10 %). A
cell is the worst of four poll phases, in seconds from the start of the deviation to its
detection (the raise is its level's delay later). Takes a few seconds.

Usage: ``python -m bench.rate_detection``.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.alarms.rate_latency import detection_latency

__all__ = ["COLUMNS", "table"]

COLUMNS = ((1.3, "high"), (0.7, "high"), (1.12, "medium"), (0.88, "medium"))
RATES = (5.0, 50.0, 500.0)
POLLS = (1.0, 2.0, 5.0)


def _cell(latency: float | None) -> str:
    return "> 15 min" if latency is None else f"{latency:.0f} s"


def table(rates: Sequence[float] = RATES, polls: Sequence[float] = POLLS) -> str:
    """The latency table in Markdown."""
    heads = [f"{factor - 1:+.0%} ({level})" for factor, level in COLUMNS]
    lines = [
        "| rate | poll | " + " | ".join(heads) + " |",
        "|---|---|" + "---|" * len(heads),
    ]
    for rate in rates:
        for poll in polls:
            cells = [_cell(detection_latency(rate, poll, f, level)) for f, level in COLUMNS]
            lines.append(f"| {rate:g} mL/h | {poll:g} s | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())

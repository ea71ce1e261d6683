"""The ``plausibility`` config section, and the session's count and log of what it replaced.

``plausibility`` maps an observation code to ``{min, max}`` in the code's unit; either bound
may be left out, which keeps the default's (:data:`~drivers.plausibility.PLAUSIBLE_RANGES`;
a code without a default row is unbounded on the side not given). Codes are the reference ids
of :data:`~drivers.readings.OBSERVATION_KINDS`; an unknown code or ``min`` not below ``max``
is a located config problem.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, FiniteFloat

from drivers.plausibility import PLAUSIBLE_RANGES, Implausible, PlausibleRange
from drivers.readings import OBSERVATION_KINDS
from edge.config_errors import Problem

__all__ = [
    "IMPLAUSIBLE_LOG_INTERVAL_S",
    "ImplausibleCount",
    "RangeOverride",
    "override_problems",
    "plausible_ranges",
]

log = logging.getLogger(__name__)

KNOWN_CODES = tuple(kind.code for kind in OBSERVATION_KINDS)
IMPLAUSIBLE_LOG_INTERVAL_S = 60.0  # s between warning lines per device; debug lines in between


class RangeOverride(BaseModel):
    """A site's plausible range for one code, in the code's unit; ``None`` keeps the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: FiniteFloat | None = None
    max: FiniteFloat | None = None


def _merged(code: str, override: RangeOverride) -> tuple[float, float]:
    default = PLAUSIBLE_RANGES.get(code)
    low = override.min if override.min is not None else (default.low if default else -math.inf)
    high = override.max if override.max is not None else (default.high if default else math.inf)
    return low, high


def override_problems(overrides: Mapping[str, RangeOverride]) -> list[Problem]:
    """Every problem of ``overrides``, located as ``plausibility.<code>``."""
    problems = []
    for code, override in overrides.items():
        where = f"plausibility.{code}"
        if code not in KNOWN_CODES:
            close = difflib.get_close_matches(code.upper(), KNOWN_CODES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                Problem(
                    where,
                    f"unknown observation code {code!r}",
                    f"{hint}known codes: {', '.join(KNOWN_CODES)}",
                )
            )
            continue
        low, high = _merged(code, override)
        if not low < high:
            problems.append(
                Problem(
                    where,
                    f"min ({low:g}) must be below max ({high:g})",
                    "a bound left out keeps its default; give both to move the whole range",
                )
            )
    return problems


def plausible_ranges(overrides: Mapping[str, RangeOverride]) -> Mapping[str, PlausibleRange]:
    """The default table with ``overrides`` applied (checked by :func:`override_problems`)."""
    table = dict(PLAUSIBLE_RANGES)
    for code, override in overrides.items():
        table[code] = PlausibleRange(*_merged(code, override))
    return MappingProxyType(table)


@dataclass(slots=True)
class ImplausibleCount:
    """The implausible values of one device: a running count, and a warning line at most once
    per :data:`IMPLAUSIBLE_LOG_INTERVAL_S` (device, bed, code, raw value; never a patient)."""

    device_id: str
    bed: str
    total: int = 0
    _logged_at: float = -math.inf  # monotonic s of the last warning
    _unlogged: int = 0

    def add(self, found: list[Implausible], now: float, context: Mapping[str, object]) -> None:
        """Count ``found`` (seen at monotonic ``now`` s) and log it."""
        self.total += len(found)
        self._unlogged += len(found)
        fields = {"device": self.device_id, "bed": self.bed, **context}
        for item in found:
            log.debug("implausible value", extra={**fields, **_fields(item)})
        if now - self._logged_at >= IMPLAUSIBLE_LOG_INTERVAL_S:
            extra = {**fields, **_fields(found[-1]), "count": self._unlogged}
            log.warning("implausible values made invalid", extra=extra)
            self._logged_at, self._unlogged = now, 0


def _fields(item: Implausible) -> dict[str, object]:
    return {"code": item.code, "value": repr(item.value), "reason": item.reason}

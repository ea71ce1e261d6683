"""The scenario model: one bed's vital signs, pump programs and faults on a timeline.

A scenario is a YAML file validated once, here, into frozen pydantic models (unknown keys
are errors, so a scenario cannot carry patient data: it has no place for any). Time fields
carry their unit in their name: positions on the timeline are scenario minutes (``at_min``,
``until_min``, ``duration_min``), durations and intervals seconds (``duration_s``,
``nibp_interval_s``). :func:`load_scenario` raises :class:`ScenarioError` with every problem
located (``pumps[0].program[1].rate_ml_h: ...``). Evaluation lives in :mod:`.timeline`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drivers.sim.bedside import Ack, Artefact, ExtraCuff
from drivers.sim.faults import FAULT_KINDS, Fault, PumpFault
from drivers.sim.programs import ACTIONS, PumpSpec

if TYPE_CHECKING:
    from drivers.sim.ventilation import Ventilation

__all__ = [
    "QUANTITIES",
    "Change",
    "Quantity",
    "Scenario",
    "ScenarioError",
    "Track",
    "Vitals",
    "format_location",
    "load_scenario",
    "parse_scenario",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A vital sign a scenario can describe: plausible range (also the clamp), unit, and the
    decimals its values carry on the wire (0: whole numbers)."""

    name: str
    unit: str
    low: float
    high: float
    decimals: int = 0


QUANTITIES: tuple[Quantity, ...] = (
    Quantity("hr", "/min", 20, 250),
    Quantity("pr", "/min", 20, 250),
    Quantity("spo2", "%", 50, 100),
    Quantity("rr", "/min", 0, 80),
    Quantity("sbp", "mmHg", 40, 300),
    Quantity("dbp", "mmHg", 20, 200),
    Quantity("map", "mmHg", 30, 250),
    Quantity("temp", "Cel", 25, 45, decimals=1),
    Quantity("pi", "%", 0.02, 20, decimals=2),
    Quantity("spco", "%", 0, 99, decimals=1),
    Quantity("spmet", "%", 0, 99.9, decimals=1),
    Quantity("pvi", "%", 0, 100),
)


def out_of_range(tracks: BaseModel, quantities: Sequence[Quantity]) -> list[str]:
    """Located problems of ``tracks``' baselines and change targets outside their quantity's
    range (the track attribute of each quantity's name; a missing track is skipped)."""
    problems = []
    for quantity in quantities:
        track = getattr(tracks, quantity.name)
        if track is None:
            continue
        values = [(f"{quantity.name}.baseline", track.baseline)]
        values += [
            (f"{quantity.name}.changes[{i}]", change.target(track.baseline))
            for i, change in enumerate(track.changes)
        ]
        problems += [
            f"{where}: {value:g} {quantity.unit} is outside {quantity.low:g}-{quantity.high:g}"
            for where, value in values
            if not quantity.low <= value <= quantity.high
        ]
    return problems


"""Every vital sign of :class:`Vitals`, by field name, with its range and wire decimals."""


class Change(_Frozen):
    """A step (``at_min`` only) or a linear ramp (``at_min`` to ``until_min``) of a track, to
    the absolute value ``to`` or to ``by`` above (below, if negative) the baseline."""

    at_min: float = Field(ge=0)
    until_min: float | None = None
    to: float | None = None
    by: float | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.to is None) == (self.by is None):
            raise ValueError("give exactly one of `to` (a value) or `by` (from the baseline)")
        if self.until_min is not None and self.until_min <= self.at_min:
            raise ValueError("until_min must be after at_min")
        return self

    @property
    def end_min(self) -> float:
        """When the change is complete (scenario minutes)."""
        return self.at_min if self.until_min is None else self.until_min

    def target(self, baseline: float) -> float:
        """The value the change leads to."""
        return self.to if self.to is not None else baseline + (self.by or 0.0)


class Track(_Frozen):
    """One vital sign over time: ``baseline``, then ``changes`` in time order (a change starts
    at or after the end of the one before), plus gaussian noise of ``noise_sd`` (same unit)."""

    baseline: float
    noise_sd: float = Field(default=0.0, ge=0, le=50)
    changes: tuple[Change, ...] = ()

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        for index, (before, after) in enumerate(zip(self.changes, self.changes[1:], strict=False)):
            if after.at_min < before.end_min:
                raise ValueError(
                    f"changes[{index + 1}].at_min: {after.at_min:g} starts before changes"
                    f"[{index}] ends ({before.end_min:g}); changes must not overlap"
                )
        return self


class Vitals(_Frozen):
    """The monitor's numerics. ``pr`` follows ``hr`` and ``map`` is (sbp + 2 dbp) / 3 when
    omitted. ``temp`` (body temperature), ``pi`` (perfusion index), ``spco``, ``spmet`` and
    ``pvi`` are optional: a simulator that shows them sends its own default (or no value)
    without them. NIBP is intermittent: a cuff measurement every ``nibp_interval_s`` seconds from
    ``nibp_first_s``, and at each of ``extra_cuffs``; the monitor shows the last one.
    ``artefacts`` flag values questionable or invalid (see :mod:`.bedside`)."""

    hr: Track
    pr: Track | None = None
    spo2: Track
    rr: Track
    sbp: Track
    dbp: Track
    map: Track | None = None
    temp: Track | None = None
    pi: Track | None = None
    spco: Track | None = None
    spmet: Track | None = None
    pvi: Track | None = None
    nibp_interval_s: float = Field(default=300.0, ge=30, le=3600)
    nibp_first_s: float = Field(default=0.0, ge=0)
    extra_cuffs: tuple[ExtraCuff, ...] = ()
    artefacts: tuple[Artefact, ...] = ()

    @model_validator(mode="after")
    def _plausible(self) -> Self:
        problems = []
        if self.pr is None:
            problems += [
                f"artefacts[{i}].quantity: pr follows hr here; flag hr"
                for i, artefact in enumerate(self.artefacts)
                if artefact.quantity == "pr"
            ]
        problems += out_of_range(self, QUANTITIES)
        if problems:
            raise ValueError("\n".join(problems))
        return self


_LOCATED = re.compile(r"^[a-z_][a-z0-9_]*(?:\[\d+\])*(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])*)*: ")


class Scenario(_Frozen):
    """A bed over ``duration_min`` minutes: vitals for its monitor, programs for its pumps,
    faults, and the nurses' ``acks``. ``seed`` makes the noise and the random faults
    repeatable."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str = Field(min_length=1, max_length=2000)
    duration_min: float = Field(gt=0, le=24 * 60)
    seed: int = 0
    vitals: Vitals | None = None
    pumps: tuple[PumpSpec, ...] = ()
    faults: tuple[Fault, ...] = ()
    acks: tuple[Ack, ...] = ()
    ventilator: Ventilation | None = None
    """Optional ventilator tracks (:mod:`.ventilation`), for a MEDIBUS simulator."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = [
            f"acks[{index}].at_min: {ack.at_min:g} is after the end"
            for index, ack in enumerate(self.acks)
            if ack.at_min > self.duration_min
        ]
        slots = [pump.slot for pump in self.pumps]
        for index, slot in enumerate(slots):
            if slot in slots[:index]:
                problems.append(f"pumps[{index}].slot: slot {slot} is used twice")
        for index, pump in enumerate(self.pumps):
            problems += [
                f"pumps[{index}].program[{i}].at_min: {event.at_min:g} is after the end "
                f"({self.duration_min:g} min)"
                for i, event in enumerate(pump.program)
                if event.at_min > self.duration_min
            ]
        for index, fault in enumerate(self.faults):
            where = f"faults[{index}]"
            if fault.at_min > self.duration_min:
                problems.append(f"{where}.at_min: {fault.at_min:g} is after the end")
            if not isinstance(fault, PumpFault):
                continue
            if not slots:
                problems.append(f"{where}.kind: {fault.kind} needs a pump; the scenario has none")
            elif fault.slot is not None and fault.slot not in slots:
                problems.append(f"{where}.slot: no pump in slot {fault.slot}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def pump(self, slot: str) -> PumpSpec:
        """The pump in ``slot``; raises :class:`KeyError`."""
        for pump in self.pumps:
            if pump.slot == slot:
                return pump
        raise KeyError(slot)


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` are one located sentence each."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "".join(f"\n  {problem}" for problem in self.problems)
        super().__init__(f"{source}: {count} error{'s' if count != 1 else ''}{lines}")


def format_location(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a path (``faults[2].duration_s``), union tags left out."""
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif index and isinstance(loc[index - 1], int) and part in FAULT_KINDS | ACTIONS:
            continue
        else:
            out += f".{part}" if out else part
    return out


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = format_location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        for line in message.splitlines():
            if not where:
                out.append(line)
            elif _LOCATED.match(line):  # a cross-field check that located itself
                out.append(f"{where}.{line}")
            else:
                out.append(f"{where}: {line}")
    return out


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate YAML ``text``; raises :class:`ScenarioError` naming ``source``."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(source, [f"{where}{getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(source, ["a scenario is a mapping (name, description, ...)"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate the scenario file at ``path``; raises :class:`ScenarioError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_scenario(text, str(path))


def _resolve_ventilation() -> None:
    """Bind the ``ventilator`` field's type (its module imports :class:`Track` from here)."""
    from drivers.sim.ventilation import Ventilation

    Scenario.model_rebuild(_types_namespace={"Ventilation": Ventilation})


_resolve_ventilation()

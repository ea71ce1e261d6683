"""The ``options`` of a ``line`` device: how its lines are framed, checked and read.

Every option is checked when the config is loaded, so ``config check`` names the key at fault:
a regular expression that does not compile or lacks a named group a field refers to, a code
outside the observation table, a unit other than the code's table unit. The defaults are the
textline profile: with no options, ``line`` reads textline ``$VIT,...*CS`` lines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from drivers.line.checks import ChecksumKind
from drivers.readings import PumpState, observation_kind

__all__ = ["ChecksumOptions", "FieldSpec", "KeyValue", "LineOptions", "PumpStateMap"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChecksumOptions(_Frozen):
    """A checksum sent as hex digits (2 for 8-bit kinds, 4 for CRC-16, either case) at the end
    of the line, after ``separator``. It covers the text between the start text and the
    separator, plus the start text if ``covers_start`` and the separator if
    ``covers_separator``."""

    kind: ChecksumKind
    separator: str = Field("*", max_length=8)
    covers_start: bool = False
    covers_separator: bool = False


class KeyValue(_Frozen):
    """``KEY=VALUE`` tokens split by ``separator``; empty tokens and tokens without ``assign``
    (a line kind, a date) are skipped. ``ignore_case``: keys match fields in any case."""

    separator: str = Field(",", min_length=1, max_length=8)
    assign: str = Field("=", min_length=1, max_length=8)
    ignore_case: bool = False


class FieldSpec(_Frozen):
    """One field of the line and the observation it carries: ``value * scale`` in ``unit``
    (default: the code's table unit). ``strip``: characters removed from both ends of the text
    first (``"%"``); ``no_value``: texts meaning the device has no value now (state
    ``unavailable``)."""

    code: str
    unit: str | None = Field(None, min_length=1)
    scale: float = 1.0
    strip: str = ""
    no_value: tuple[str, ...] = ()

    @field_validator("code")
    @classmethod
    def _known_code(cls, code: str) -> str:
        if observation_kind(code) is None:
            raise ValueError(f"unknown observation code {code!r} (see the observation table)")
        return code

    @field_validator("unit")
    @classmethod
    def _table_unit(cls, unit: str | None, info: ValidationInfo) -> str | None:
        kind = observation_kind(info.data.get("code", ""))
        if kind is not None and kind.unit is not None and unit is not None and unit != kind.unit:
            raise ValueError(f"{kind.code} is measured in {kind.unit!r}, not {unit!r}")
        return unit

    @field_validator("scale")
    @classmethod
    def _usable_scale(cls, scale: float) -> float:
        if not math.isfinite(scale) or scale == 0:
            raise ValueError("scale must be a finite number other than 0")
        return scale

    @model_validator(mode="after")
    def _has_unit(self) -> FieldSpec:
        kind = observation_kind(self.code)
        if kind is not None and kind.unit is None and self.unit is None:
            raise ValueError(f"{self.code} has no fixed unit: give unit")
        return self

    @property
    def resolved_unit(self) -> str:
        """The unit published: ``unit``, else the code's table unit."""
        kind = observation_kind(self.code)
        unit = self.unit or (kind.unit if kind is not None else None)
        assert unit is not None  # guaranteed by the validators
        return unit


class PumpStateMap(_Frozen):
    """For pump codes: the field holding the pump's running state and its texts."""

    field: str = Field(min_length=1)
    values: dict[str, PumpState] = Field(min_length=1)


TEXTLINE_FIELDS: dict[str, FieldSpec] = {
    key: FieldSpec(code=code, no_value=("-",))
    for key, code in (
        ("SBP", "MDC_PRESS_BLD_NONINV_SYS"),
        ("DBP", "MDC_PRESS_BLD_NONINV_DIA"),
        ("MAP", "MDC_PRESS_BLD_NONINV_MEAN"),
        ("HR", "MDC_ECG_HEART_RATE"),
        ("PR", "MDC_PULS_OXIM_PULS_RATE"),
        ("SPO2", "MDC_PULS_OXIM_SAT_O2"),
        ("RR", "MDC_RESP_RATE"),
    )
}


class LineOptions(_Frozen):
    """A ``line`` device. ``start``: text a line begins with (anything before it is dropped;
    ``null``: none). ``regex`` (named groups = field names) or ``keyvalue`` splitting, not
    both. ``period_s``: seconds between the device's lines. ``max_line``: longest line in
    bytes, terminator included."""

    terminator: Literal["\r\n", "\n", "\r"] = "\r\n"
    start: str | None = Field("$", min_length=1, max_length=8)
    checksum: ChecksumOptions | None = ChecksumOptions(kind="xor8")
    regex: str | None = Field(None, min_length=1)
    keyvalue: KeyValue = KeyValue()
    fields: dict[str, FieldSpec] = Field(default=TEXTLINE_FIELDS, min_length=1)
    pump_state: PumpStateMap | None = None
    period_s: float = Field(1.0, gt=0, le=3600)
    max_line: int = Field(256, ge=16, le=4096)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str | None) -> str | None:
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return regex

    @field_validator("fields")
    @classmethod
    def _fields_fit(
        cls, fields: dict[str, FieldSpec], info: ValidationInfo
    ) -> dict[str, FieldSpec]:
        kinds = {observation_kind(spec.code) for spec in fields.values()}
        if len({kind.reading_kind for kind in kinds if kind is not None}) > 1:
            raise ValueError("fields mix pump and vitals codes: one line is one kind of reading")
        _check_groups(info.data.get("regex"), fields)
        return fields

    @field_validator("pump_state")
    @classmethod
    def _state_fits(cls, state: PumpStateMap | None, info: ValidationInfo) -> PumpStateMap | None:
        if state is not None:
            _check_groups(info.data.get("regex"), [state.field])
        return state

    @model_validator(mode="after")
    def _parse_and_kind(self) -> LineOptions:
        if self.regex is not None and "keyvalue" in self.model_fields_set:
            raise ValueError("give regex or keyvalue, not both")
        if self.reading_kind == "pump" and self.pump_state is None:
            raise ValueError("pump codes need pump_state: the field with the pump's state")
        if self.reading_kind == "vitals" and self.pump_state is not None:
            raise ValueError("pump_state is for pump codes; these fields are vitals")
        return self

    @property
    def reading_kind(self) -> Literal["pump", "vitals"]:
        """The kind of reading the fields' codes make."""
        spec = next(iter(self.fields.values()))
        kind = observation_kind(spec.code)
        return "vitals" if kind is None else kind.reading_kind


def _check_groups(regex: str | None, names: Iterable[str]) -> None:
    if regex is None:
        return
    groups = re.compile(regex).groupindex
    missing = [name for name in names if name not in groups]
    if missing:
        raise ValueError(f"the regex has no named group for {', '.join(map(repr, missing))}")

"""line codec: a checked :class:`TextLine` -> one pump or vitals Reading.

Fields come from the regular expression's named groups or from ``KEY=VALUE`` splitting;
fields the options do not name are ignored (a device may send more), configured fields absent
from a line are left out (order and presence may vary). A value in ``no_value`` becomes an
``unavailable`` observation without a value; any other value must be a finite number, which
is multiplied by the field's ``scale``.
"""

from __future__ import annotations

import math
import re

from pydantic import ValidationError

from drivers.base import DeviceTarget, Instant
from drivers.errors import DecodeError
from drivers.line.framer import TextLine
from drivers.line.options import FieldSpec, LineOptions
from drivers.readings import Observation, PumpReading, PumpStatus, VitalsReading

__all__ = ["LineCodec"]


class LineCodec:
    """Decodes the lines of one ``line`` device with ``options``."""

    def __init__(self, options: LineOptions) -> None:
        self._options = options
        self._regex = None if options.regex is None else re.compile(options.regex)

    def decode(
        self, frame: TextLine, target: DeviceTarget, at: Instant
    ) -> list[PumpReading | VitalsReading]:
        """The reading in ``frame``, stamped with the receive time ``at.wall``."""
        values = self._values(frame.text)
        observations = tuple(
            _observation(name, spec, values[name])
            for name, spec in self._options.fields.items()
            if values.get(name) is not None
        )
        if not observations:
            raise DecodeError("line: no configured field in the line")
        try:
            if self._options.reading_kind == "vitals":
                return [
                    VitalsReading(
                        device_id=target.device_id,
                        bed=target.bed,
                        ts=at.wall,
                        observations=observations,
                    )
                ]
            return [
                PumpReading(
                    device_id=target.device_id,
                    bed=target.bed,
                    ts=at.wall,
                    observations=observations,
                    pump=self._pump(values),
                )
            ]
        except ValidationError as exc:
            raise DecodeError(f"line: {exc.errors()[0]['msg']}") from exc

    def _values(self, text: str) -> dict[str, str | None]:
        """Field name (as configured) -> its text in the line."""
        if self._regex is not None:
            match = self._regex.search(text)
            if match is None:
                raise DecodeError("line: the line does not match the regex")
            return match.groupdict()
        split = self._options.keyvalue
        fold = str.casefold if split.ignore_case else str
        names = {fold(name): name for name in self._names()}
        values: dict[str, str | None] = {}
        for token in text.split(split.separator):
            key, assign, value = token.partition(split.assign)
            name = names.get(fold(key.strip()))
            if assign and name is not None:
                values[name] = value.strip()
        return values

    def _names(self) -> list[str]:
        state = self._options.pump_state
        return [*self._options.fields, *([] if state is None else [state.field])]

    def _pump(self, values: dict[str, str | None]) -> PumpStatus:
        mapping = self._options.pump_state
        assert mapping is not None  # guaranteed by the options for pump codes
        text = values.get(mapping.field) or ""
        state = mapping.values.get(text)
        if state is None:
            raise DecodeError(f"line {mapping.field}: unknown pump state {text[:20]!r}")
        return PumpStatus(state=state)


def _observation(name: str, spec: FieldSpec, raw: str | None) -> Observation:
    text = (raw or "").strip().strip(spec.strip)
    unit = spec.resolved_unit
    if text in spec.no_value:
        return Observation(code=spec.code, value=None, unit=unit, state="unavailable")
    try:
        number = float(text) * spec.scale
    except ValueError:
        raise DecodeError(f"line {name}: {text[:20]!r} is not a number") from None
    if not math.isfinite(number):
        raise DecodeError(f"line {name}: {text[:20]!r} is not a finite number")
    return Observation(code=spec.code, value=number, unit=unit)

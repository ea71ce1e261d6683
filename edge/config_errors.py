"""Config problems: turning validation errors into located messages.

A :class:`Problem` is one error a biomedical engineer can act on: where (``devices[2].port``,
``edge.yaml:3:5`` or ``INFUSION_EDGE_MQTT__URL``), what, and a hint.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "MAX_PROBLEMS",
    "ConfigError",
    "Problem",
    "format_location",
    "problems_from_validation",
]

MAX_PROBLEMS = 100
"""Validation errors reported one by one; a larger count is summed up in one line."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One config error: ``location`` like ``devices[2].port``, a message and a hint."""

    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def format_location(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """``("devices", 2, "port")`` -> ``devices[2].port``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_HINTS = {
    "missing": "this key is required",
    "string_pattern_mismatch": "use letters, digits, '_', '.' or '-' (no spaces, '/', '+', '#')",
    "literal_error": "use one of the listed values",
    "float_parsing": "write a number",
    "int_parsing": "write a whole number",
    "bool_parsing": "write true or false",
}


_FIELD_HINTS = {  # by key path, list indexes left out: these patterns are not names
    "mqtt.url": "use mqtt://HOST:PORT or mqtts://HOST:PORT (TLS), nothing after the port",
    "mqtt.topic_prefix": "no spaces, '#' or '+', and no '/' at the end",
    "http.users.password_hash": "paste the output of `infusion-edge hash-password`",
}


def problems_from_validation(
    exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = ""
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, with a hint (for unknown keys: the allowed
    keys of ``model`` at that place, closest first); past :data:`MAX_PROBLEMS`, one line
    saying how many more."""
    problems = []
    errors = exc.errors(include_url=False)
    for error in errors[:MAX_PROBLEMS]:
        loc = tuple(error["loc"])
        field = ".".join(part for part in loc if isinstance(part, str))
        hint = _FIELD_HINTS.get(field) or _HINTS.get(error["type"], "")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            hint = _allowed_keys_hint(model, loc)
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problems.append(Problem(format_location(loc, prefix), message, hint))
    if len(errors) > MAX_PROBLEMS:
        more = f"and {len(errors) - MAX_PROBLEMS} more errors like these"
        problems.append(Problem(format_location((), prefix), more, "fix these and check again"))
    return problems


def _allowed_keys_hint(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    fields = _fields_at(model, loc[:-1]) if model is not None else None
    if not fields:
        return "remove it or check its spelling"
    close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    allowed = ", ".join(sorted(fields))
    return f"did you mean {close[0]!r}? allowed here: {allowed}" if close else f"allowed: {allowed}"


def _fields_at(model: type[BaseModel], path: tuple[int | str, ...]) -> list[str] | None:
    """Field names of the model found at ``path`` inside ``model`` (lists and dicts skipped)."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _model_in(annotation: Any) -> Any:
    """The BaseModel class inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(getattr(annotation, "__args__", ())):
        found = _model_in(arg)
        if found is not None:
            return found
    return None

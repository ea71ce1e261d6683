"""Config problems: reading YAML strictly and turning validation errors into located messages.

A :class:`Problem` is one error a biomedical engineer can act on: where (``devices[2].port``),
what, and a hint. YAML is read with duplicate keys refused, because a silently overwritten key
is a lost setting.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "Problem", "format_location", "problems_from_validation", "read_yaml"]


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


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys in a mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path``; raise :class:`ConfigError` if there is none."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(where, "no such file", "check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(where, f"cannot read: {exc}")]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        reason = f"{exc.context or ''} {exc.problem or ''}".strip()
        raise ConfigError([Problem(at, f"not valid YAML: {reason}", "fix the syntax")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(where, f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [Problem(where, "expected a mapping of keys (site, edge_id, devices, ...)")]
        )
    return data


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


def problems_from_validation(
    exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = ""
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, with a hint (for unknown keys: the allowed
    keys of ``model`` at that place, closest first)."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        hint = _HINTS.get(error["type"], "")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
            hint = _allowed_keys_hint(model, loc)
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problems.append(Problem(format_location(loc, prefix), message, hint))
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

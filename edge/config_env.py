"""Environment overrides: every ``INFUSION_EDGE_...`` variable must name a setting.

A variable is the prefix, then the key path in capitals with ``__`` between levels
(``INFUSION_EDGE_MQTT__PASSWORD`` is ``mqtt.password``); letter case does not matter. Under a
mapping of free keys (``beds``, ``alarms.beds``, ``plausibility``,
``acknowledgements.dashboards``) any key is accepted at that level and the levels below follow
the model again (``INFUSION_EDGE_BEDS__CHAIR_1__LABEL``). A list, or a whole section, is given
as JSON (``INFUSION_EDGE_DEVICES='[...]'``); a list's items cannot be set one by one.

Checked before the settings are read: a variable naming no setting is a problem like an unknown
key in the file, with the closest known variable; a list or mapping that is not JSON is a
problem named by its variable, not a traceback. Problems that pydantic finds in a value from the
environment say which variable set it.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from edge.config_errors import Problem, format_location

__all__ = ["EnvironmentCheck", "check_environment"]

Kind = Literal["scalar", "list", "mapping"]


@dataclass(frozen=True, slots=True)
class _Setting:
    """A settable key path (``*``: any key of a free mapping) and the kind of its value."""

    path: tuple[str, ...]
    kind: Kind

    def matches(self, parts: tuple[str, ...]) -> bool:
        return len(parts) == len(self.path) and all(
            want in ("*", part) for want, part in zip(self.path, parts, strict=True)
        )

    def path_of(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        """This setting's path in ``parts`` (which start with it)."""
        return parts[: len(self.path)]


@dataclass(frozen=True, slots=True)
class EnvironmentCheck:
    """What the ``INFUSION_EDGE_...`` variables set: their problems, and which variable set
    each config location (``http.port`` -> ``INFUSION_EDGE_HTTP__PORT``)."""

    problems: list[Problem]
    sources: dict[str, tuple[str, Kind]]
    refused: frozenset[str]

    def attribute(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` (from validation) minus those of refused variables, each naming the
        variable its value came from."""
        out = []
        for problem in problems:
            if any(_under(problem.location, where) for where in self.refused):
                continue  # already reported by the variable's name
            variable = self._source(problem.location)
            if variable is not None:
                message = f"{problem.message} (from {variable})"
                problem = Problem(problem.location, message, problem.hint)
            out.append(problem)
        return out

    def _source(self, location: str) -> str | None:
        for where, (variable, kind) in self.sources.items():
            if location == where or (kind == "list" and _under(location, where)):
                return variable  # a list from the environment replaces the file's whole
        return None


def check_environment(
    environ: Mapping[str, str], model: type[BaseModel], prefix: str
) -> EnvironmentCheck:
    """Check every variable of ``environ`` starting with ``prefix`` against ``model``."""
    problems, sources, refused = [], {}, set()
    for variable in sorted(environ):
        if not variable.upper().startswith(prefix):
            continue
        parts = tuple(variable[len(prefix) :].lower().split("__"))
        where = format_location(parts)
        setting = _find(parts, model)
        problem = _problem(variable, environ[variable], parts, setting, model, prefix)
        if problem is not None:
            problems.append(problem)
            refused.add(where)
            whole = _whole(parts, model) if setting is None else None
            if whole is not None:  # its value, turned into a mapping, fails there
                refused.add(format_location(whole.path_of(parts)))
        elif setting is not None:
            sources[where] = (variable, setting.kind)
    return EnvironmentCheck(problems, sources, frozenset(refused))


def _problem(
    variable: str,
    value: str,
    parts: tuple[str, ...],
    setting: _Setting | None,
    model: type[BaseModel],
    prefix: str,
) -> Problem | None:
    if setting is None:
        hint = f"remove it, or fix its name: every {prefix}* variable must name a setting"
        whole = _whole(parts, model)
        if whole is not None:
            name = prefix + "__".join(whole.path_of(parts)).upper()
            how = "as JSON" if whole.kind == "list" else "as one value"
            return Problem(variable, f"unknown setting ({name} is set whole, {how})", hint)
        closest = _closest(parts, model)
        return Problem(variable, f"unknown setting (did you mean {prefix}{closest.upper()}?)", hint)
    if setting.kind == "scalar":
        return None
    try:
        json.loads(value)
    except ValueError as exc:
        example = '[{"key": "value"}, ...]' if setting.kind == "list" else '{"key": "value"}'
        return Problem(
            variable,
            f"a {setting.kind} from the environment must be JSON: {exc}",
            f"write it as JSON, like {example}",
        )
    return None


def _find(parts: tuple[str, ...], model: type[BaseModel]) -> _Setting | None:
    return next((s for s in _settings(model) if s.matches(parts)), None)


def _whole(parts: tuple[str, ...], model: type[BaseModel]) -> _Setting | None:
    """The list or scalar setting that ``parts`` goes into, if any (``devices`` for
    ``devices__0__port``): it has no parts to set."""
    for end in range(len(parts) - 1, 0, -1):
        setting = _find(parts[:end], model)
        if setting is not None:
            return setting if setting.kind != "mapping" else None
    return None


def _closest(parts: tuple[str, ...], model: type[BaseModel]) -> str:
    """The known variable (without prefix) nearest to ``parts``; free keys as given."""
    names = ["__".join(_fill(s.path, parts)) for s in _settings(model)]
    return difflib.get_close_matches("__".join(parts), names, n=1, cutoff=0.0)[0]


def _fill(path: tuple[str, ...], parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        (parts[i] if i < len(parts) else "key") if want == "*" else want
        for i, want in enumerate(path)
    )


def _under(location: str, where: str) -> bool:
    return location == where or location.startswith((f"{where}.", f"{where}["))


@cache
def _settings(model: type[BaseModel]) -> tuple[_Setting, ...]:
    """Every key path ``model`` can be given from the environment."""
    return tuple(_walk(model, ()))


def _walk(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[_Setting]:
    for name, field in model.model_fields.items():
        yield from _paths(field.annotation, (*path, name))


def _paths(annotation: Any, path: tuple[str, ...]) -> Iterator[_Setting]:
    """The paths of a value of type ``annotation`` at ``path``, itself included."""
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield _Setting(path, "mapping")
        yield from _walk(annotation, path)
    elif origin is dict or (isinstance(origin, type) and issubclass(origin, Mapping)):
        yield _Setting(path, "mapping")
        yield from _paths(get_args(annotation)[1], (*path, "*"))
    elif origin in (list, tuple, set, frozenset):
        yield _Setting(path, "list")
    else:
        yield _Setting(path, "scalar")


def _unwrap(annotation: Any) -> Any:
    """``X`` from ``Annotated[X, ...]`` and ``X | None``; unions of several kept whole."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _unwrap(rest[0]) if len(rest) == 1 else annotation
    return annotation

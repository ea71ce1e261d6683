"""Reading the config file: strict, bounded YAML.

A config file is hostile input until checked. Before anything is built from it:

- the file may be at most :data:`MAX_FILE_BYTES` (1 MiB); only that much is ever read;
- collections may nest at most :data:`MAX_DEPTH` (32) deep, and hold at most
  :data:`MAX_ITEMS` (1,000) entries each;
- the document may stand for at most :data:`MAX_NODES` (50,000) nodes, counting every
  scalar, list and mapping, and counting an alias (``*name``, ``<<: *name``) as all the nodes
  of its anchor: an alias bomb (10 levels of 10 aliases) stands for 10^10 nodes and is
  refused after a few hundred events; an alias inside its own anchor is refused.

These are checked on the parser's event stream (no recursion, nothing built), so a refusal
takes milliseconds and points at the line where the limit was crossed. Then the document is
loaded with a safe loader (libyaml's when installed) that also refuses duplicate keys, because
a silently overwritten key is a lost setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from edge.config_errors import ConfigError, Problem

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_ITEMS", "MAX_NODES", "read_yaml"]

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 50_000
MAX_ITEMS = 1_000

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):  # type: ignore[valid-type,misc]  # CSafeLoader or SafeLoader
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


class _Mark(Protocol):
    """A place in the text (PyYAML's or libyaml's), counted from 0."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


class _LimitError(Exception):
    """A limit was crossed at ``mark``."""

    def __init__(self, message: str, hint: str, mark: _Mark | None) -> None:
        super().__init__(message)
        self.message, self.hint, self.mark = message, hint, mark


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path``; raise :class:`ConfigError` if there is none or
    the file crosses a limit."""
    where = str(path)
    text = _read_text(path)
    try:
        _check_shape(text)
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506  # a SafeLoader subclass
    except _LimitError as exc:
        raise ConfigError([Problem(_at(where, exc.mark), exc.message, exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
        reason = f"{exc.context or ''} {exc.problem or ''}".strip()
        at = _at(where, exc.problem_mark)
        raise ConfigError([Problem(at, f"not valid YAML: {reason}", "fix the syntax")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(where, f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [Problem(where, "expected a mapping of keys (site, edge_id, devices, ...)")]
        )
    return data


def _read_text(path: Path) -> str:
    """At most :data:`MAX_FILE_BYTES` of ``path``, decoded; a longer file is refused unread."""
    where = str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([Problem(where, "no such file", "check the path")]) from None
    except OSError as exc:
        raise ConfigError([Problem(where, f"cannot read: {exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        message = f"the file is larger than {MAX_FILE_BYTES} bytes (1 MiB), the limit"
        raise ConfigError([Problem(where, message, "a config file is a few kB: check the path")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(where, f"cannot read: {exc}", "save it as UTF-8")]) from None


_DEEP = f"nested deeper than {MAX_DEPTH} levels"
_DEEP_HINT = "a config nests a few levels; flatten it"


def _check_shape(text: str) -> None:
    """Raise :class:`_LimitError` where ``text`` nests too deep or stands for too many nodes."""
    try:
        _check_events(yaml.parse(text, Loader=_SafeLoader))
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" not in str(exc.problem):  # libyaml's own limit (1000), met first
            raise  # by a flow list that its scanner reads ahead in
        raise _LimitError(_DEEP, _DEEP_HINT, exc.problem_mark) from None


@dataclass(slots=True)
class _Open:
    """A list or mapping being read: its anchor, the nodes before it, its entries so far."""

    anchor: str | None
    before: int
    per_item: int  # events per entry: 1 in a list, 2 (key and value) in a mapping
    events: int = 0


def _check_events(events: Iterator[yaml.Event]) -> None:
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for
    open_: list[_Open] = []
    nodes = 0
    for event in events:
        if isinstance(event, yaml.NodeEvent) and open_:
            _count_entry(open_[-1], event)
        if isinstance(event, yaml.AliasEvent):
            nodes += _alias_size(event, sizes, open_)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            per_item = 2 if isinstance(event, yaml.MappingStartEvent) else 1
            open_.append(_Open(event.anchor, nodes, per_item))
            nodes += 1
            if len(open_) > MAX_DEPTH:
                raise _LimitError(_DEEP, _DEEP_HINT, event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent) and open_:
            done = open_.pop()
            if done.anchor is not None:
                sizes[done.anchor] = nodes - done.before
        if nodes > MAX_NODES:
            message = f"more than {MAX_NODES} values (aliases count as what they repeat)"
            raise _LimitError(message, "use fewer aliases, or split the file", event.start_mark)


def _count_entry(collection: _Open, event: yaml.NodeEvent) -> None:
    collection.events += 1
    if collection.events > MAX_ITEMS * collection.per_item:
        what = "list" if collection.per_item == 1 else "mapping"
        message = f"a {what} of more than {MAX_ITEMS} entries"
        raise _LimitError(message, "a config lists a few hundred things at most", event.start_mark)


def _alias_size(event: yaml.AliasEvent, sizes: dict[str, int], open_: list[_Open]) -> int:
    """The nodes an alias stands for; an alias inside its own anchor is refused."""
    if any(collection.anchor == event.anchor for collection in open_):
        hint = "an alias cannot repeat the list or mapping it is in"
        raise _LimitError(f"alias *{event.anchor} inside its own anchor", hint, event.start_mark)
    return sizes.get(str(event.anchor), 0)  # an undefined anchor: the loader reports it


def _at(where: str, mark: _Mark | None) -> str:
    return f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where

"""``infusion-edge reload``: ask the running daemon to apply its edited config; print the
answer. Exit 0: applied (or nothing changed); 1: rejected (every located error printed on
stderr, as ``config check`` prints them), or no daemon answers on the socket."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from edge.config import ENV_PREFIX, ConfigError, ControlConfig
from edge.config_yaml import read_yaml
from edge.reload.control import request_reload

__all__ = ["reload_command", "socket_of"]


def socket_of(config_path: Path | None) -> Path:
    """The control socket of the daemon run with ``config_path`` (its ``control.socket``,
    or ``INFUSION_EDGE_CONTROL__SOCKET``), else the default one. The file is read for that
    key only: the daemon checks the rest."""
    environ = os.environ
    configured = environ.get(f"{ENV_PREFIX}CONTROL__SOCKET")
    if configured is None and config_path is not None:
        try:
            data = read_yaml(config_path)
        except ConfigError:
            data = {}
        control = data.get("control")
        if isinstance(control, dict) and isinstance(control.get("socket"), str):
            configured = control["socket"]
    return ControlConfig(socket=Path(configured) if configured else None).socket_path(environ)


def reload_command(config_path: Path | None, socket_path: Path | None) -> int:
    """Run the command; the exit code."""
    path = socket_path or socket_of(config_path)
    try:
        answer = request_reload(path)
    except (OSError, ValueError, TypeError) as exc:
        print(f"infusion-edge reload: no daemon answers on {path}: {exc}", file=sys.stderr)
        return 1
    return _print(answer)


def _print(answer: dict[str, Any]) -> int:
    result = answer.get("result")
    if result == "applied":
        print(f"reload applied (config {str(answer.get('config_hash', ''))[:12]})")
        for line in answer.get("changes", []):
            print(f"  {line}")
        return 0
    if result == "unchanged":
        print("reload: nothing to change")
        return 0
    errors = [str(e) for e in answer.get("errors", [])]
    where = answer.get("path", "config")
    count = len(errors)
    print(f"{where}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
    for problem in errors:
        print(f"  {problem}".replace("\n", "\n  "), file=sys.stderr)
    if result == "failed":
        print(f"{where}: reload failed part way; restart the daemon", file=sys.stderr)
    else:
        print(f"{where}: reload rejected; the running config stays in force", file=sys.stderr)
    return 1

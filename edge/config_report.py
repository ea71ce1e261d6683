"""Loading the config for a command: the config, or its problems on stderr, one per line, the
same lines for every command (``config check``, ``run``, ``dashboard``, ``hl7``, ``fhir``...)."""

from __future__ import annotations

import sys
from pathlib import Path

from edge.config import Config, ConfigError, load_config

__all__ = ["load_or_report"]


def load_or_report(path: Path) -> Config | None:
    """The config at ``path``, or None after printing its problems on stderr."""
    try:
        return load_config(path)
    except ConfigError as exc:
        count = len(exc.problems)
        print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}".replace("\n", "\n  "), file=sys.stderr)
        return None

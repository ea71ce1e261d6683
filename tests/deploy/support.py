"""What the deploy tests share: the repository's paths, YAML loading, the edge's metric names
and a small PromQL reader that finds the metric names an expression uses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.metrics import METRICS
from edge.web.metrics import DASHBOARD_METRICS

__all__ = [
    "DEPLOY",
    "EDGE_METRICS",
    "ROOT",
    "load_yaml",
    "metric_names",
    "require_tool",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

EDGE_METRICS = frozenset(
    f"infusion_edge_{spec.name}{'_total' if spec.kind == 'counter' else ''}"
    for spec in (*METRICS, *DASHBOARD_METRICS)
)
"""Every series name the edge and the dashboard expose on /metrics (counters with their
``_total``)."""

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z$_]+")
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, label names and
    Grafana variables are left out)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def load_yaml(path: Path) -> Any:
    """A YAML file as plain data."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def require_tool(name: str, why: str) -> str:
    """The path of command ``name``, or skip the test saying how to get it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed ({why})")
    return found

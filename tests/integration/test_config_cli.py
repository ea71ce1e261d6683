"""``config check`` (exit 1) and ``run`` (exit 78) refuse a bad config with the same lines,
never a traceback: a hostile file, an unknown variable, a list from the environment that is not
JSON, a bad broker URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import EX_CONFIG
from tests.edge.test_config_input import HEAD, alias_bomb

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REPO = Path(__file__).resolve().parents[2]
GOOD = HEAD + "beds: {bed-1: {}}\n"


def infusion_edge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m edge.cli ARGS`` with only ``env`` among the INFUSION_EDGE_ variables."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("INFUSION_EDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=REPO,
        env={**base, **env},
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (alias_bomb(), {}, "values (aliases count as what they repeat)"),
        (HEAD + "x: " + "[" * 100_000 + "]" * 100_000 + "\n", {}, "nested deeper than 32"),
        (GOOD, {"INFUSION_EDGE_NOPE": "1"}, "INFUSION_EDGE_NOPE: unknown setting (did you mean"),
        (GOOD, {"INFUSION_EDGE_DEVICES": "garbage"}, "INFUSION_EDGE_DEVICES: a list from the"),
        (
            GOOD,
            {"INFUSION_EDGE_MQTT__URL": "http://broker"},
            "hint: use mqtt://HOST:PORT or mqtts://HOST:PORT",
        ),
    ],
    ids=["alias-bomb", "deep", "unknown-variable", "garbage-list", "mqtt-url"],
)
def test_check_and_run_print_the_same_refusal(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    check = infusion_edge("config", "check", str(path), env=env)
    run = infusion_edge("run", "--config", str(path), env=env)
    assert check.returncode == 1, check.stderr
    assert run.returncode == EX_CONFIG, run.stderr
    assert f"{path}: 1 error\n" in check.stderr
    assert expected in check.stderr
    assert "Traceback" not in check.stderr + run.stderr
    assert run.stderr.startswith(check.stderr)  # then one line: refusing to start
    assert run.stderr.removeprefix(check.stderr).count("\n") == 1


def test_a_good_config_with_a_secret_from_the_environment_checks_ok(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(GOOD)
    env = {"INFUSION_EDGE_MQTT__PASSWORD": "s3cret", "INFUSION_EDGE_HTTP__SESSION_SECRET": "s" * 40}
    check = infusion_edge("config", "check", str(path), env=env)
    assert check.returncode == 0, check.stderr
    assert f"{path}: ok (1 beds, 0 devices)" in check.stdout

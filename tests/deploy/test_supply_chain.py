"""scripts/supply-chain: how it judges pip-audit's report (a stand-in pip-audit answers as the
real one does, since the vulnerability services are not reachable from every machine), the
real CycloneDX SBOM it writes, and the security lint the test command runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import ROOT, require_tool

SCRIPT = ROOT / "scripts" / "supply-chain"
CYCLONEDX = Path(sys.executable).with_name("cyclonedx-py")

# Writes the report named by $FAKE_REPORT (if any) where --output says, notes its arguments
# in $FAKE_ARGS, and exits with $FAKE_STATUS: pip-audit's interface, without the network.
FAKE_PIP_AUDIT = """#!/usr/bin/env python3
import json, os, shutil, sys
args = sys.argv[1:]
json.dump(args, open(os.environ["FAKE_ARGS"], "w"))
if os.environ.get("FAKE_REPORT"):
    shutil.copy(os.environ["FAKE_REPORT"], args[args.index("--output") + 1])
sys.exit(int(os.environ.get("FAKE_STATUS", "0")))
"""
FAKE_CYCLONEDX = """#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
json.dump({"bomFormat": "CycloneDX"}, open(args[args.index("--output-file") + 1], "w"))
"""


def _dependency(name: str, vulns: list[dict[str, Any]] | None = None, **extra: str) -> Any:
    return {"name": name, "version": "1.0", "vulns": vulns or [], **extra}


CLEAN = {"dependencies": [_dependency("pydantic"), _dependency("pyserial")], "fixes": []}
VULNERABLE = {
    "dependencies": [
        _dependency("pydantic"),
        _dependency("pyyaml", [{"id": "PYSEC-2099-1", "fix_versions": ["9.9"], "aliases": []}]),
    ],
    "fixes": [],
}
NOT_AUDITED = {
    "dependencies": [
        _dependency("pydantic"),
        {"name": "aiomqtt", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ],
    "fixes": [],
}


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def _run(
    tmp_path: Path,
    *args: str,
    report: dict[str, Any] | None = None,
    status: int = 0,
    real_sbom: bool = False,
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SUPPLY_CHAIN_OUT": str(tmp_path / "out"),
        "PIP_AUDIT": str(_executable(tmp_path / "pip-audit", FAKE_PIP_AUDIT)),
        "CYCLONEDX_PY": str(
            CYCLONEDX if real_sbom else _executable(tmp_path / "cyclonedx-py", FAKE_CYCLONEDX)
        ),
        "FAKE_ARGS": str(tmp_path / "args.json"),
        "FAKE_STATUS": str(status),
        "FAKE_REPORT": "",
    }
    if report is not None:
        (tmp_path / "report.json").write_text(json.dumps(report))
        env["FAKE_REPORT"] = str(tmp_path / "report.json")
    return subprocess.run(
        [str(SCRIPT), "--python", sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )


def _audit_args(tmp_path: Path) -> list[str]:
    args: list[str] = json.loads((tmp_path / "args.json").read_text())
    return args


def test_a_clean_audit_passes_and_audits_what_is_installed(tmp_path: Path) -> None:
    result = _run(tmp_path, report=CLEAN)
    assert result.returncode == 0, result.stderr
    assert "no known vulnerabilities in 2 packages" in result.stdout
    assert (tmp_path / "out" / "sbom.cdx.json").is_file()
    args = _audit_args(tmp_path)
    assert {"--no-deps", "--disable-pip"} <= set(args)
    assert args[args.index("--vulnerability-service") + 1] == "pypi"
    pinned = Path(args[args.index("--requirement") + 1]).read_text().splitlines()
    assert any(line.lower().startswith("pydantic==") for line in pinned)
    assert not any(line.lower().startswith("infusion") for line in pinned)


def test_known_vulnerabilities_fail_with_their_ids_and_fixes(tmp_path: Path) -> None:
    result = _run(tmp_path, report=VULNERABLE, status=1)
    assert result.returncode == 1
    assert "VULNERABLE pyyaml 1.0: PYSEC-2099-1 (fixed in 9.9)" in result.stderr


def test_dependencies_the_service_could_not_look_up_are_no_pass(tmp_path: Path) -> None:
    result = _run(tmp_path, report=NOT_AUDITED)
    assert result.returncode == 3
    assert "1 of 2 packages could not be audited" in result.stderr


def test_an_unreachable_service_is_no_pass(tmp_path: Path) -> None:
    result = _run(tmp_path, "--service", "osv", status=1)
    assert result.returncode == 3
    assert "pip-audit wrote no report" in result.stderr
    args = _audit_args(tmp_path)
    assert args[args.index("--vulnerability-service") + 1] == "osv"


def test_extra_arguments_go_to_pip_audit(tmp_path: Path) -> None:
    result = _run(tmp_path, "--", "--ignore-vuln", "PYSEC-2099-1", report=CLEAN)
    assert result.returncode == 0, result.stderr
    assert _audit_args(tmp_path)[-2:] == ["--ignore-vuln", "PYSEC-2099-1"]


@pytest.mark.parametrize("args", [("--bogus",), ("--service", "snyk"), ("--python",)])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert _run(tmp_path, *args, report=CLEAN).returncode == 2


def test_help_describes_the_script(tmp_path: Path) -> None:
    result = _run(tmp_path, "--help")
    assert result.returncode == 0
    assert "var/sbom.cdx.json" in result.stdout


def test_the_sbom_is_cyclonedx_with_infusion_edge_as_its_root(tmp_path: Path) -> None:
    if not CYCLONEDX.exists():
        pytest.skip("cyclonedx-bom is not installed (scripts/supply-chain installs it)")
    result = _run(tmp_path, report=CLEAN, real_sbom=True)
    assert result.returncode == 0, result.stderr
    sbom = json.loads((tmp_path / "out" / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    root = sbom["metadata"]["component"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (root["name"], root["version"]) == (project["name"], project["version"])
    names = {component["name"].lower().replace("_", "-") for component in sbom["components"]}
    assert {"pydantic", "pyserial", "aiomqtt"} <= names


def test_the_script_passes_shellcheck() -> None:
    shellcheck = require_tool("shellcheck", "Debian package shellcheck")
    result = subprocess.run(
        [shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout


def test_security_lint_stays_on_for_the_shipped_code() -> None:
    """`ruff check .` in the test command runs the bandit rules (S) on edge/ and drivers/."""
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert "S" in ruff["lint"]["select"]
    bandit = [rule for rule in ruff["lint"].get("ignore", []) if re.fullmatch(r"S\d*", rule)]
    assert bandit in ([], ["S101"]), "only assert (S101) may be off"
    for pattern, rules in ruff["lint"].get("per-file-ignores", {}).items():
        if "S" in rules:
            assert pattern.startswith(("tests/", "bench/")), pattern

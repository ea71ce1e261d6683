"""The systemd unit: it carries the hardening the deployment relies on, `systemd-analyze`
verifies it and rates its exposure, and the daemon really runs under one of its strictest
settings, MemoryDenyWriteExecute (the kernel's per-process W^X switch stands in for it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.cli import EX_CONFIG
from tests.deploy.support import DEPLOY, ROOT, require_tool
from tests.mosquitto import Mosquitto, free_port

UNIT = DEPLOY / "systemd" / "infusion-edge.service"
INSTALLED_SCRIPT = "/opt/infusion-edge/bin/infusion-edge"
SYSTEMD_WHY = "Debian package systemd"

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1
# Switch W^X on for this process and what it executes, then run Python with the given arguments.
MDWE_EXEC = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_MDWE): {{os.strerror(ctypes.get_errno())}}")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _unit() -> dict[str, dict[str, list[str]]]:
    """Section -> key -> every value given (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], defaultdict(list))
            continue
        key, _, value = line.partition("=")
        current[key.strip()].append(value.strip())
    return sections


def _service() -> dict[str, list[str]]:
    return _unit()["Service"]


def _one(key: str) -> str:
    (value,) = _service()[key]
    return value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "exec"),
        ("SupplementaryGroups", "dialout"),
        ("StateDirectory", "infusion-edge"),
        ("ConfigurationDirectory", "infusion-edge"),
        ("WorkingDirectory", "/var/lib/infusion-edge"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("DevicePolicy", "closed"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("RestrictNamespaces", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallArchitectures", "native"),
    ],
)
def test_unit_sets(key: str, value: str) -> None:
    assert _one(key) == value


def test_runs_as_its_own_user_with_serial_devices_only() -> None:
    service = _service()
    assert _one("User") == "infusion-edge"
    assert _one("Group") == "infusion-edge"
    assert "DynamicUser" not in service or _one("DynamicUser") == "no"
    assert "PrivateDevices" not in service or _one("PrivateDevices") == "no"
    assert sorted(service["DeviceAllow"]) == ["char-ttyACM rw", "char-ttyS rw", "char-ttyUSB rw"]
    assert service["SystemCallFilter"][0] == "@system-service"
    assert all(value.startswith("~") for value in service["SystemCallFilter"][1:])
    # The daemon raises its open-file limit at start (setrlimit is in @resources).
    assert not any("@resources" in value for value in service["SystemCallFilter"])


def test_a_refused_config_is_not_restarted() -> None:
    assert _one("RestartPreventExitStatus") == str(EX_CONFIG)
    assert "ExecStartPre" not in _service(), "a failing pre-check would restart in a loop"


def test_config_and_secrets_come_from_the_configuration_directory() -> None:
    command = _one("ExecStart").split()
    assert command[:3] == [INSTALLED_SCRIPT, "run", "--config"]
    assert command[3].startswith(f"/etc/{_one('ConfigurationDirectory')}/")
    assert _one("EnvironmentFile").lstrip("-").startswith("/etc/infusion-edge/")
    assert _unit()["Install"]["WantedBy"] == ["multi-user.target"]


def _runnable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's console script, which exists."""
    script = Path(sys.executable).with_name("infusion-edge")
    assert script.exists()
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED_SCRIPT, str(script)))
    return copy


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", SYSTEMD_WHY)
    result = subprocess.run(
        [analyze, "verify", str(_runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "infusion-edge.service" not in result.stderr, result.stderr


def test_systemd_analyze_rates_the_exposure_ok(tmp_path: Path) -> None:
    """`systemd-analyze security` scores 0 (locked down) to 10 (exposed); 2.5 or less."""
    analyze = require_tool("systemd-analyze", SYSTEMD_WHY)
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--threshold=25", str(_runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if "unrecognized option" in result.stderr:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "Overall exposure level" in result.stdout


def _mdwe_supported() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    result = subprocess.run(
        [sys.executable, "-c", MDWE_EXEC, "-c", "pass"], capture_output=True, check=False
    )
    return result.returncode == 0


needs_mdwe = pytest.mark.skipif(
    not _mdwe_supported(), reason="the kernel has no PR_SET_MDWE (Linux 6.3 or newer)"
)


@needs_mdwe
def test_the_mdwe_switch_refuses_writable_executable_memory() -> None:
    """The stand-in works: under it, Python cannot map memory both writable and executable."""
    probe = "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)"
    result = subprocess.run(
        [sys.executable, "-c", MDWE_EXEC, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "PermissionError" in result.stderr


@contextlib.asynccontextmanager
async def _process(*args: str, stderr: int) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=ROOT
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _until_running(daemon: asyncio.subprocess.Process, device: str) -> None:
    """Follow the JSON log until the broker is connected and ``device`` is online."""
    assert daemon.stderr is not None
    waiting = {"broker connected", f"{device} online"}
    async for raw in daemon.stderr:
        with contextlib.suppress(ValueError):
            line = json.loads(raw)
            if line.get("msg") == "device connection" and line.get("device") == device:
                waiting.discard(f"{device} {line.get('connection')}")
            waiting.discard(line.get("msg"))
            if not waiting:
                return
    raise AssertionError(f"the daemon ended (exit {await daemon.wait()}) still waiting: {waiting}")


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        status: int = response.status
        return status


@pytest.mark.integration
@needs_mdwe
async def test_the_daemon_runs_without_writable_executable_memory(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """A real session under W^X: a simulated monitor read over TCP, a real broker connected,
    /healthz answered, then a clean exit on SIGTERM."""
    scenario = ROOT / "config" / "scenarios" / "normal-ketamine.yaml"
    simulator = ("-m", "edge.cli", "simulate", "--driver", "intellivue", "--scenario")
    serve = (*simulator, str(scenario), "--tcp", "0")
    async with _process(*serve, stderr=asyncio.subprocess.DEVNULL) as monitor:
        assert monitor.stdout is not None
        port_url = (await asyncio.wait_for(monitor.stdout.readline(), 20)).decode().strip()
        assert port_url.startswith("socket://")
        config, http_port = tmp_path / "edge.yaml", free_port()
        config.write_text(
            json.dumps(
                {
                    "site": "mdwe-test",
                    "edge_id": "edge-1",
                    "log": {"level": "INFO", "format": "json"},
                    "mqtt": {"url": mosquitto.url},
                    "http": {"bind": "127.0.0.1", "port": http_port},
                    "storage": {
                        "outbox_path": str(tmp_path / "outbox.sqlite"),
                        "alarm_log_path": str(tmp_path / "alarm-log.sqlite"),
                    },
                    "beds": {"chair-1": {}},
                    "devices": [
                        {
                            "id": "monitor-1",
                            "bed": "chair-1",
                            "driver": "intellivue",
                            "port": port_url,
                        }
                    ],
                }
            )
        )
        run = ("-m", "edge.cli", "run", "--config", str(config))
        async with _process("-c", MDWE_EXEC, *run, stderr=asyncio.subprocess.PIPE) as daemon:
            await asyncio.wait_for(_until_running(daemon, "monitor-1"), 40)
            assert daemon.stderr is not None
            drain = asyncio.create_task(daemon.stderr.read(), name="daemon-stderr")
            healthz = f"http://127.0.0.1:{http_port}/healthz"
            assert await asyncio.to_thread(_get, healthz) == 200
            daemon.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(daemon.wait(), 20) == 0
            await drain
        monitor.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(monitor.wait(), 10) == 0


def test_reload_is_sighup_and_the_control_socket_has_a_runtime_directory() -> None:
    """``systemctl reload`` sends SIGHUP (audited as a signal); the daemon puts its control
    socket in ``$RUNTIME_DIRECTORY``, which only the service's group may enter."""
    assert _one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert _one("RuntimeDirectory") == "infusion-edge"
    assert _one("RuntimeDirectoryMode") == "0750"

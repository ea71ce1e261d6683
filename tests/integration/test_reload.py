"""Live reconfiguration end to end: the daemon as a subprocess, monitors on real ptys, a real
Mosquitto, ``infusion-edge reload`` over the control socket and SIGHUP."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drivers.textline.codec import encode_vitals
from edge.alarms.log import AlarmLog
from edge.reload.control import request_reload
from tests.edge.publish.broker_client import Subscriber, subscribed
from tests.integration.daemon_process import REPO_ROOT, running_daemon
from tests.integration.test_daemon_alarm_refresh import retained
from tests.integration.test_daemon_pty import Feeder, feeding, textline_device, write_config
from tests.mosquitto import Mosquitto
from tests.ptys import PtyDevice

pytestmark = pytest.mark.integration

ROOT = "infusion-edge/v1/test-site/#"
CONFIG_LOG = "infusion-edge/v1/test-site/config-log"
ALARM_LOG = "infusion-edge/v1/test-site/alarm-log"
EDGE_CONFIG = "infusion-edge/v1/test-site/edges/test-edge/config"


def vitals(hr: float = 80, spo2: float = 97) -> bytes:
    return encode_vitals({"SBP": 120, "DBP": 80, "HR": hr, "SPO2": spo2, "RR": 14}).to_bytes()


@pytest.fixture
def control_socket() -> Iterator[Path]:
    """A control socket path short enough for AF_UNIX (pytest's tmp_path may not be)."""
    directory = Path(tempfile.mkdtemp(prefix="ie-", dir="/tmp"))
    yield directory / "control.sock"
    shutil.rmtree(directory, ignore_errors=True)


def configure(path: Path, devices: list[dict[str, Any]], **more: Any) -> None:
    """Rewrite the config at ``path`` (made by write_config) with ``devices`` and ``more``."""
    config = yaml.safe_load(path.read_text())
    config["devices"] = devices
    config.update(more)
    path.write_text(yaml.safe_dump(config))


async def reload(socket: Path) -> dict[str, Any]:
    return await asyncio.to_thread(request_reload, socket)


async def reload_command(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge.cli",
        "reload",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def log_entries(subscriber: Subscriber, topic: str) -> list[dict[str, Any]]:
    return [m.json() for m in subscriber.messages if m.topic == topic and m.payload]


def alarms(subscriber: Subscriber, rule: str, device: str) -> list[dict[str, Any]]:
    return [
        e
        for e in log_entries(subscriber, ALARM_LOG)
        if e["alarm"]["rule"] == rule and e["alarm"]["device_id"] == device
    ]


HR_NOW = {"hr_abnormal": {"medium_delay_s": 0, "high_delay_s": 0, "clear_hold_s": 0}}


async def test_a_lowered_limit_raises_at_the_next_reading_audited_and_a_bad_config_changes_nothing(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto, control_socket: Path
) -> None:
    devices = [textline_device("monitor-1", monitor.path)]
    control = {"socket": str(control_socket)}
    config = write_config(tmp_path, devices, mosquitto.url, control=control, alarms=HR_NOW)
    feeder = Feeder(monitor, vitals(hr=110))  # under the medium limit (120 /min)
    async with (
        subscribed(mosquitto.port, ROOT) as subscriber,
        feeding(feeder),
        running_daemon(config) as edge,
    ):
        await edge.wait_for(lambda e: e.get("msg") == "reading")
        await subscriber.wait_until(lambda: bool(subscriber.on("/edges/test-edge/config")))
        first = subscriber.on("/edges/test-edge/config")[-1].json()
        limits = first["beds"]["bed-1"]["limits"]
        assert limits["hr_abnormal"]["medium_above"] == 120
        await asyncio.sleep(1.0)
        assert not alarms(subscriber, "hr_abnormal", "monitor-1")

        lowered = {"hr_abnormal": {**HR_NOW["hr_abnormal"], "medium_above": 100}}
        configure(config, devices, alarms=lowered)
        code, out, err = await reload_command("--config", str(config))
        assert code == 0, err
        assert "limit bed-1 hr_abnormal.medium_above: 120.0 -> 100.0" in out
        await subscriber.wait_until(
            lambda: bool(alarms(subscriber, "hr_abnormal", "monitor-1")), 10
        )
        raised = alarms(subscriber, "hr_abnormal", "monitor-1")[0]
        assert raised["transition"] == "raised"
        assert raised["alarm"]["priority"] == "medium"
        assert raised["alarm"]["limit"] == 100

        await subscriber.wait_until(lambda: bool(log_entries(subscriber, CONFIG_LOG)))
        entry = log_entries(subscriber, CONFIG_LOG)[0]
        assert entry["schema"] == "infusion-edge.config-log/1"
        assert entry["edge_id"] == "test-edge"
        assert entry["seq"] > 0
        assert entry["by"]["means"] == "control-socket"
        assert entry["by"]["user"]  # the OS user from SO_PEERCRED
        assert entry["changes"]["limits"] == [
            {
                "bed": "bed-1",
                "limit": "hr_abnormal.medium_above",
                "before": 120.0,
                "after": 100.0,
            }
        ]
        assert entry["previous_hash"] == first["config_hash"] != entry["config_hash"]
        await subscriber.wait_until(
            lambda: (
                subscriber.on("/edges/test-edge/config")[-1].json()["config_hash"]
                == entry["config_hash"]
            )
        )
        state = subscriber.on("/edges/test-edge/config")[-1].json()
        assert state["beds"]["bed-1"]["limits"]["hr_abnormal"]["medium_above"] == 100
        assert state["beds"]["bed-1"]["since"] > first["beds"]["bed-1"]["since"]

        good = config.read_text()  # invalid: unknown driver, a limit chain broken
        broken = yaml.safe_load(good)
        broken["devices"][0]["driver"] = "no-such-driver"
        broken["alarms"]["hr_abnormal"]["medium_above"] = 200
        broken["mqtt"]["keepalive_s"] = 60  # would need a restart: not even that applies
        config.write_text(yaml.safe_dump(broken))
        code, out, err = await reload_command("--socket", str(control_socket))
        assert code == 1
        assert "devices[0].driver" in err
        assert "medium_above" in err
        assert "reload rejected" in err
        await edge.wait_for(
            lambda e: e.get("msg") == "config reload rejected; the running config stays"
        )
        config.write_text(good)
        assert (await reload(control_socket))["result"] == "unchanged"

        configure(config, devices, alarms=HR_NOW)  # back to 120, by SIGHUP
        edge.signal(signal.SIGHUP)
        await subscriber.wait_until(lambda: len(log_entries(subscriber, CONFIG_LOG)) >= 2, 10)
        by_signal = log_entries(subscriber, CONFIG_LOG)[1]
        assert by_signal["by"] == {"means": "signal", "user": None, "uid": None}
        assert by_signal["changes"]["limits"][0]["after"] == 120.0
        await subscriber.wait_until(
            lambda: any(
                a["transition"] == "ended" for a in alarms(subscriber, "hr_abnormal", "monitor-1")
            ),
            10,
        )
        edge.signal(signal.SIGTERM)
        assert await edge.wait() == 0, edge.output()
    with AlarmLog(tmp_path / "alarm-log.sqlite") as stored:
        records = stored.config_changes()
    assert [r.by.means for r in records] == ["control-socket", "signal"]
    assert records[0].changes.limits[0].after == 100.0


def telemetry_seqs(subscriber: Subscriber, device: str) -> list[int]:
    return [m.json()["seq"] for m in subscriber.on(f"/devices/{device}/telemetry")]


async def test_devices_added_and_removed_live_and_an_unchanged_link_kept_across_ten_reloads(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto, control_socket: Path
) -> None:
    second = PtyDevice(tmp_path / "ttySECOND")
    kept = [textline_device("monitor-1", monitor.path)]
    added = {
        **textline_device("monitor-2", second.path, period_s=0.2, timeout_s=2),
        "bed": "bed-2",
    }
    spo2_now = {"spo2_low": {"high_delay_s": 0, "medium_delay_s": 0}}
    more: dict[str, Any] = {
        "control": {"socket": str(control_socket)},
        "beds": {"bed-1": {}, "bed-2": {}},
        "alarms": spo2_now,
    }
    config = write_config(tmp_path, kept, mosquitto.url, **more)
    steady, desaturated = Feeder(monitor, vitals()), Feeder(second, vitals(spo2=80))
    try:
        async with subscribed(mosquitto.port, ROOT) as subscriber, feeding(steady):
            async with running_daemon(config) as edge:
                await subscriber.wait_until(
                    lambda: len(telemetry_seqs(subscriber, "monitor-1")) >= 3
                )

                configure(config, [*kept, added])  # added live: starts publishing
                async with feeding(desaturated):
                    answer = await reload(control_socket)
                    assert answer["result"] == "applied", answer
                    assert "device added: monitor-2" in answer["changes"]
                    await subscriber.wait_until(
                        lambda: bool(telemetry_seqs(subscriber, "monitor-2")), 10
                    )
                    await subscriber.wait_until(
                        lambda: bool(alarms(subscriber, "spo2_low", "monitor-2")), 10
                    )
                    assert (
                        alarms(subscriber, "spo2_low", "monitor-2")[0]["alarm"]["priority"]
                        == "high"
                    )
                # silent: device_offline (technical) raised after its 2 s timeout
                await subscriber.wait_until(
                    lambda: bool(alarms(subscriber, "device_offline", "monitor-2")), 10
                )

                configure(config, kept)  # removed live
                answer = await reload(control_socket)
                assert "device removed: monitor-2" in answer["changes"]
                await subscriber.wait_until(
                    lambda: any(
                        a["transition"] == "ended"
                        for a in alarms(subscriber, "device_offline", "monitor-2")
                    ),
                    10,
                )
                ended = alarms(subscriber, "device_offline", "monitor-2")[-1]["alarm"]
                assert ended["state"] == "ended"
                assert ended["ended_reason"] == "device removed"
                await subscriber.wait_until(
                    lambda: (
                        alarms(subscriber, "spo2_low", "monitor-2")[-1]["transition"] == "latched"
                    ),
                    10,
                )  # a high physiological alarm stays until a nurse acknowledges it
                spo2_latched = alarms(subscriber, "spo2_low", "monitor-2")[-1]["alarm"]
                assert spo2_latched["state"] == "latched"
                removal = log_entries(subscriber, CONFIG_LOG)[-1]
                assert removal["changes"]["devices_removed"] == ["monitor-2"]
                # its retained state is cleared, so dashboards forget it on bed-2
                removed_state = f"{ROOT[:-1]}beds/bed-2/devices/monitor-2/state"
                await subscriber.wait_until(
                    lambda: any(
                        m.topic == removed_state and not m.payload for m in subscriber.messages
                    ),
                    10,
                )
                marker = len(subscriber.messages)

                for n in range(10):  # reloads that leave monitor-1's link alone
                    limit = 88 + n % 2
                    configure(
                        config,
                        kept,
                        alarms={"spo2_low": {**spo2_now["spo2_low"], "medium_below": limit}},
                    )
                    assert (await reload(control_socket))["result"] == "applied"
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)
                count = len(telemetry_seqs(subscriber, "monitor-1"))
                await subscriber.wait_until(
                    lambda: len(telemetry_seqs(subscriber, "monitor-1")) > count + 3
                )
                edge.signal(signal.SIGTERM)
                assert await edge.wait() == 0, edge.output()
            seqs = [
                m.json()["seq"]
                for m in subscriber.messages[marker:]
                if m.payload and m.json().get("seq")
            ]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (
                "a message of the stream is missing"
            )
            after = subscriber.messages[marker:]
            states = [
                m.json()
                for m in after
                if m.topic.endswith("/devices/monitor-1/state") and m.payload
            ]
            assert all(s["connection"] == "online" and s["reconnects"] == 0 for s in states)
            assert not alarms(subscriber, "device_offline", "monitor-1")
            opened = [
                line
                for line in edge.lines
                if line.get("msg") == "link open" and line.get("session") == "device[monitor-1]"
            ]
            assert len(opened) == 1, "monitor-1's link was reopened"
            assert len([m for m in after if m.topic == CONFIG_LOG]) == 10
            states_of_removed = [m for m in subscriber.messages if m.topic == removed_state]
            assert not states_of_removed[-1].payload  # the clear came after its last state
    finally:
        second.close()


async def test_a_device_whose_port_changed_is_reopened_alone_without_an_offline(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto, control_socket: Path
) -> None:
    old_port, new_port = PtyDevice(tmp_path / "ttyOLD"), PtyDevice(tmp_path / "ttyNEW")
    kept = textline_device("monitor-1", monitor.path)
    moved = {**textline_device("monitor-2", old_port.path), "bed": "bed-2"}
    more: dict[str, Any] = {
        "control": {"socket": str(control_socket)},
        "beds": {"bed-1": {}, "bed-2": {}},
    }
    config = write_config(tmp_path, [kept, moved], mosquitto.url, **more)
    feeders = (
        Feeder(monitor, vitals()),
        Feeder(old_port, vitals(hr=70)),
        Feeder(new_port, vitals(hr=77)),  # the same monitor, on its new adapter
    )

    def hr_of_monitor_2() -> list[float]:
        return [
            o["value"]
            for m in subscriber.on("/devices/monitor-2/telemetry")
            for o in m.json()["observations"]
            if o["code"] == "MDC_ECG_HEART_RATE"
        ]

    try:
        async with (
            subscribed(mosquitto.port, ROOT) as subscriber,
            feeding(*feeders),
            running_daemon(config) as edge,
        ):
            await subscriber.wait_until(lambda: 70 in hr_of_monitor_2())
            configure(config, [kept, {**moved, "port": str(new_port.path)}])
            answer = await reload(control_socket)
            assert answer["changes"] == ["device changed: monitor-2 (port; link reopened)"]
            await subscriber.wait_until(lambda: 77 in hr_of_monitor_2(), 10)
            await asyncio.sleep(1.0)
            entry = log_entries(subscriber, CONFIG_LOG)[-1]
            assert entry["changes"]["devices_changed"] == [
                {"device_id": "monitor-2", "bed": "bed-2", "fields": ["port"]}
            ]
            edge.signal(signal.SIGTERM)
            assert await edge.wait() == 0, edge.output()
        opened = [line.get("session") for line in edge.lines if line.get("msg") == "link open"]
        assert opened.count("device[monitor-1]") == 1  # left alone
        assert opened.count("device[monitor-2]") == 2  # reopened, on its new port
        assert not alarms(subscriber, "device_offline", "monitor-2")
        assert not alarms(subscriber, "device_offline", "monitor-1")
    finally:
        old_port.close()
        new_port.close()


async def test_a_removed_bed_closes_its_session_and_leaves_none_retained_even_after_a_restart(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto, control_socket: Path
) -> None:
    """A biomedical engineer removes a chair: its treatment session closes, its retained
    session is cleared, and neither the alarm refresh nor a restart publishes it again, so no
    dashboard keeps a phantom chair. The other chair keeps its session."""
    second = PtyDevice(tmp_path / "ttySECOND")
    kept = [textline_device("monitor-1", monitor.path)]
    removed = {**textline_device("monitor-2", second.path), "bed": "bed-2"}
    config = write_config(
        tmp_path,
        [*kept, removed],
        mosquitto.url,
        control={"socket": str(control_socket)},
        beds={"bed-1": {}, "bed-2": {}},
    )
    settings = yaml.safe_load(config.read_text())
    settings["mqtt"]["alarm_refresh_s"] = 2.0
    config.write_text(yaml.safe_dump(settings))
    gone, stays = f"{ROOT[:-1]}beds/bed-2/session", f"{ROOT[:-1]}beds/bed-1/session"
    digest = f"{ROOT[:-1]}edges/test-edge/alarms"
    try:
        async with (
            subscribed(mosquitto.port, ROOT) as subscriber,
            feeding(Feeder(monitor, vitals()), Feeder(second, vitals())),
        ):
            async with running_daemon(config) as edge:
                await subscriber.wait_until(  # the first cuff of each chair: a session each
                    lambda: bool(subscriber.on(gone)) and bool(subscriber.on(stays))
                )
                configure(config, kept, beds={"bed-1": {}})
                answer = await reload(control_socket)
                assert answer["result"] == "applied", answer
                assert "bed removed: bed-2" in answer["changes"]
                await subscriber.wait_until(lambda: not subscriber.on(gone)[-1].payload, 10)
                closing = [m.json() for m in subscriber.on(gone) if m.payload][-1]
                assert closing["phase"] == "closed"
                assert closing["closed_at"] is not None
                marker = len(subscriber.messages)
                await subscriber.wait_until(  # two refreshes since
                    lambda: (
                        len([m for m in subscriber.messages[marker:] if m.topic == digest]) >= 2
                    ),
                    10,
                )
                assert not [m for m in subscriber.messages[marker:] if m.topic == gone]
                now = await retained(mosquitto.port)
                assert gone not in now
                assert now[stays]["phase"] == "baseline"
                edge.signal(signal.SIGTERM)
                assert await edge.wait() == 0, edge.output()
            marker = len(subscriber.messages)
            async with running_daemon(config) as edge:  # restarted, on the same alarm log
                await subscriber.wait_until(
                    lambda: any(m.topic == stays for m in subscriber.messages[marker:]), 15
                )  # the first refresh after the restart
                assert not [m for m in subscriber.messages[marker:] if m.topic == gone]
                assert gone not in await retained(mosquitto.port)
                edge.signal(signal.SIGTERM)
                assert await edge.wait() == 0, edge.output()
    finally:
        second.close()

"""The compose stack's broker settings on a real Mosquitto: deploy/mosquitto's config, password
file and ACL, with only the container paths and the port changed. Anonymous clients and wrong
passwords are refused; the edge writes every topic of the contract (edge/publish/topics.py) and
reads acknowledgements; a dashboard reads those topics and may publish nothing but
acknowledgements (MQTT 5 reason 0x87): not even an empty retained message erasing an alarm."""

from __future__ import annotations

import getpass
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.publish.topics import Topics
from tests.deploy.support import DEPLOY, ROOT, load_yaml, require_tool
from tests.mosquitto import find_mosquitto, free_port

pytestmark = pytest.mark.integration

MOSQUITTO = DEPLOY / "mosquitto"
PREFIX = "infusion-edge/v1/compose-clinic"
TELEMETRY = f"{PREFIX}/beds/chair-1/devices/pump-1/telemetry"
ALARM = f"{PREFIX}/beds/chair-1/alarms/chair-1.pump-1.hypertension.20261124T201500000Z"
ACK = f"{ALARM}/ack"
NOT_AUTHORIZED = 0x87
DEMO_PASSWORDS = {"edge": "edge-demo-only", "dashboard": "dashboard-demo-only"}


def _test_config(directory: Path, port: int) -> Path:
    """deploy/mosquitto/mosquitto.conf with the container's paths and port replaced."""
    replace = {
        "listener": f"listener {port} 127.0.0.1",
        "password_file": f"password_file {MOSQUITTO / 'passwd'}",
        "acl_file": f"acl_file {MOSQUITTO / 'acl'}",
        "persistence_location": f"persistence_location {directory}/",
        "log_dest": f"log_dest file {directory / 'mosquitto.log'}",
    }
    lines, seen = [], set()
    for line in (MOSQUITTO / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in replace:
            seen.add(key)
            line = replace[key]
        lines.append(line)
    assert seen == set(replace), f"mosquitto.conf lacks {set(replace) - seen}"
    # As root, mosquitto would switch to the user "mosquitto", which cannot write here.
    lines.append(f"user {getpass.getuser()}")
    path = directory / "mosquitto.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def broker_port(tmp_path: Path) -> Iterator[int]:
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (scripts/setup installs Debian's mosquitto)")
    port = free_port()
    config = _test_config(tmp_path, port)
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while (
            not (tmp_path / "mosquitto.log").exists()
            or "running" not in (tmp_path / "mosquitto.log").read_text()
        ):
            assert process.poll() is None, "mosquitto exited at start"
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Client:
    """A paho MQTT 5 client on its own network thread, recording what the broker answers."""

    port: int
    user: str | None
    password: str | None = None
    connack: ReasonCode | None = None
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: list[ReasonCode] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    payloads: dict[str, bytes] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _client: mqtt.Client | None = None

    def __enter__(self) -> Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if self.user is not None:
            client.username_pw_set(self.user, self.password)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        self._client = client
        self._wait(lambda: self.connack is not None)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._client is not None
        self._client.disconnect()
        self._client.loop_stop()

    def _wait(self, done: Any) -> None:
        with self._changed:
            assert self._changed.wait_for(done, timeout=5), "no answer from the broker"

    def _note(self, change: Any) -> None:
        with self._changed:
            change()
            self._changed.notify_all()

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        self._note(lambda: setattr(self, "connack", code))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        self._note(lambda: self.pubacks.__setitem__(mid, code))

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _m: int, codes: list[ReasonCode], _p: Properties | None
    ) -> None:
        self._note(lambda: self.subacks.extend(codes))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        def note() -> None:
            self.received.append(message.topic)
            self.payloads[message.topic] = bytes(message.payload)

        self._note(note)

    @property
    def connected(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        assert self._client is not None
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self._wait(lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid].value

    def subscribe(self, topic: str) -> int:
        """Subscribe at QoS 1 and return the SUBACK's reason code."""
        assert self._client is not None
        count = len(self.subacks)
        self._client.subscribe(topic, qos=1)
        self._wait(lambda: len(self.subacks) > count)
        return self.subacks[-1].value

    def wait_for(self, topic: str) -> None:
        self._wait(lambda: topic in self.received)


def test_anonymous_clients_and_wrong_passwords_are_refused(broker_port: int) -> None:
    with Client(broker_port, None) as anonymous:
        assert not anonymous.connected
    with Client(broker_port, "edge", "dashboard-demo-only") as impostor:
        assert not impostor.connected
    with Client(broker_port, "edge", DEMO_PASSWORDS["edge"]) as edge:
        assert edge.connected


def test_the_edge_publishes_under_the_prefix_and_the_dashboard_reads_it(broker_port: int) -> None:
    with (
        Client(broker_port, "dashboard", DEMO_PASSWORDS["dashboard"]) as dashboard,
        Client(broker_port, "edge", DEMO_PASSWORDS["edge"]) as edge,
    ):
        assert dashboard.subscribe("infusion-edge/v1/#") < 0x80
        assert edge.publish(TELEMETRY) == 0
        dashboard.wait_for(TELEMETRY)
        assert edge.publish("elsewhere/telemetry") == NOT_AUTHORIZED


def test_the_dashboard_may_only_acknowledge(broker_port: int) -> None:
    with (
        Client(broker_port, "dashboard", DEMO_PASSWORDS["dashboard"]) as dashboard,
        Client(broker_port, "edge", DEMO_PASSWORDS["edge"]) as edge,
    ):
        assert edge.subscribe(f"{PREFIX}/beds/+/alarms/+/ack") < 0x80
        assert dashboard.subscribe("infusion-edge/v1/#") < 0x80
        assert edge.publish(ALARM, b'{"state": "active"}', retain=True) == 0
        dashboard.wait_for(ALARM)
        assert dashboard.publish(TELEMETRY) == NOT_AUTHORIZED
        assert dashboard.publish(ALARM, b"", retain=True) == NOT_AUTHORIZED
        assert dashboard.publish(ALARM, b'{"state": "ended"}', retain=True) == NOT_AUTHORIZED
        assert dashboard.publish(ACK) == 0
        edge.wait_for(ACK)
    with Client(broker_port, "dashboard", DEMO_PASSWORDS["dashboard"]) as late:
        assert late.subscribe(f"{PREFIX}/beds/+/alarms/+") < 0x80
        late.wait_for(ALARM)  # the retained alarm survived the attempts to erase it
        assert late.payloads[ALARM] == b'{"state": "active"}'


def contract_topics() -> dict[str, str]:
    """Every topic of edge/publish/topics.py (method name -> a topic of the compose site),
    so a topic added to the contract is checked against the ACL too."""
    topics = Topics("infusion-edge/v1", "compose-clinic")
    out = {}
    for name, method in vars(Topics).items():
        if name.startswith("_") or name in ("parse_ack", "ack_filter") or not callable(method):
            continue
        count = method.__code__.co_argcount - 1
        out[name] = method(topics, *[f"x-{i}" for i in range(count)])
    return out


def test_each_role_has_exactly_the_topics_of_the_contract_it_needs(broker_port: int) -> None:
    topics = contract_topics()
    assert {"status", "telemetry", "device_state", "alarm", "alarm_log", "session"} < set(topics)
    commands = {topics.pop("alarm_ack")}
    with (
        Client(broker_port, "dashboard", DEMO_PASSWORDS["dashboard"]) as dashboard,
        Client(broker_port, "edge", DEMO_PASSWORDS["edge"]) as edge,
    ):
        assert dashboard.subscribe("infusion-edge/v1/#") < 0x80
        assert edge.subscribe("infusion-edge/v1/#") < 0x80  # its built-in dashboard
        for name, topic in topics.items():
            assert edge.publish(topic) == 0, name
            dashboard.wait_for(topic)
            edge.wait_for(topic)
            assert dashboard.publish(topic) == NOT_AUTHORIZED, name
            assert dashboard.publish(topic, b"", retain=True) == NOT_AUTHORIZED, name
        for topic in commands:
            assert dashboard.publish(topic) == 0
            edge.wait_for(topic)
            assert edge.publish(topic) == 0  # the acknowledgements of its built-in dashboard
        assert edge.publish("elsewhere/telemetry") == NOT_AUTHORIZED
        assert edge.publish(f"{PREFIX}/beds/chair-1/other") == NOT_AUTHORIZED


def test_the_edge_reads_the_prefix_for_its_own_dashboard(broker_port: int) -> None:
    with Client(broker_port, "edge", DEMO_PASSWORDS["edge"]) as edge:
        assert edge.subscribe("infusion-edge/v1/#") < 0x80
        assert edge.publish(TELEMETRY) == 0
        edge.wait_for(TELEMETRY)


def test_the_compose_healthcheck_passes_against_the_broker(broker_port: int) -> None:
    """docker-compose.yml's broker healthcheck, as the container's shell would run it."""
    service = load_yaml(ROOT / "docker-compose.yml")["services"]["mosquitto"]
    kind, command = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    require_tool("mosquitto_sub", "Debian package mosquitto-clients")
    shell_command = command.replace("$$", "$").replace("-p 1883", f"-p {broker_port}")
    env = {**os.environ, **service["environment"]}
    result = subprocess.run(
        ["sh", "-c", shell_command], env=env, capture_output=True, timeout=20, check=False
    )
    assert result.returncode == 0, result.stderr
    env["MQTT_HEALTHCHECK_PASSWORD"] = "wrong"
    refused = subprocess.run(
        ["sh", "-c", shell_command], env=env, capture_output=True, timeout=20, check=False
    )
    assert refused.returncode != 0

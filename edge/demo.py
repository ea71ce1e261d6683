"""``infusion-edge demo``: a simulated clinic, a broker and the daemon, on loopback.

Every device of the demo config on ``socket://127.0.0.1:PORT`` (or ``localhost``) gets a
protocol simulator (a B. Braun ComDevice, a Philips IntelliVue or GE monitor, a Masimo
oximeter) driven by its chair's scenario, started part-way so that something happens within
minutes: chair 1 is a hypertensive responder (medium hypertension at once, high after the next
cuff reading), chair 2's pump is programmed ten times too fast (setpoint mismatch when it
starts), chairs 3 and 4 run normal sessions, chair 5 (a GE monitor and a Masimo oximeter)
desaturates (``spo2_low`` medium about 45 s after the start, high about 2 min after, from both
devices). The simulators run at real speed: scenario time and wall time agree, so rates stay
true.

The demo always starts the same way: each simulator listens on a port chosen free at start
(the config's port numbers are for ``infusion-edge run`` with simulators started by hand), the
outbox and the alarm log live in a fresh temporary folder (a second run after Ctrl-C starts
clean, with nothing restored from the first), and the broker is ``--broker``, else the
config's ``mqtt.url`` when ``INFUSION_EDGE_MQTT__URL`` sets it, else an embedded Mosquitto on a
free port. Everything is bound before the banner is printed, so the banner shows the real
ports; a port that cannot be bound is a :class:`~edge.startup.StartupError` (one line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers.sim.devices import build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario
from drivers.sim.serve import TcpPort, serve
from drivers.sim.timeline import Timeline
from edge.bundled import bundled
from edge.config import Config, DeviceConfig
from edge.daemon import Daemon
from edge.embedded_broker import BrokerUnavailableError, EmbeddedBroker
from edge.startup import StartupError, bind_error
from edge.tasks import run_until_first_exits
from edge.web import listen

__all__ = ["DEMO_SCENARIOS", "broker_from_environment", "run_demo"]

log = logging.getLogger(__name__)

SCENARIO_DIR = bundled("scenarios")
LOOPBACK = ("127.0.0.1", "localhost")
MQTT_URL_VARIABLE = "INFUSION_EDGE_MQTT__URL"
SIMULATORS_READY_S = 10.0


@dataclass(frozen=True, slots=True)
class DemoBed:
    """The scenario a demo chair runs, from ``start_min`` scenario minutes on."""

    scenario: str
    start_min: float


DEMO_SCENARIOS: dict[str, DemoBed] = {
    "chair-1": DemoBed("hypertensive-responder", 36.0),
    "chair-2": DemoBed("pump-ten-times-too-fast", 4.8),
    "chair-3": DemoBed("normal-ketamine", 0.0),
    "chair-4": DemoBed("normal-ketamine", 20.0),
    "chair-5": DemoBed("desaturation", 19.5),
}


def broker_from_environment(config: Config, environ: Mapping[str, str]) -> str | None:
    """The config's ``mqtt.url`` when the environment sets it (``INFUSION_EDGE_MQTT__URL``,
    any letter case, as the config loader reads it), else None (the demo embeds a broker)."""
    if any(name.upper() == MQTT_URL_VARIABLE for name in environ):
        return config.mqtt.url
    return None


def _simulation(device: DeviceConfig) -> Simulation:
    bed = DEMO_SCENARIOS.get(device.bed, DemoBed("normal-ketamine", 0.0))
    timeline = Timeline(load_scenario(SCENARIO_DIR / f"{bed.scenario}.yaml"))
    slots = [device.address] if device.address else []
    return Simulation(
        build_device(device.driver, timeline, slots), timeline, start_s=bed.start_min * 60
    )


def _os_error_in(exc: BaseException) -> OSError | None:
    """The first OSError in ``exc`` or in the exception groups it nests."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _os_error_in(inner)) is not None:
                return found
    return None


class _Simulators:
    """A simulator per loopback device, each on a free port; ``urls`` once all listen."""

    def __init__(self, config: Config) -> None:
        self.devices = [
            device
            for device in config.devices
            if (url := urllib.parse.urlsplit(device.port)).scheme == "socket"
            and url.hostname in LOOPBACK
        ]
        self.urls: dict[str, str] = {}
        self.ready = asyncio.Event()

    def _announce(self, device: DeviceConfig, url: str) -> None:
        self.urls[device.id] = url
        if len(self.urls) == len(self.devices):
            self.ready.set()

    async def _serve(self, device: DeviceConfig) -> None:
        port = TcpPort(urllib.parse.urlsplit(device.port).hostname or "127.0.0.1", 0)
        try:
            await serve(_simulation(device), port, lambda url: self._announce(device, url))
        except (OSError, BaseExceptionGroup) as exc:
            error = _os_error_in(exc)
            if error is None:
                raise
            raise bind_error(
                f"the simulator of {device.id}",
                port.host,
                port.port,
                error,
                "the demo picks a free port for each: free some ports or open files",
            ) from None

    async def run(self) -> None:
        if not self.devices:
            self.ready.set()
            await asyncio.Event().wait()  # nothing to serve; run until cancelled
        jobs = [(f"sim[{device.id}]", self._serve(device)) for device in self.devices]
        log.info("demo simulators running", extra={"count": len(jobs)})
        await run_until_first_exits(*jobs)

    def config_for(self, config: Config) -> Config:
        """``config`` with each simulated device's port where its simulator listens."""
        devices = [
            device.model_copy(update={"port": self.urls[device.id]})
            if device.id in self.urls
            else device
            for device in config.devices
        ]
        return config.model_copy(update={"devices": devices})


def _with_state(config: Config, folder: Path) -> Config:
    """``config`` with its outbox and alarm log in ``folder`` (a fresh one each run)."""
    storage = config.storage.model_copy(
        update={
            "outbox_path": folder / "outbox.sqlite",
            "alarm_log_path": folder / "alarm-log.sqlite",
        }
    )
    return config.model_copy(update={"storage": storage})


def _bind_http(config: Config, http_port: int | None) -> tuple[socket.socket | None, Config]:
    """The dashboard's listening socket (``http_port`` 0: a free port) and the config with
    the port it got."""
    if not config.http.enabled:
        return None, config
    bind = config.http.bind
    port = config.http.port if http_port is None else http_port
    try:
        sock = listen(bind, port)
    except OSError as exc:
        change = "choose another with --http-port PORT (0: any free port)"
        raise bind_error("the dashboard's HTTP port", bind, port, exc, change) from None
    http = config.http.model_copy(update={"port": sock.getsockname()[1]})
    return sock, config.model_copy(update={"http": http})


@contextlib.asynccontextmanager
async def _broker(config: Config, broker_url: str | None) -> AsyncIterator[Config]:
    if broker_url is not None:
        yield config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"url": broker_url})})
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            broker = await stack.enter_async_context(EmbeddedBroker())
        except BrokerUnavailableError as exc:
            raise StartupError(f"the embedded MQTT broker: {exc}") from None
        log.info("embedded broker running", extra={"url": broker.url})
        yield config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"url": broker.url})})


async def run_demo(
    config: Config, broker_url: str | None = None, http_port: int | None = None
) -> None:
    """Run the demo until SIGINT or SIGTERM; ``broker_url`` replaces the embedded broker,
    ``http_port`` the config's ``http.port``. Raises StartupError when a port is taken."""
    with tempfile.TemporaryDirectory(prefix="infusion-edge-demo-") as state:
        http_socket, config = _bind_http(_with_state(config, Path(state)), http_port)
        try:
            async with _broker(config, broker_url) as demo_config:
                simulators = _Simulators(demo_config)
                await run_until_first_exits(
                    ("demo.simulators", simulators.run()),
                    ("demo.daemon", _run_daemon(demo_config, simulators, http_socket)),
                )
        finally:
            if http_socket is not None:
                http_socket.close()


async def _run_daemon(
    config: Config, simulators: _Simulators, http_socket: socket.socket | None
) -> None:
    """Once every simulator listens: print where to look and run the daemon."""
    async with asyncio.timeout(SIMULATORS_READY_S):
        await simulators.ready.wait()
    config = simulators.config_for(config)
    daemon = Daemon(config, http_socket=http_socket)
    _print_where_to_look(config, simulators.urls)
    await daemon.run()


def _print_where_to_look(config: Config, simulated: Mapping[str, str]) -> None:
    root = f"{config.mqtt.topic_prefix}/{config.site}/#"
    broker = urllib.parse.urlsplit(config.mqtt.url)
    lines = [
        "infusion-edge demo: 5 chairs, simulated B. Braun pumps, Philips and GE monitors and a "
        "Masimo oximeter",
        f"  MQTT broker   {config.mqtt.url}   (mosquitto_sub -h {broker.hostname} -p "
        f"{broker.port or 1883} -t '{root}' -v)",
    ]
    if config.http.enabled:
        base = f"http://{config.http.bind}:{config.http.port}"
        lines += [
            f"  dashboard     {base}/   (acknowledge as nurse.demo / demo-nurse)",
            f"  metrics       {base}/metrics",
        ]
    by_bed: dict[str, list[str]] = {}
    for device in config.devices:
        if device.id in simulated:
            where = urllib.parse.urlsplit(simulated[device.id]).netloc
            by_bed.setdefault(device.bed, []).append(f"{device.id} {where}")
    for index, (bed, devices) in enumerate(by_bed.items()):
        label = "simulators" if index == 0 else ""
        lines.append(f"  {label:13} {bed}: {', '.join(devices)}")
    lines += [
        f"  state         {os.path.dirname(config.storage.outbox_path)} (fresh at each start)",
        "  chair 1: hypertensive responder; chair 2: pump ten times too fast; 3, 4: normal; "
        "5 (GE monitor, Masimo oximeter): desaturation",
        "  Ctrl-C stops everything cleanly.",
    ]
    print("\n".join(lines), flush=True)

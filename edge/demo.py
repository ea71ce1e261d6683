"""``infusion-edge demo``: a simulated clinic, a broker and the daemon, on loopback.

Every device of the demo config on ``socket://127.0.0.1:PORT`` gets a protocol simulator
there (a B. Braun ComDevice, a Philips IntelliVue or GE monitor, a Masimo oximeter) driven by
its chair's scenario, started part-way so that something happens within minutes: chair 1 is a
hypertensive responder (medium hypertension at once, high after the next cuff reading), chair
2's pump is programmed ten times too fast (setpoint mismatch when it starts), chairs 3 and 4
run normal sessions, chair 5 (a GE monitor and a Masimo oximeter) desaturates (``spo2_low``
medium about 45 s after the start, high about 2 min after, from both devices). The
simulators run at real speed: scenario time and wall time agree, so rates stay true.
"""

from __future__ import annotations

import contextlib
import logging
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass

from drivers.sim.devices import build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario
from drivers.sim.serve import TcpPort, serve
from drivers.sim.timeline import Timeline
from edge.bundled import bundled
from edge.config import Config, DeviceConfig
from edge.daemon import Daemon
from edge.embedded_broker import EmbeddedBroker
from edge.tasks import run_until_first_exits

__all__ = ["DEMO_SCENARIOS", "run_demo"]

log = logging.getLogger(__name__)

SCENARIO_DIR = bundled("scenarios")


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


def _simulation(device: DeviceConfig) -> Simulation:
    bed = DEMO_SCENARIOS.get(device.bed, DemoBed("normal-ketamine", 0.0))
    timeline = Timeline(load_scenario(SCENARIO_DIR / f"{bed.scenario}.yaml"))
    slots = [device.address] if device.address else []
    return Simulation(
        build_device(device.driver, timeline, slots), timeline, start_s=bed.start_min * 60
    )


async def _serve_simulators(config: Config) -> None:
    jobs = []
    for device in config.devices:
        url = urllib.parse.urlsplit(device.port)
        if url.scheme != "socket" or url.hostname not in ("127.0.0.1", "localhost"):
            continue
        port = TcpPort(url.hostname, url.port or 0)
        jobs.append((f"sim[{device.id}]", serve(_simulation(device), port, lambda _url: None)))
    log.info("demo simulators running", extra={"count": len(jobs)})
    await run_until_first_exits(*jobs)


@contextlib.asynccontextmanager
async def _broker(config: Config, broker_url: str | None) -> AsyncIterator[Config]:
    if broker_url is not None:
        yield config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"url": broker_url})})
        return
    async with EmbeddedBroker() as broker:
        log.info("embedded broker running", extra={"url": broker.url})
        yield config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"url": broker.url})})


async def run_demo(config: Config, broker_url: str | None = None) -> None:
    """Run the demo until SIGINT or SIGTERM; ``broker_url`` replaces the embedded broker."""
    async with _broker(config, broker_url) as demo_config:
        daemon = Daemon(demo_config)
        _print_where_to_look(demo_config)
        await run_until_first_exits(
            ("demo.simulators", _serve_simulators(demo_config)), ("demo.daemon", daemon.run())
        )


def _print_where_to_look(config: Config) -> None:
    root = f"{config.mqtt.topic_prefix}/{config.site}/#"
    lines = [
        "infusion-edge demo: 5 chairs, simulated B. Braun pumps, Philips and GE monitors and a "
        "Masimo oximeter",
        f"  MQTT broker   {config.mqtt.url}   (mosquitto_sub -h 127.0.0.1 -p "
        f"{urllib.parse.urlsplit(config.mqtt.url).port} -t '{root}' -v)",
        f"  dashboard     http://{config.http.bind}:{config.http.port}/   (acknowledge as "
        "nurse.demo / demo-nurse)",
        f"  metrics       http://{config.http.bind}:{config.http.port}/metrics",
        "  chair 1: hypertensive responder; chair 2: pump ten times too fast; 3, 4: normal; "
        "5 (GE monitor, Masimo oximeter): desaturation",
        "  Ctrl-C stops everything cleanly.",
    ]
    print("\n".join(lines), flush=True)

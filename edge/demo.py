"""``infusion-edge demo``: a simulated clinic and the daemon, in one process, on loopback.

Every device in the demo config whose port is ``socket://127.0.0.1:PORT`` gets a textline
simulator listening there: a pump at the rate its bed's order implies, or a monitor. Bed 1's
monitor is a hypertensive responder (a systolic rise of about 60 mmHg instead of 16).
"""

from __future__ import annotations

import logging
import urllib.parse

from drivers.textline.simulator import TextLineSimulator, serve_tcp
from edge.config import Config, DeviceConfig
from edge.daemon import Daemon

__all__ = ["run_demo"]

log = logging.getLogger(__name__)

HYPERTENSIVE_BED = "bed-1"


def _simulator(config: Config, device: DeviceConfig, seed: int) -> TextLineSimulator:
    order = config.beds[device.bed].order
    if device.id.startswith("pump"):
        if order is None:
            return TextLineSimulator("pump", seed=seed)
        volume_ml = order.dose_mg_per_kg * order.weight_kg / order.concentration_mg_per_ml
        return TextLineSimulator(
            "pump", rate_ml_h=round(order.rate_ml_per_h(), 1), vtbi_ml=volume_ml, drug=order.drug
        )
    rise = 60.0 if device.bed == HYPERTENSIVE_BED else 16.0
    return TextLineSimulator("vitals", bp_rise=rise, seed=seed)


async def run_demo(config: Config, speed: float = 1.0) -> None:
    """Serve a simulator for every loopback device of ``config``, then run the daemon."""
    servers = []
    try:
        for seed, device in enumerate(config.devices):
            url = urllib.parse.urlsplit(device.port)
            if url.scheme != "socket" or url.hostname not in ("127.0.0.1", "localhost"):
                continue
            simulator = _simulator(config, device, seed)
            try:
                server = await serve_tcp(simulator, url.hostname, url.port or 0, speed=speed)
            except OSError as exc:
                log.error(  # noqa: TRY400  # the reason is the message; no traceback needed
                    "cannot start simulator",
                    extra={"device": device.id, "port": device.port, "error": str(exc)},
                )
                continue
            servers.append(server)
        log.info("demo simulators running", extra={"count": len(servers), "speed": speed})
        await Daemon(config).run()
    finally:
        for server in servers:
            await server.close()

"""Many simulated devices in one process, each on its own TCP port on 127.0.0.1.

Usage: ``python -m bench.simfarm --devices N [--speed X] [--tick-s S] [--events SCENARIO AT_S
FIRST_S SPREAD_S]``. Builds the ward of :func:`bench.common.ward` (half B. Braun pumps, half
IntelliVue monitors, ``normal-ketamine``, or with ``--events`` that scenario with every bed
reaching its moment ``AT_S`` at its own time, see :class:`bench.common.Events`),
serves every device on a free port, prints one JSON line ``{"ports": [...]}`` once all listen,
and runs until SIGTERM or SIGINT. ``--tick-s`` is the simulators' own tick (default 0.1 s; both
protocols here answer requests at once, the tick only paces what a device sends by itself),
kept coarse so hundreds of devices fit in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from bench.common import Events, ward
from drivers.sim.devices import build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import load_scenario
from drivers.sim.serve import TcpPort, serve
from drivers.sim.timeline import Timeline
from edge.bundled import bundled

__all__ = ["main"]


async def main(devices: int, speed: float, tick_s: float, events: Events | None = None) -> None:
    specs = ward(devices, [0] * devices, events)
    scenarios = {
        name: load_scenario(bundled("scenarios") / f"{name}.yaml")
        for name in {spec.scenario for spec in specs}
    }
    ports = [TcpPort("127.0.0.1", 0) for _ in specs]
    announced = asyncio.Event()
    count = 0

    def announce(_url: str) -> None:
        nonlocal count
        count += 1
        if count == len(specs):
            announced.set()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with asyncio.TaskGroup() as group:
        for spec, port in zip(specs, ports, strict=True):
            timeline = Timeline(scenarios[spec.scenario])
            device = build_device(spec.driver, timeline, [spec.slot] if spec.slot else [])
            simulation = Simulation(
                device, timeline, speed=speed, start_s=spec.start_s, tick_s=tick_s
            )
            group.create_task(serve(simulation, port, announce), name=f"sim[{spec.device_id}]")
        await announced.wait()
        print(json.dumps({"ports": [p.port for p in ports]}), flush=True)
        await stop.wait()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--tick-s", type=float, default=0.1)
    parser.add_argument("--events", nargs=4, metavar=("SCENARIO", "AT_S", "FIRST_S", "SPREAD_S"))
    arguments = parser.parse_args()
    events = None
    if arguments.events:
        name, *numbers = arguments.events
        events = Events(name, *(float(x) for x in numbers))
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(main(arguments.devices, arguments.speed, arguments.tick_s, events))
    sys.exit(0)

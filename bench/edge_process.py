"""The daemon as ``infusion-edge run`` runs it, plus one probe task for the benchmarks.

Usage: ``python -m bench.edge_process CONFIG PROBE_FILE``. Every 2 s the probe appends one
JSON line to ``PROBE_FILE``: the number of asyncio tasks, the outbox depth and the publisher's
delivered count. It is the only difference from ``infusion-edge run`` (a few µs every 2 s).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from edge.config import load_config
from edge.daemon import Daemon
from edge.logs import setup_logging

__all__ = ["main"]

PROBE_PERIOD_S = 2.0


async def _probe(daemon: Daemon, path: Path) -> None:
    with path.open("a") as out:
        while True:
            sample = {
                "t": time.time(),
                "tasks": len(asyncio.all_tasks()),
                "outbox": daemon.outbox.depth,
                "delivered": daemon.publisher.counters.delivered,
                "connected": daemon.publisher.counters.connected,
            }
            out.write(json.dumps(sample) + "\n")
            out.flush()
            await asyncio.sleep(PROBE_PERIOD_S)


async def main(config_path: Path, probe_path: Path) -> None:
    config = load_config(config_path)
    setup_logging(config.log.level, config.log.format)
    daemon = Daemon(config)
    probe = asyncio.create_task(_probe(daemon, probe_path), name="bench.probe")
    try:
        await daemon.run()
    finally:
        probe.cancel()
        await asyncio.gather(probe, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))

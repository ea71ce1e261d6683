"""``infusion-edge simulate``: one simulated device, driven by a scenario, on a pty or TCP.

::

    infusion-edge simulate --driver {bbraun_bcc,ge_dri,intellivue,line,masimo_ascii,textline}
                           --scenario FILE
                           [--pty [--link PATH] | --tcp PORT [--host ADDR]]
                           [--speed X] [--start-min M] [--seed N] [--slot 11 ...]

Prints the port to open on stdout, one line each time it (re)appears: the pty path (the
``--link`` path when given) or ``socket://host:port``. Logs go to stderr. SIGINT and SIGTERM
stop it cleanly with exit status 0; a bad scenario or option exits with 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from drivers.sim.devices import SIMULATORS, build_device
from drivers.sim.runner import Simulation
from drivers.sim.scenario import ScenarioError, load_scenario
from drivers.sim.serve import Port, PtyPort, TcpPort, serve
from drivers.sim.timeline import Timeline

__all__ = ["add_arguments", "main", "run"]

EX_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``simulate`` to ``parser`` (a subcommand's parser, say)."""
    parser.add_argument("--driver", required=True, choices=sorted(SIMULATORS))
    parser.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (default)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve on TCP (0: any free port)")
    parser.add_argument("--link", type=Path, help="with --pty: keep a symlink to it at PATH")
    parser.add_argument("--host", default="127.0.0.1", help="with --tcp: address to listen on")
    parser.add_argument("--speed", type=float, default=1.0, help="scenario time per real time")
    parser.add_argument("--start-min", type=float, default=0.0, help="start at this minute")
    parser.add_argument("--seed", type=int, help="noise and fault seed (default: the scenario's)")
    parser.add_argument(
        "--slot", action="append", default=[], help="pump slot to serve (repeat; default: all)"
    )


def _check_options(args: argparse.Namespace) -> None:
    """Raise :class:`ValueError` for options argparse cannot check alone."""
    if args.link is not None and args.tcp is not None:
        raise ValueError("--link goes with --pty")
    if args.tcp is not None and not 0 <= args.tcp <= 65535:
        raise ValueError("--tcp PORT must be 0-65535")
    if not 0 < args.speed <= 10_000:
        raise ValueError("--speed must be above 0 (and at most 10000)")
    if args.start_min < 0:
        raise ValueError("--start-min must not be negative")


def main(argv: Sequence[str]) -> int:
    """Run ``simulate`` with ``argv`` (the arguments after ``simulate``); the exit status."""
    parser = argparse.ArgumentParser(
        prog="infusion-edge simulate",
        description="Serve one simulated device, driven by a scenario file, on a pty or TCP.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run ``simulate`` with parsed ``args`` (see :func:`add_arguments`); the exit status."""
    try:
        _check_options(args)
        timeline = Timeline(load_scenario(args.scenario), seed=args.seed)
        device = build_device(args.driver, timeline, args.slot)
        port: Port = PtyPort(args.link) if args.tcp is None else TcpPort(args.host, args.tcp)
    except (ScenarioError, ValueError) as exc:
        print(f"infusion-edge simulate: {exc}", file=sys.stderr)
        return EX_USAGE
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    simulation = Simulation(device, timeline, speed=args.speed, start_s=args.start_min * 60.0)
    print(f"# {device.description}: {timeline.scenario.name}", file=sys.stderr)
    failure: BaseException | None = None
    try:
        asyncio.run(_run_until_signal(simulation, port))
    except* OSError as errors:  # a port that cannot be made: busy TCP port, no ptys left
        failure = errors
    if failure is None:
        return 0
    while isinstance(failure, BaseExceptionGroup):
        failure = failure.exceptions[0]
    print(f"infusion-edge simulate: {failure}", file=sys.stderr)
    return 1


def _announce(where: str) -> None:
    print(where, flush=True)


async def _run_until_signal(simulation: Simulation, port: Port) -> None:
    """Serve until SIGINT or SIGTERM, then cancel everything and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with asyncio.TaskGroup() as group:
            serving = group.create_task(serve(simulation, port, _announce), name="sim.serve")
            await stop.wait()
            serving.cancel()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

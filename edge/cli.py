"""The ``infusion-edge`` command line.

Commands: ``run`` (the daemon), ``reload`` (apply the running daemon's edited config),
``demo`` (simulated clinic plus the daemon), ``simulate`` (one
simulated device), ``dashboard`` (the nurses' dashboard alone), ``hash-password``, ``ack-key``
(a dashboard's acknowledgement key), ``ports`` and ``probe`` (commissioning), ``config
check``, ``config schema``, ``schemas`` (MQTT payloads), ``drivers``, ``hl7 sample`` and
``hl7 refused``, ``fhir sample`` and ``fhir refused`` (the clinical outputs' samples and what
their receiver refused), ``session-report`` (a treatment session's record from the dashboard's
history). Exit codes: 0 ok; 1 a check found errors, or a port could not be bound (one line on
stderr); 78 (EX_CONFIG) the daemon refused a bad config, so a service manager
need not restart it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from drivers.registry import driver_names, get_driver
from drivers.sim.cli import add_arguments as add_simulate_arguments
from drivers.sim.cli import run as simulate
from edge import __version__
from edge.bundled import bundled
from edge.commissioning import (
    ProbeOptionsError,
    format_ports,
    list_serial_ports,
    probe,
    probe_options,
)
from edge.config import Config
from edge.config_report import load_or_report
from edge.daemon import Daemon
from edge.logs import setup_logging
from edge.publish.ack_signing import new_secret
from edge.startup import StartupError
from edge.web import run_dashboard
from edge.web.passwords import main as password_main
from edge.web.session_report import add_arguments as add_report_arguments
from edge.web.session_report import report as session_report

__all__ = ["main"]

EX_CONFIG = 78
DEFAULT_DEMO_CONFIG = bundled("demo.yaml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infusion-edge",
        description="Read infusion pumps and monitors, publish readings and alarms to MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"infusion-edge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True, type=Path, help="YAML config file")

    reload = commands.add_parser(
        "reload", help="apply the running daemon's edited config without a restart"
    )
    target = reload.add_mutually_exclusive_group()
    target.add_argument(
        "--config", type=Path, help="the daemon's config file (to find its control socket)"
    )
    target.add_argument("--socket", type=Path, help="the daemon's control socket")

    demo = commands.add_parser("demo", help="simulated 5-bed clinic and the daemon, on loopback")
    demo.add_argument("--config", type=Path, default=DEFAULT_DEMO_CONFIG, help="demo config")
    demo.add_argument(
        "--broker",
        help="use this broker (mqtt://HOST:PORT), not an embedded one "
        "(INFUSION_EDGE_MQTT__URL does the same)",
    )
    demo.add_argument(
        "--http-port",
        type=_port,
        help="the dashboard's port instead of the config's http.port (0: any free port)",
    )

    config = commands.add_parser("config", help="check a config or print its schema")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate config files; exit 1 on errors")
    check.add_argument("files", nargs="+", type=Path)
    config_commands.add_parser("schema", help="print the config's JSON Schema")

    add_simulate_arguments(
        commands.add_parser("simulate", help="run one simulated device on a pty or TCP port")
    )
    commands.add_parser("drivers", help="list the device drivers")
    dashboard = commands.add_parser("dashboard", help="run the nurses' dashboard alone")
    dashboard.add_argument("--config", required=True, type=Path, help="YAML config file")
    hash_password = commands.add_parser(
        "hash-password", help="hash a dashboard user's password for http.users"
    )
    hash_password.add_argument("--stdin", action="store_true", help="read it from stdin")
    ack_key = commands.add_parser(
        "ack-key", help="make a dashboard's acknowledgement key and print its config snippets"
    )
    ack_key.add_argument("--dashboard", required=True, type=_dashboard_id, help="dashboard id")
    commands.add_parser("ports", help="list serial ports with their stable by-id names")
    probe = commands.add_parser("probe", help="read one device for a while and print it")
    probe.add_argument("port", help="device path or pyserial URL (socket://host:port)")
    probe.add_argument("--driver", required=True, choices=driver_names())
    probe.add_argument("--address", help="the device's address on a shared port (rack slot)")
    probe.add_argument("--seconds", type=float, default=15.0, help="how long to listen")
    probe.add_argument("--options", help="the driver's options, a YAML mapping: '{period_s: 10}'")
    commands.add_parser("schemas", help="print the JSON Schemas of the MQTT payloads")
    hl7 = commands.add_parser("hl7", help="the HL7 v2 output: sample messages, refused ones")
    hl7_commands = hl7.add_subparsers(dest="hl7_command", required=True)
    hl7_sample = hl7_commands.add_parser("sample", help="print sample PCD-01 and PCD-04 messages")
    hl7_sample.add_argument("--config", type=Path, help="take the identities from this config")
    hl7_refused = hl7_commands.add_parser("refused", help="print the messages the receiver refused")
    hl7_refused.add_argument("--config", required=True, type=Path, help="YAML config file")
    hl7_refused.add_argument("--limit", type=int, default=20, help="the latest N (default 20)")
    fhir = commands.add_parser("fhir", help="the FHIR R4 output: sample bundles, refused ones")
    fhir_commands = fhir.add_subparsers(dest="fhir_command", required=True)
    fhir_sample = fhir_commands.add_parser("sample", help="print sample transaction Bundles")
    fhir_sample.add_argument("--config", type=Path, help="take the identities from this config")
    fhir_refused = fhir_commands.add_parser("refused", help="print the bundles the server refused")
    fhir_refused.add_argument("--config", required=True, type=Path, help="YAML config file")
    fhir_refused.add_argument("--limit", type=int, default=20, help="the latest N (default 20)")
    add_report_arguments(
        commands.add_parser(
            "session-report", help="a bed's treatment-session record from the dashboard history"
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``infusion-edge`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "config":
        if args.config_command == "schema":
            print(json.dumps(Config.model_json_schema(), indent=2))
            return 0
        return _check(args.files)
    if args.command == "simulate":
        return simulate(args)
    if args.command == "schemas":
        from edge.publish.payloads import PAYLOAD_MODELS

        schemas = {
            name: model.model_json_schema(by_alias=True) for name, model in PAYLOAD_MODELS.items()
        }
        print(json.dumps(schemas, indent=2))
        return 0
    if args.command == "dashboard":
        return _run_with_config(args.config, run_dashboard)
    if args.command == "session-report":
        config = load_or_report(args.config)
        return 1 if config is None else session_report(config, args)
    if args.command == "hash-password":
        return password_main(["--stdin"] if args.stdin else [])
    if args.command == "ack-key":
        print(_ack_key(args.dashboard, new_secret()))
        return 0
    if args.command == "ports":
        print(format_ports(list_serial_ports()))
        return 0
    if args.command == "probe":
        return _probe(args.port, args.driver, args.seconds, args.address, args.options)
    if args.command == "drivers":
        for name in driver_names():
            print(f"{name:12} {get_driver(name).summary}")
        return 0
    if args.command == "hl7" and args.hl7_command == "sample":
        from edge.hl7.commands import sample

        return sample(args.config)
    if args.command == "fhir" and args.fhir_command == "sample":
        from edge.fhir.commands import sample as fhir_sample

        return fhir_sample(args.config)
    if args.command in ("hl7", "fhir"):  # refused
        from edge.forward.refused import refused_command

        return refused_command(args.config, args.limit, args.command)
    if args.command == "demo":
        from edge.demo import broker_from_environment, run_demo  # only the demo: simulators

        return _run_with_config(
            args.config,
            lambda config: run_demo(
                config,
                args.broker or broker_from_environment(config, os.environ),
                args.http_port,
            ),
        )
    if args.command == "reload":
        from edge.reload.command import reload_command

        return reload_command(args.config, args.socket)
    return _run_with_config(
        args.config, lambda config: Daemon(config, config_path=args.config).run()
    )


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError("a TCP port, 0 to 65535")
    return int(value)


def _dashboard_id(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}", value) is None:
        raise argparse.ArgumentTypeError("letters, digits and _ . @ - only, at most 64")
    return value


def _ack_key(dashboard: str, secret: str) -> str:
    """The key's config snippets: the edges' (trust it) and the dashboard's (sign with it)."""
    return "\n".join(
        [
            f"# Acknowledgement key of dashboard {dashboard}: whoever holds it can acknowledge",
            "# alarms as this dashboard. Keep it out of version control.",
            "",
            "# 1. On every edge of the site that must accept this dashboard's acknowledgements:",
            "acknowledgements:",
            "  dashboards:",
            f"    {dashboard}:",
            f'      secret: "{secret}"',
            "",
            "# 2. On the dashboard (`infusion-edge dashboard`, or the edge that serves it;",
            "#    or set INFUSION_EDGE_HTTP__ACK_SECRET):",
            "http:",
            f"  dashboard_id: {dashboard}",
            f'  ack_secret: "{secret}"',
        ]
    )


def _probe(
    port: str, driver: str, seconds: float, address: str | None, options_text: str | None
) -> int:
    try:
        options = probe_options(driver, options_text)
    except ProbeOptionsError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging("WARNING")
    result = asyncio.run(probe(port, driver, seconds, address, options=options))
    print(
        f"{len(result.readings)} readings, {result.frames_ok} good frames, "
        f"{result.frames_bad} bad frames"
        + (f"; last link error: {result.last_error}" if result.last_error else "")
    )
    return 0 if result.readings else 1


def _check(files: list[Path]) -> int:
    failed = False
    for path in files:
        config = load_or_report(path)
        if config is None:
            failed = True
            continue
        print(f"{path}: ok ({len(config.beds)} beds, {len(config.devices)} devices)")
        for warning in _warnings(config):
            print(f"  warning: {warning}")
    return 1 if failed else 0


def _warnings(config: Config) -> list[str]:
    """What ``config check`` warns about in a valid config (printed; the exit code stays 0)."""
    from edge.alarms.rate_latency import config_warnings  # runs the estimator: only here

    return config_warnings(config)


def _run_with_config(path: Path, job: Callable[[Config], Coroutine[Any, Any, None]]) -> int:
    config = load_or_report(path)
    if config is None:
        print(f"{path}: refusing to start until the config is fixed", file=sys.stderr)
        return EX_CONFIG
    setup_logging(config.log.level, config.log.format)
    try:
        asyncio.run(job(config))
    except StartupError as exc:  # a port is taken, most often: one line, no traceback
        print(f"infusion-edge: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"infusion-edge: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

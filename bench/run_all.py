"""Run every benchmark and write one Markdown report (``--output``, default ``bench/latest.md``).

Usage: ``python -m bench.run_all [--quick] [--runs 3] [--seconds 25] [--devices 10 50 200 500]
[--max-rate 200] [--alarm-devices 200] [--flood-devices 40] [--outage-s 60] [--outage-runs 3]
[--soak-s 1800] [--output FILE]``. ``bench/RESULTS.md`` is the curated record of every
session's runs: a report's tables are copied into it by hand, with the run's conditions, so
an existing report is never overwritten without ``--output`` naming it.

One Mosquitto (started here on a free loopback port) serves every part, in this order: the
stages alone, the baselines, the floor (:mod:`bench.floor`), the end-to-end points (``--runs``
runs each), the maximum-rate point, the alarm latency (``--runs`` runs), the dashboard under a
connection flood (one run), the broker outages and the soak. Every figure is the median of the
runs with its range (min-max). ``--quick`` is a smoke run of about a minute (2 devices, 1 run,
a short alarm latency run, no outage or soak).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import platform
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from bench import baselines, floor, stages
from bench.alarm_latency import AlarmLatency, alarm_latency
from bench.common import Spread, spread
from bench.http_flood import http_flood, raise_open_files
from bench.http_flood import table as flood_table
from bench.pipeline import Point, measure_point
from bench.recovery import Outage, Soak, outage, soak
from tests.mosquitto import Mosquitto, find_mosquitto

__all__ = ["machine", "main"]

LATEST = Path(__file__).with_name("latest.md")
DELIVERED_WINDOW = 20  # the Receive Maximum Mosquitto sends: the publisher's window against it


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kb = int(meminfo[0].split()[1])
    binary = find_mosquitto() or "mosquitto"
    mosquitto = subprocess.run(
        [binary, "-h"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:1]
    return [
        f"- machine: {_nproc()} CPUs ({model}), "
        f"{memory_kb / 2**20:.1f} GiB RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {mosquitto[0] if mosquitto else 'mosquitto ?'}; "
        f"aiomqtt {importlib.metadata.version('aiomqtt')}; "
        f"paho-mqtt {importlib.metadata.version('paho-mqtt')}; "
        f"pydantic {importlib.metadata.version('pydantic')}",
    ]


def _nproc() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _row(name: str, values: list[float], fmt: str = "{:,.1f}") -> str:
    return f"| {name} | {spread(values).show(fmt)} |"


def point_table(points: dict[str, list[Point]]) -> list[str]:
    lines = [
        "| load | readings/s | latency p50 ms | latency p99 ms | daemon CPU s / 1,000 readings "
        "| daemon µs CPU / reading | daemon peak RSS MB | simulators' CPU (cores) "
        "| seq checked / missing / duplicates | exit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, runs in points.items():

        def s(attr: str, runs: list[Point] = runs) -> Spread:
            return spread([float(getattr(p, attr)) for p in runs])

        lines.append(
            f"| {label} | {s('readings_per_s').show('{:,.1f}')} | {s('p50_ms').show('{:.1f}')} "
            f"| {s('p99_ms').show('{:.1f}')} | {s('cpu_s_per_1000').show('{:.2f}')} "
            f"| {spread([p.cpu_s_per_1000 * 1000 for p in runs]).show('{:,.0f}')} "
            f"| {s('peak_rss_mb').show('{:.0f}')} | {s('farm_cpu_share').show('{:.2f}')} "
            f"| {sum(p.last_seq for p in runs):,} / {sum(p.missing for p in runs)} / "
            f"{sum(p.duplicates for p in runs)} | {','.join(str(p.exit_code) for p in runs)} |"
        )
    return lines


async def main(args: argparse.Namespace) -> str:
    started = time.monotonic()
    out: list[str] = [
        "# Benchmark results (issue #9)",
        "",
        f"Written by `python -m bench.run_all {' '.join(args.argv)}`".rstrip() + " on "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}.",
        "",
        *machine(),
        f"- every figure: median of {args.runs} run(s), (min-max) when more than one",
        "",
    ]
    print("stages...", flush=True)
    figures = await stages.run(args.runs, 150 if args.quick else 600)
    out += [
        "## Each stage alone",
        "",
        stages.__doc__.split("\n\n", 1)[1].strip(),
        "",
        stages.table(figures),
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        broker = Mosquitto(directory / "broker")
        broker.start()
        try:
            print("baselines...", flush=True)
            count = 2_000 if args.quick else 20_000
            bare: dict[int, list[float]] = {w: [] for w in baselines.WINDOWS}
            pub: list[float] = []
            delivered: list[float] = []
            for _ in range(args.runs):
                for window in baselines.WINDOWS:
                    bare[window].append(await baselines.bare_aiomqtt(broker.port, count, window))
                pub.append(await baselines.mosquitto_pub(broker.port, count))
                delivered.append(
                    await baselines.bare_aiomqtt_delivered(broker.port, count, DELIVERED_WINDOW)
                )
            best_window = max(bare, key=lambda w: statistics.median(bare[w]))
            best = statistics.median(bare[best_window])
            out += [
                "## Baselines (same broker, same run)",
                "",
                baselines.__doc__.split("\n\n", 1)[1].strip(),
                "",
                f"{count:,} telemetry-sized messages (472 bytes), QoS 1.",
                "",
                "| client | messages/s |",
                "|---|---:|",
            ]
            out += [_row(f"bare aiomqtt, {w} in flight", bare[w], "{:,.0f}") for w in bare]
            out += [
                _row(
                    f"bare aiomqtt, {DELIVERED_WINDOW} in flight, as the bench subscriber "
                    "receives it",
                    delivered,
                    "{:,.0f}",
                ),
                _row("mosquitto_pub -l -q 1 (C client; the broker's ceiling)", pub, "{:,.0f}"),
                "",
            ]
            print("floor...", flush=True)
            floors = await _floors(args, broker.port, count)
            points: dict[str, list[Point]] = {}
            for n in args.devices:
                print(f"pipeline N={n}...", flush=True)
                points[f"N={n}, real rates (1 Hz)"] = [
                    await measure_point(n, args.seconds, broker, directory / f"n{n}-{r}")
                    for r in range(args.runs)
                ]
            if args.max_rate:
                n = args.max_rate
                print(f"pipeline N={n} max rate...", flush=True)
                points[f"N={n}, max rate (BCC 0.5 s, IntelliVue 0.1 s)"] = [
                    await measure_point(
                        n,
                        args.seconds,
                        broker,
                        directory / f"max{n}-{r}",
                        pump_poll_s=0.5,
                        monitor_poll_s=0.1,
                    )
                    for r in range(args.runs)
                ]
            out += ["## End to end", "", _pipeline_text(), "", *point_table(points), ""]
            out += _ratios(points, best, best_window, statistics.median(pub))
            out += _floor_text(floors, figures, points, best)
            if args.alarm_devices:
                n = args.alarm_devices
                print(f"alarm latency N={n}...", flush=True)
                timing = {"first_s": 10.0, "spread_s": 1.0, "settle_s": 5.0} if args.quick else {}
                alarms = [
                    await alarm_latency(n, broker, directory / f"alarm{r}", **timing)
                    for r in range(args.runs)
                ]
                out += _alarm_text(alarms)
            if args.flood_devices:
                print("http flood...", flush=True)
                raise_open_files(1536)
                if args.quick:
                    flood = await http_flood(
                        args.flood_devices,
                        broker,
                        directory / "flood",
                        idle=50,
                        streams=50,
                        sessions=3,
                        first_s=12.0,
                        spread_s=6.0,
                        settle_s=4.0,
                    )
                else:
                    flood = await http_flood(args.flood_devices, broker, directory / "flood")
                out += ["## Dashboard under a connection flood", "", *flood_table(flood), ""]
            if args.outage_s:
                print("outage...", flush=True)
                outages = [
                    await outage(args.outage_devices, args.outage_s, broker, directory / f"o{r}")
                    for r in range(args.outage_runs)
                ]
                replay_bare = (best_window, best), statistics.median(delivered)
                out += _outage_text(outages, *replay_bare)
            if args.soak_s:
                print("soak...", flush=True)
                result = await soak(
                    args.soak_devices, args.soak_s, args.soak_speed, broker, directory / "soak"
                )
                out += _soak_text(result)
        finally:
            broker.stop()
    out += [f"Total run time: {(time.monotonic() - started) / 60:.1f} min.", ""]
    return "\n".join(out)


def _pipeline_text() -> str:
    from bench import pipeline

    return (pipeline.__doc__ or "").split("\n\n", 1)[1].strip() + (
        "\n\nSimulators: one process, every device on its own TCP port (pumps: a ComDevice "
        "with one pump in slot 11, BCC `poll_period_s: 1`; monitors: IntelliVue, poll 1 s), "
        "`normal-ketamine` mid-infusion with the order on every bed. Daemon: `http.enabled: "
        "false`, log level WARNING. Everything shares this machine's 2 cores."
    )


def _ratios(points: dict[str, list[Point]], best: float, window: int, pub: float) -> list[str]:
    lines = [
        "Pipeline vs the baselines. The devices pace the readings, so the pipeline's own "
        "ceiling is estimated from its CPU cost: one core / (daemon CPU per reading).",
        "",
        "| load | pipeline ceiling, readings/s on one core | vs bare aiomqtt "
        f"({window} in flight, {best:,.0f}/s) | vs mosquitto_pub ({pub:,.0f}/s) |",
        "|---|---:|---:|---:|",
    ]
    for label, runs in points.items():
        per_reading_s = statistics.median(p.cpu_s_per_1000 for p in runs) / 1000
        ceiling = 1 / per_reading_s if per_reading_s else float("nan")
        lines.append(f"| {label} | {ceiling:,.0f} | {ceiling / best:.2f} | {ceiling / pub:.3f} |")
    return [*lines, ""]


MAX_RATE_HZ = (2.0 + 10.0) / 2  # the max-rate point's polls a link a second (BCC 0.5 s, IV 0.1 s)
TARGET_US = {200: 250.0, 500: 150.0}  # issue 16: CPU µs per reading at N devices, real rates
CEILING_TARGET = 0.5  # issue 16: the pipeline's ceiling as a share of the bare aiomqtt rate


async def _floors(
    args: argparse.Namespace, port: int, count: int
) -> tuple[dict[str, floor.LinkFloor], float]:
    """The link floor for every end-to-end point (same labels) and the bare client's CPU µs
    per message."""
    seconds = 2.0 if args.quick else 10.0
    links = {f"N={n}, real rates (1 Hz)": (n, 1.0) for n in args.devices}
    if args.max_rate:
        links[f"N={args.max_rate}, max rate (BCC 0.5 s, IntelliVue 0.1 s)"] = (
            args.max_rate,
            MAX_RATE_HZ,
        )
    result = {label: await floor.link_floor(n, hz, seconds) for label, (n, hz) in links.items()}
    return result, await floor.publish_cpu_us(port, count)


def _floor_text(
    floors: tuple[dict[str, floor.LinkFloor], float],
    figures: dict[str, Spread],
    points: dict[str, list[Point]],
    best: float,
) -> list[str]:
    """Each end-to-end point beside the floor of its parts and the issue's target."""
    links, publish_us = floors
    conversation = (
        figures["BCC conversation (framer + decode + validation)"].median
        + figures["IntelliVue conversation (framer + decode + validation)"].median
    ) / 2
    stages_us = conversation + sum(
        figures[s].median
        for s in (
            "alarm engine on_reading",
            "outbox JSON (OutboxWriter.messages_for)",
            "outbox put, batches of 50 (wall)",
        )
    )
    ceiling_us = 1e6 / (CEILING_TARGET * best)  # the CPU per reading the ceiling target needs
    lines = [
        "## The floor",
        "",
        (floor.__doc__ or "").split("\n\n", 1)[1].split("\n\nUsage", 1)[0].strip(),
        "",
        f"Bare aiomqtt client: {publish_us:.1f} µs CPU per message. Stages (conversation, "
        f"average of the two; alarm engine; JSON; put): {stages_us:.1f} µs. Target: issue "
        f"16's CPU per reading at 200 and 500 devices; at the max rate the CPU per reading a "
        f"ceiling of {CEILING_TARGET}x the bare client ({best:,.0f}/s) needs.",
        "",
        "| load | link µs / exchange | floor µs / reading (link + publish + stages) "
        "| daemon µs / reading | daemon / floor | target µs | floor / target |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, link in links.items():
        sum_us = link.cpu_us_per_exchange + publish_us + stages_us
        daemon_us = statistics.median(p.cpu_s_per_1000 for p in points[label]) * 1000
        target = ceiling_us if "max rate" in label else TARGET_US.get(link.links)
        target_cells = f"{target:,.0f} | {sum_us / target:.2f}" if target else "— | —"
        lines.append(
            f"| {label} | {link.cpu_us_per_exchange:.1f} | {sum_us:,.0f} | {daemon_us:,.0f} "
            f"| {daemon_us / sum_us:.1f} | {target_cells} |"
        )
    return [*lines, ""]


def _alarm_text(runs: list[AlarmLatency]) -> list[str]:
    from bench import alarm_latency as module

    a = runs[0]
    rules = Counter[str]()
    for run in runs:
        rules.update(run.rules)
    return [
        "## Alarm latency",
        "",
        (module.__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "| devices | alarms per run (occlusion / all from readings) | p50 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|",
        f"| {a.devices} "
        f"| {'; '.join(f'{r.occlusion_alarms}/{r.beds} / {r.alarms}' for r in runs)} "
        f"| {spread([r.p50_ms for r in runs]).show()} "
        f"| {spread([r.p99_ms for r in runs]).show()} "
        f"| {spread([r.max_ms for r in runs]).show()} |",
        "",
        "Rules seen, all runs: " + ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items())),
        "",
    ]


def _outage_text(outages: list[Outage], bare: tuple[int, float], delivered: float) -> list[str]:
    """``bare``: the best window of the bare client and its rate; ``delivered``: the bare
    client's rate at the bench subscriber (msg/s)."""
    o = outages[0]
    window, best = bare
    replay = statistics.median(x.replay_per_s for x in outages)
    return [
        "## Broker outage",
        "",
        f"{o.devices} devices at real rates; the broker stopped for {o.outage_s:.0f} s, then "
        "started again on the same port. Reconnect: restart to the first message at the "
        "subscriber that it had not seen (the daemon's backoff; the broker's redeliveries of "
        "messages the subscriber had seen are duplicates, not backlog). Drain: restart until "
        "every message stored before the restart has arrived. Replay rate: backlog / (drain "
        "end - first new arrival), with the 200 devices still live.",
        "",
        "| backlog messages | reconnect s | drain s | replay msg/s | missing / duplicates |",
        "|---:|---:|---:|---:|---:|",
        f"| {spread([float(x.backlog) for x in outages]).show('{:,.0f}')} "
        f"| {spread([x.reconnect_s for x in outages]).show('{:.1f}')} "
        f"| {spread([x.drain_s for x in outages]).show('{:.1f}')} "
        f"| {spread([x.replay_per_s for x in outages]).show('{:,.0f}')} "
        f"| {sum(x.missing for x in outages)} / {sum(x.duplicates for x in outages)} |",
        "",
        f"Replay (median) vs the bare aiomqtt client: {replay / best:.2f}x its best rate alone "
        f"({window} in flight, {best:,.0f}/s); {replay / delivered:.2f}x its rate at the bench "
        f"subscriber ({DELIVERED_WINDOW} in flight, {delivered:,.0f}/s: the broker forwarding "
        "every message and the subscriber parsing it, as in the replay).",
        "",
    ]


def _soak_text(s: Soak) -> list[str]:
    d = asdict(s)
    return [
        "## Soak",
        "",
        f"{s.devices} devices, scenarios at {s.speed:g}x (polls in real time), "
        f"{s.duration_s / 60:.0f} min (one run).",
        "",
        "| figure | start | end |",
        "|---|---:|---:|",
        f"| daemon RSS MB | {s.rss_start_mb:.1f} | {s.rss_end_mb:.1f} (peak {s.peak_rss_mb:.1f}) |",
        f"| asyncio tasks | {s.tasks_start} | {s.tasks_end} |",
        f"| threads | {s.threads_start} | {s.threads_end} |",
        "",
        f"Telemetry received: {d['readings']:,}; seq 1..{s.last_seq:,} checked: "
        f"{s.missing} missing, {s.duplicates} duplicates.",
        "",
    ]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--devices", type=int, nargs="+", default=[10, 50, 200, 500])
    parser.add_argument(
        "--max-rate", type=int, default=200, help="N of the max-rate point; 0: none"
    )
    parser.add_argument(
        "--alarm-devices", type=int, default=200, help="N of the alarm latency runs; 0: none"
    )
    parser.add_argument(
        "--flood-devices", type=int, default=40, help="N of the http flood run; 0: none"
    )
    parser.add_argument("--outage-s", type=float, default=60)
    parser.add_argument("--outage-devices", type=int, default=200)
    parser.add_argument("--outage-runs", type=int, default=3)
    parser.add_argument("--soak-s", type=float, default=1800)
    parser.add_argument("--soak-devices", type=int, default=200)
    parser.add_argument("--soak-speed", type=float, default=10)
    parser.add_argument("--output", type=Path, default=LATEST)
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else __import__("sys").argv[1:]
    if args.quick:
        args.runs, args.seconds, args.devices, args.max_rate = 1, 3, [2], 0
        args.alarm_devices = args.flood_devices = 2
        args.outage_s, args.soak_s = 0, 0
    return args


if __name__ == "__main__":
    arguments = parse()
    text = asyncio.run(main(arguments))
    arguments.output.write_text(text)
    print(text)

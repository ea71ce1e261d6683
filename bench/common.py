"""Shared pieces of the scale benchmarks: the generated ward, per-process /proc readings and
summary statistics.

The ward is ``n`` devices on ``n / 2`` beds: each bed has one B. Braun pump (one ComDevice per
port, slot ``11``) and one Philips IntelliVue monitor, each on its own TCP port on 127.0.0.1,
all running the ``normal-ketamine`` scenario from a staggered start (mid-infusion), with the
clinic's infusion order on every bed so the rate and setpoint rules are evaluated too.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ORDER",
    "SCENARIO",
    "Events",
    "ProcSample",
    "SimSpec",
    "Spread",
    "percentile",
    "proc_sample",
    "spread",
    "ward",
    "ward_config",
]

SCENARIO = "normal-ketamine"
ORDER = {
    "drug": "Ketamine",
    "concentration_mg_per_ml": 1.0,
    "dose_mg_per_kg": 0.5,
    "weight_kg": 70,
    "duration_min": 40,
}
SITE = "bench-site"
EDGE_ID = "bench-edge"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class SimSpec:
    """One simulated device: its driver, TCP port, slot (pumps), scenario and where in it the
    simulation starts (s)."""

    device_id: str
    bed: str
    driver: str
    port: int
    slot: str | None
    start_s: float
    scenario: str = SCENARIO


@dataclass(frozen=True, slots=True)
class Events:
    """Bring each bed to the scenario moment ``at_s`` at its own time: bed ``i`` of ``beds``
    reaches it ``first_s + i * spread_s / beds`` seconds after its simulators start."""

    scenario: str
    at_s: float
    first_s: float
    spread_s: float

    def start_s(self, bed_index: int, beds: int) -> float:
        return self.at_s - self.first_s - bed_index * self.spread_s / beds


def ward(n: int, ports: Sequence[int], events: Events | None = None) -> list[SimSpec]:
    """``n`` devices (half pumps, half monitors) on ``ports`` (one each): ``normal-ketamine``
    mid-infusion, or with ``events`` that scenario and those start times."""
    specs = []
    beds = (n + 1) // 2
    for index in range(n):
        bed_index = index // 2
        bed = f"bed-{bed_index + 1:03d}"
        if events is None:
            start_s = 600.0 + 7.0 * bed_index % 1200  # minutes 10..30: mid-infusion
        else:
            start_s = events.start_s(bed_index, beds)
        scenario = SCENARIO if events is None else events.scenario
        if index % 2 == 0:
            driver, device_id, slot = "bbraun_bcc", f"pump-{bed_index + 1:03d}", "11"
        else:
            driver, device_id, slot = "intellivue", f"mon-{bed_index + 1:03d}", None
        specs.append(SimSpec(device_id, bed, driver, ports[index], slot, start_s, scenario))
    return specs


def ward_config(
    specs: Sequence[SimSpec],
    directory: Path,
    mqtt_url: str,
    *,
    pump_poll_s: float = 1.0,
    monitor_poll_s: float = 1.0,
    log_level: str = "WARNING",
) -> dict[str, Any]:
    """The daemon config (as a mapping) for ``specs``."""
    devices: list[dict[str, Any]] = []
    for spec in specs:
        device: dict[str, Any] = {
            "id": spec.device_id,
            "bed": spec.bed,
            "driver": spec.driver,
            "port": f"socket://127.0.0.1:{spec.port}",
        }
        if spec.driver == "bbraun_bcc":
            device["address"] = spec.slot
            device["options"] = {"poll_period_s": pump_poll_s}
            device["period_s"] = pump_poll_s
        else:
            device["options"] = {"poll_period_s": monitor_poll_s}
            device["period_s"] = monitor_poll_s
        devices.append(device)
    return {
        "site": SITE,
        "edge_id": EDGE_ID,
        "log": {"level": log_level, "format": "json"},
        "mqtt": {"url": mqtt_url},
        "http": {"enabled": False},
        "storage": {
            "outbox_path": str(directory / "outbox.sqlite"),
            "alarm_log_path": str(directory / "alarm-log.sqlite"),
        },
        "beds": {bed: {"order": ORDER} for bed in sorted({s.bed for s in specs})},
        "devices": devices,
    }


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU seconds (user + system), current and peak RSS (bytes) and threads of a process."""

    cpu_s: float
    rss: int
    peak_rss: int
    threads: int


def proc_sample(pid: int) -> ProcSample:
    """Read ``/proc/PID`` (the process must be alive)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return ProcSample(
        cpu,
        int(status["VmRSS"].split()[0]) * 1024,
        int(status["VmHWM"].split()[0]) * 1024,
        int(status["Threads"]),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass(frozen=True, slots=True)
class Spread:
    """The median and range of several runs of one figure."""

    median: float
    low: float
    high: float
    runs: int

    def show(self, fmt: str = "{:,.1f}") -> str:
        if self.runs == 1:
            return fmt.format(self.median)
        return f"{fmt.format(self.median)} ({fmt.format(self.low)}-{fmt.format(self.high)})"


def spread(values: Sequence[float]) -> Spread:
    """Median, min and max of ``values`` (at least one)."""
    return Spread(statistics.median(values), min(values), max(values), len(values))

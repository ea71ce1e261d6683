"""Profile the daemon at N devices with py-spy (``pip install py-spy``; root or ptrace rights).

Usage: ``python -m bench.profile_daemon [--devices 200] [--seconds 30]``. Runs the ward of
:mod:`bench.pipeline`, samples the daemon process with ``py-spy record --format raw`` and
prints the functions with the most samples (self and inclusive).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.pipeline import running_ward, subscribed, wait_all_online
from tests.mosquitto import Mosquitto

__all__ = ["main", "summarize"]


def summarize(raw: str, top: int = 25) -> str:
    """Self and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        # "function (file:line)" -> "function (file)": one row per function
        frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") else f for f in stack.split(";")]
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "| self % | function |", "|---:|---|"]
    lines += [f"| {c / total:.1%} | `{f}` |" for f, c in own.most_common(top)]
    lines += ["", "| inclusive % | function |", "|---:|---|"]
    lines += [f"| {c / total:.1%} | `{f}` |" for f, c in inclusive.most_common(top)]
    return "\n".join(lines)


async def main(devices: int, seconds: int, keep: Path | None = None, gil: bool = False) -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        try:
            async with (
                subscribed(broker.port) as subscriber,
                running_ward(devices, broker, Path(tmp) / "ward") as ward,
            ):
                await wait_all_online(subscriber, devices)
                out = Path(tmp) / "profile.txt"
                process = await asyncio.create_subprocess_exec(
                    spy,
                    "record",
                    "--pid",
                    str(ward.daemon.pid),
                    "--duration",
                    str(seconds),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                    "--nonblocking",
                    *(["--gil"] if gil else []),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await process.wait()
                raw = out.read_text() if out.exists() else ""
                if keep is not None:
                    keep.write_text(raw)  # noqa: ASYNC240 (after the measurement)
        finally:
            broker.stop()
    return summarize(raw)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's collapsed stacks here")
    parser.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL (CPU, no waits)"
    )
    arguments = parser.parse_args()
    print(asyncio.run(main(arguments.devices, arguments.seconds, arguments.raw, arguments.gil)))

"""The nurses' station under a ward's load: frame rate, redraws and memory of the dashboard page
in a real Chromium, with 200 beds of 10 edges publishing, against a quiet baseline in the
same run.

A real Mosquitto on a free port, the dashboard (with its history) in this process, and
``edges`` simulated edges (:mod:`tests.web.ward`) of ``beds`` labelled beds each: every bed's
monitor publishes once a second, its pump every 5 s (about 240 messages/s at the defaults).
Headless Debian Chromium shows the page at 1920x1080, first the bed grid then the central
station. For each view, two phases of ``seconds`` s: ``quiet`` (nothing published, the
baseline) then ``load``. Per phase: frames drawn per second (``requestAnimationFrame``),
long tasks (> 50 ms) and their total time, the page's redraws per second, the JS heap used
after a forced garbage collection at the end, and the DOM node count.

Usage: ``python -m bench.station [--edges 10] [--beds 20] [--seconds 20]``. Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import CDPSession, Page

from tests.mosquitto import Mosquitto
from tests.web.browser import chromium
from tests.web.helpers import eventually, web_config
from tests.web.serving import served
from tests.web.ward import Ward, ward

__all__ = ["PhaseResult", "station"]

PROBE = """() => {
    if (window.__bench) return;
    const b = window.__bench = { frames: 0, long: 0, longMs: 0 };
    const loop = () => { b.frames++; requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) { b.long++; b.longMs += e.duration; }
    }).observe({ type: "longtask", buffered: false });
}"""
READ = """() => ({ frames: __bench.frames, long: __bench.long, longMs: __bench.longMs,
    renders: __dashboard.renders, nodes: document.getElementsByTagName('*').length })"""


@dataclass
class PhaseResult:
    """One phase of one view."""

    view: str
    phase: str
    seconds: float
    fps: float
    long_tasks: int
    long_ms: float
    renders_per_s: float
    heap_mb: float
    nodes: int
    published: int


async def _heap_mb(cdp: CDPSession) -> float:
    await cdp.send("HeapProfiler.collectGarbage")
    metrics = await cdp.send("Performance.getMetrics")
    used = next(m["value"] for m in metrics["metrics"] if m["name"] == "JSHeapUsedSize")
    return float(used) / 2**20


async def _phase(
    page: Page, cdp: CDPSession, beds: Ward, view: str, phase: str, seconds: float, tick0: int
) -> PhaseResult:
    before: dict[str, Any] = await page.evaluate(READ)
    started = time.monotonic()
    published = 0
    tick = tick0
    while time.monotonic() - started < seconds:
        if phase == "load":
            published += await beds.tick(tick)
            tick += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started) % 1.0))
    elapsed = time.monotonic() - started
    after: dict[str, Any] = await page.evaluate(READ)
    return PhaseResult(
        view=view,
        phase=phase,
        seconds=elapsed,
        fps=(after["frames"] - before["frames"]) / elapsed,
        long_tasks=after["long"] - before["long"],
        long_ms=after["longMs"] - before["longMs"],
        renders_per_s=(after["renders"] - before["renders"]) / elapsed,
        heap_mb=await _heap_mb(cdp),
        nodes=after["nodes"],
        published=published,
    )


async def station(edges: int, beds_per_edge: int, seconds: float) -> list[PhaseResult]:
    """Run both views through both phases; the results in order."""
    results: list[PhaseResult] = []
    with tempfile.TemporaryDirectory() as directory:
        broker = Mosquitto(Path(directory) / "mosquitto")
        broker.start()
        try:
            config = web_config(
                broker.url,
                view_requires_login=False,
                history={"path": str(Path(directory) / "history.sqlite")},
            )
            async with (
                served(config) as dashboard,
                ward(broker.port, edges, beds_per_edge) as beds,
                chromium() as browser,
            ):
                await beds.set_up(alarms=6)
                await beds.tick(0)
                total = edges * beds_per_edge
                await eventually(lambda: len(dashboard.dashboard.state.beds) == total, 30)
                context = await browser.new_context(viewport={"width": 1920, "height": 1080})
                page = await context.new_page()
                cdp = await context.new_cdp_session(page)
                await cdp.send("Performance.enable")
                tick = 1
                for view in ("grid", "station"):
                    query = "/?view=station" if view == "station" else "/"
                    await page.goto(dashboard.url + query)
                    await page.wait_for_function(
                        f"() => document.querySelectorAll('article.bed').length === {total}"
                    )
                    await page.evaluate(PROBE)
                    await page.wait_for_timeout(3000)  # the trends' first fetches
                    for phase in ("quiet", "load"):
                        result = await _phase(page, cdp, beds, view, phase, seconds, tick)
                        tick += int(seconds) + 1
                        results.append(result)
        finally:
            broker.stop()
    return results


def markdown(results: list[PhaseResult], edges: int, beds: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"{edges * beds} beds from {edges} edges, 1920x1080, headless Chromium (software "
        "rendering); quiet = nothing published (the baseline), load = every monitor once a "
        "second and every pump every 5 s. The machine is shared with other work: compare "
        "phases of this run only.",
        "",
        "| view | phase | s | messages/s | frames/s | long tasks (ms) | redraws/s | JS heap MB |"
        " DOM nodes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.view} | {r.phase} | {r.seconds:.0f} | {r.published / r.seconds:.0f} | "
        f"{r.fps:.1f} | {r.long_tasks} ({r.long_ms:.0f}) | {r.renders_per_s:.1f} | "
        f"{r.heap_mb:.1f} | {r.nodes} |"
        for r in results
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--edges", type=int, default=10)
    parser.add_argument("--beds", type=int, default=20, help="beds per edge")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        results = asyncio.run(station(args.edges, args.beds, args.seconds))
        print(markdown(results, args.edges, args.beds))


if __name__ == "__main__":
    main()

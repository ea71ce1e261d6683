"""The central-station view in a real Chromium on a 1920x1080 screen: 24 labelled beds of two
edges fit on it with large BP and SpO2 numerals, the alarms come first by priority, and a
burst of updates is drawn a few times a second, not once per event."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.mosquitto import Mosquitto
from tests.web.browser import chromium, log_in
from tests.web.helpers import eventually, web_config
from tests.web.serving import served
from tests.web.ward import ward

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

SHOTS = os.environ.get("DASHBOARD_SCREENSHOTS")
BEDS = 24


async def test_24_beds_fit_one_1080p_screen_alarms_first_and_redraws_are_coalesced(
    mosquitto: Mosquitto,
) -> None:
    async with (
        served(web_config(mosquitto.url, view_requires_login=False)) as dashboard,
        ward(mosquitto.port, edges=2, beds=BEDS // 2) as beds,
        chromium() as browser,
    ):
        await beds.set_up(alarms=3)
        await beds.tick(0)
        await eventually(lambda: len(dashboard.dashboard.state.beds) == BEDS)
        page = await (
            await browser.new_context(viewport={"width": 1920, "height": 1080})
        ).new_page()
        await log_in(page, dashboard.url + "/?view=station", "nurse.kim")
        await expect(page.locator("body")).to_have_class("station")
        cards = page.locator("article.bed")
        await expect(cards).to_have_count(BEDS)
        await expect(cards.locator("h3")).to_have_text([f"Bed {n}" for n in range(1, BEDS + 1)])

        if SHOTS:
            await page.screenshot(path=str(Path(SHOTS) / "station.png"))
        # alarms first, by priority; every bed on the screen; large numerals
        marks = page.locator("#alarm-list li .mark")
        await expect(marks).to_have_text(["HIGH !!!", "MED !!", "LOW !"])
        alarms_box = await page.locator("#alarm-list").bounding_box()
        boxes = [await cards.nth(i).bounding_box() for i in range(BEDS)]
        assert alarms_box is not None
        assert all(box is not None for box in boxes)
        assert min(b["y"] for b in boxes if b) >= alarms_box["y"] + alarms_box["height"]
        assert max(b["y"] + b["height"] for b in boxes if b) <= 1080
        sizes = await page.evaluate(
            """() => [...document.querySelectorAll('article.bed .vital .value')].slice(0, 4)
                .map((el) => parseFloat(getComputedStyle(el).fontSize))"""
        )
        assert sizes[0] >= 40  # BP
        assert sizes[1] >= 40  # SpO2
        assert sizes[2] < sizes[0]  # HR smaller

        # a burst: 20 ticks of every bed (about 560 events) as fast as the broker takes them
        before = await page.evaluate("window.__dashboard.renders")
        started = time.monotonic()
        for t in range(1, 21):
            await beds.tick(t)
        last = beds.bed_names()[-1][1]
        await expect(page.locator("article.bed").last).to_contain_text("/", timeout=10_000)
        await eventually(lambda: dashboard.dashboard.journal.last > 500, timeout=20)
        await page.wait_for_timeout(600)
        elapsed = time.monotonic() - started
        renders = await page.evaluate("window.__dashboard.renders") - before
        assert last.startswith("bed-2-")
        assert renders <= 4 * elapsed + 3, (renders, elapsed)

"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright): an
alarm raised by the real daemon from a pty monitor shows in red within seconds, a nurse
acknowledges it and every open page shows who did; a viewer cannot acknowledge; the banner
shows when the server goes away and the alarms published meanwhile are there after it comes
back; two edges on one broker show on one page; a bed its edge removed leaves the page."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Page, expect

from drivers.textline.codec import encode_vitals
from tests.integration.daemon_process import DaemonProcess
from tests.integration.test_daemon_pty import Feeder, feeding
from tests.mosquitto import Mosquitto
from tests.ptys import PtyDevice
from tests.web.browser import CHROMIUM, chromium, log_in
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import ACK_SECRET, DASHBOARD_ID, web_config
from tests.web.serving import served

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]

RED = "rgb(215, 0, 31)"


def vitals(sbp: float, dbp: float) -> bytes:
    return encode_vitals({"SBP": sbp, "DBP": dbp, "HR": 92, "SPO2": 97, "RR": 15}).to_bytes()


def daemon_config(directory: Path, monitor: Path, mqtt_url: str) -> Path:
    config = {
        "site": "clinic",
        "edge_id": "edge-ward-1",
        "log": {"level": "INFO", "format": "json"},
        "mqtt": {"url": mqtt_url},
        "http": {"enabled": False},
        "acknowledgements": {"dashboards": {DASHBOARD_ID: {"secret": ACK_SECRET}}},
        "storage": {
            "outbox_path": str(directory / "outbox.sqlite"),
            "alarm_log_path": str(directory / "alarm-log.sqlite"),
        },
        "beds": {"chair-1": {}},
        "devices": [
            {"id": "monitor-1", "bed": "chair-1", "driver": "textline", "port": str(monitor)}
        ],
    }
    path = directory / "edge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[PtyDevice]:
    device = PtyDevice(tmp_path / "ttyMONITOR")
    yield device
    device.close()


def alarm_rows(page: Page, priority: str = "high") -> Any:
    return page.locator(f"#alarm-list li.alarm.prio-{priority}")


async def test_a_hypertensive_bed_shows_red_and_a_nurse_acknowledges_it_on_every_page(
    tmp_path: Path, monitor: PtyDevice, mosquitto: Mosquitto
) -> None:
    edge = DaemonProcess(
        "run", "--config", str(daemon_config(tmp_path, monitor.path, mosquitto.url))
    )
    feeder = Feeder(monitor, vitals(124, 80))
    async with (
        served(web_config(mosquitto.url)) as dashboard,
        chromium() as browser,
        feeding(feeder),
    ):
        nurse = await (await browser.new_context()).new_page()
        viewer = await (await browser.new_context()).new_page()
        await log_in(nurse, dashboard.url, "nurse.kim")
        await log_in(viewer, dashboard.url, "viewer.lee")
        await edge.start()
        try:
            for page in (nurse, viewer):
                await expect(page.locator("article.bed")).to_contain_text("124/80", timeout=15_000)
            feeder.line = vitals(204, 104)  # high at once: SBP >= 200
            fed = time.monotonic()
            for page in (nurse, viewer):
                row = alarm_rows(page)
                await expect(row).to_have_count(1, timeout=10_000)
                await expect(row.locator(".mark")).to_have_text("HIGH !!!")
                await expect(row).to_contain_text("chair-1")
            seconds = time.monotonic() - fed
            assert seconds < 5, f"the alarm took {seconds:.1f} s to show"
            row = alarm_rows(nurse)
            await expect(row).to_have_css("animation-name", "flash-high")
            bed_mark = nurse.locator("article.bed .mark.prio-high")
            await expect(bed_mark).to_contain_text("HIGH !!!")
            await expect(bed_mark).to_have_css("background-color", RED)
            await expect(alarm_rows(viewer).locator("button.ack")).to_be_hidden()

            await row.locator("button.ack").click()
            for page in (nurse, viewer):
                status = alarm_rows(page).locator(".status")
                await expect(status).to_contain_text("ACKNOWLEDGED by nurse.kim", timeout=10_000)
                await expect(status).to_contain_text(f"via {DASHBOARD_ID}")
            await expect(row).to_have_css("animation-name", "none")
            await expect(row.locator("button.ack")).to_be_hidden()
        finally:
            await edge.stop()


async def test_a_viewer_sees_the_alarm_but_cannot_acknowledge_it(mosquitto: Mosquitto) -> None:
    alarm = hypertension("bed-2", priority="medium", sbp=166)
    async with (
        served(web_config(mosquitto.url)) as dashboard,
        fake_edge(mosquitto.port) as edge,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await log_in(page, dashboard.url, "viewer.lee")
        await expect(page.locator("#who-name")).to_contain_text("cannot acknowledge")
        await edge.alarm(alarm)
        row = alarm_rows(page, "medium")
        await expect(row.locator(".mark")).to_have_text("MED !!")
        await expect(row.locator("button.ack")).to_be_hidden()
        status = await page.evaluate(
            """async ([id, site]) => (await fetch(`/api/alarms/${id}/ack`, {
                method: "POST", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({site})})).status""",
            [alarm.alarm_id, "test-site"],
        )
        assert status == 403
        assert edge.acks == []


async def test_the_banner_shows_while_the_server_is_away_and_nothing_is_missed(
    mosquitto: Mosquitto,
) -> None:
    config = web_config(mosquitto.url)
    first, meanwhile = hypertension("bed-1"), hypertension("bed-3", priority="low")
    async with fake_edge(mosquitto.port) as edge, chromium() as browser:
        page = await browser.new_page()
        async with served(config) as dashboard:
            port = dashboard.port
            await log_in(page, dashboard.url, "nurse.kim")
            await edge.alarm(first)
            await expect(alarm_rows(page)).to_have_count(1)
            await expect(page.locator("#banner")).to_be_hidden()
        banner = page.locator("#banner")
        await expect(banner).to_contain_text("Connection to the dashboard server lost")
        await edge.alarm(meanwhile)
        await edge.vitals("bed-3", 131, 84)
        async with served(config, port):
            await expect(alarm_rows(page, "low")).to_contain_text("bed-3", timeout=15_000)
            await expect(alarm_rows(page)).to_contain_text("bed-1")
            await expect(banner).to_be_hidden()
            await expect(page.locator("#who-name")).to_contain_text("nurse.kim")


async def test_two_edges_on_one_broker_show_on_one_page(mosquitto: Mosquitto) -> None:
    async with (
        served(web_config(mosquitto.url)) as dashboard,
        fake_edge(mosquitto.port, "north", "edge-north") as north,
        fake_edge(mosquitto.port, "south", "edge-south") as south,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await log_in(page, dashboard.url, "viewer.lee")
        await north.vitals("bed-1", 128, 82)
        await south.vitals("bed-1", 142, 88)
        await south.alarm(hypertension("bed-1", priority="medium", sbp=166))
        beds = page.locator("article.bed")
        await expect(beds).to_have_count(2)
        await expect(beds.nth(0)).to_contain_text("north · edge-north")
        await expect(beds.nth(0)).to_contain_text("128/82")
        await expect(beds.nth(1)).to_contain_text("south · edge-south")
        await expect(beds.nth(1)).to_contain_text("MED !! ALARM")
        await expect(page.locator("#edges")).to_contain_text("edge-north (north): online")
        await expect(page.locator("#edges")).to_contain_text("edge-south (south): online")


async def test_an_estimated_infusion_start_is_marked_on_the_phase_clock(
    mosquitto: Mosquitto,
) -> None:
    async with (
        served(web_config(mosquitto.url)) as dashboard,
        fake_edge(mosquitto.port, "clinic", "edge-ward-1") as edge,
        chromium() as browser,
    ):
        page = await browser.new_page()
        await log_in(page, dashboard.url, "viewer.lee")
        await edge.session("bed-1", minutes_ago=31, estimated=True)
        await edge.session("bed-2", minutes_ago=12)
        phases = page.locator("article.bed .phase")
        await expect(phases).to_have_count(2)
        await expect(phases.nth(0)).to_contain_text("Infusion · ~31:")
        await expect(phases.nth(1)).to_contain_text("Infusion · 12:")


async def test_screenshot_of_a_live_high_alarm(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Writes ``$DASHBOARD_SCREENSHOT`` (docs/dashboard.png) when set."""
    target = Path(os.environ.get("DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
    async with (
        served(web_config(mosquitto.url)) as dashboard,
        fake_edge(mosquitto.port, "clinic", "edge-ward-1") as edge,
        chromium() as browser,
    ):
        beds = (("chair-1", 204, 112, 31), ("chair-2", 138, 86, 18), ("chair-3", 126, 79, 6))
        for bed, sbp, dbp, minutes in beds:
            await edge.session(bed, minutes_ago=minutes)
            await edge.device_state(bed, "monitor-1", "online")
            await edge.device_state(bed, "pump-1", "online")
            await edge.vitals(bed, sbp, dbp, age_s=4)
            await edge.pump(bed, rate=52.5, volume=18.4)
        await edge.session("chair-4", phase="observation", minutes_ago=62)
        await edge.device_state("chair-4", "monitor-1", "stale")
        await edge.vitals("chair-4", 131, 84, age_s=95)
        await edge.alarm(hypertension("chair-1", sbp=204))
        page = await browser.new_page(viewport={"width": 1400, "height": 820})
        await log_in(page, dashboard.url, "nurse.kim")
        await expect(page.locator("article.bed")).to_have_count(4)
        await expect(alarm_rows(page)).to_have_count(1)
        await page.screenshot(path=str(target), animations="disabled")  # flashing: the red phase
    png = await asyncio.to_thread(target.read_bytes)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_bed_card_follows_its_readings_sent_as_deltas(mosquitto: Mosquitto) -> None:
    async with (
        fake_edge(mosquitto.port) as edge,
        chromium() as browser,
        served(web_config(mosquitto.url)) as dashboard,
    ):
        await edge.device_state("bed-1", "monitor-1", "online")
        await edge.device_state("bed-1", "pump-1", "online")
        await edge.vitals("bed-1", 121, 79, hr=84, spo2=97)
        await edge.pump("bed-1", rate=52.5, volume=18.4)
        page = await browser.new_page()
        await log_in(page, dashboard.url, "nurse.kim")
        card = page.locator('[data-key="test-site/bed-1"]')
        await expect(card).to_contain_text("18.4 mL infused")
        last = dashboard.dashboard.journal.last
        for n in range(1, 4):  # after the snapshot: every one of these is a delta
            await edge.vitals("bed-1", 121, 79, hr=100 + n, spo2=97)
            await edge.pump("bed-1", rate=52.5, volume=18.4 + n)
            await asyncio.sleep(0.6)  # a bed tick apart
        await expect(card).to_contain_text("21.4 mL infused")
        await expect(card).to_contain_text("103")
        for still in ("121", "79", "97", "52.5 mL/h", "pump-1", "monitor-1"):
            await expect(card).to_contain_text(still)  # the parts no delta carried
        sent = dashboard.dashboard.journal.after(last) or []
        assert sent
        assert all(e.parts for e in sent if e.type == "bed")


async def test_a_bed_removed_by_its_edge_leaves_the_page_and_comes_back_when_heard(
    mosquitto: Mosquitto,
) -> None:
    async with (
        fake_edge(mosquitto.port) as edge,
        chromium() as browser,
        served(web_config(mosquitto.url)) as dashboard,
    ):
        for bed in ("bed-1", "bed-2"):
            await edge.device_state(bed, "monitor-1", "online")
            await edge.vitals(bed, 121, 79)
        await edge.session("bed-2")
        page = await browser.new_page()
        await log_in(page, dashboard.url, "nurse.kim")
        cards = page.locator("article.bed")
        await expect(cards).to_have_count(2)
        await edge.remove_bed("bed-2", "monitor-1")  # a reload removed chair 2
        await expect(cards).to_have_count(1)
        await expect(cards.nth(0)).to_have_attribute("data-key", "test-site/bed-1")
        await page.reload()  # a page opened now does not show it either
        await expect(cards).to_have_count(1)
        await edge.vitals("bed-2", 118, 76)  # added back and heard: shown again
        await expect(cards).to_have_count(2)

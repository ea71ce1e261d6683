"""Trends and session records in a real Chromium: a whole simulated session is published by its
edge's own outbox writer to a real broker, the dashboard records it in its SQLite history, and
the page draws it with uPlot.

Set DASHBOARD_SCREENSHOTS=DIR to save the screenshots of the README there."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from edge.alarms.vitals import SYSTOLIC
from edge.web.session_record import COLUMNS
from tests.mosquitto import Mosquitto
from tests.web.browser import chromium, log_in
from tests.web.helpers import eventually, web_config
from tests.web.history_scenario import BED, LABEL, SITE, Played, played, publish_all
from tests.web.serving import Served, served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

SHOTS = os.environ.get("DASHBOARD_SCREENSHOTS")


async def _shot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=str(Path(SHOTS) / name))


async def _publish_and_wait(mosquitto: Mosquitto, dashboard: Served, run: Played) -> None:
    await publish_all(mosquitto.url, run.messages)
    state, recorder = dashboard.dashboard.state, dashboard.dashboard.recorder
    assert recorder is not None
    await eventually(lambda: state.received >= len(run.messages), timeout=60)
    await eventually(lambda: not recorder.pending and recorder.written > 0, timeout=10)


async def test_the_trend_shows_the_bp_rise_and_the_alarm_marks_where_they_happened(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    run = played("hypertensive-responder")
    config = web_config(mosquitto.url, history={"path": str(tmp_path / "history.sqlite")})
    async with served(config) as dashboard, chromium() as browser:
        await _publish_and_wait(mosquitto, dashboard, run)
        page = await (
            await browser.new_context(viewport={"width": 1600, "height": 1000})
        ).new_page()
        await log_in(page, dashboard.url, "viewer.lee")
        card = page.locator("article.bed")
        await expect(card.locator("h3")).to_have_text(LABEL)  # the label its edge published
        await expect(card.locator(".bed-trend canvas")).to_have_count(2, timeout=10_000)
        await _shot(page, "bed-grid.png")

        await card.click()  # the larger view
        await expect(page.locator("#trend-large canvas")).to_have_count(3, timeout=10_000)
        await expect(page.locator("#trend-sessions a").first).to_be_visible()
        await _shot(page, "trend-view.png")
        drawn: dict[str, Any] = await page.evaluate(
            """() => {
                const u = document.getElementById('trend-large').uplots[0];
                const dpr = devicePixelRatio || 1;
                const at = (m) => [Math.round(m.x * dpr), Math.round(m.y * dpr)];
                const pixels = u.marks.map((m) =>
                    Array.from(u.ctx.getImageData(...at(m), 1, 1).data));
                return { t: u.data[0], sbp: u.data[1], marks: u.marks, pixels };
            }"""
        )

    # The BP rise: the cuffs as measured, from the baseline to the peak near minute 42.
    cuffs = [(t, v) for t, v in zip(drawn["t"], drawn["sbp"], strict=True) if v is not None]
    minute = {round((t - run.wall0.timestamp()) / 60): v for t, v in cuffs}
    assert minute[0] == pytest.approx(134, abs=6)
    peak_at, peak = max(cuffs, key=lambda cuff: cuff[1])
    assert peak >= 190
    assert 39 <= (peak_at - run.wall0.timestamp()) / 60 <= 44

    # The marks: the raise (medium, first cuff >= 160) and the break-through to high (the
    # second cuff >= 180 within 5 min), at the times of the alarm log, in their colours.
    transitions = [
        (e.at.timestamp(), e.alarm.priority)
        for e in run.alarms()
        if e.transition in ("raised", "priority_raised")
    ]
    assert [(m["t"], m["priority"]) for m in drawn["marks"]] == transitions
    assert [p for _, p in transitions] == ["medium", "high"]
    for (t, priority), pixel in zip(transitions, drawn["pixels"], strict=True):
        cuff = dict(cuffs)[t]  # each mark falls on the cuff that raised it
        assert cuff >= (180 if priority == "high" else 160)
        expected = (0xD7, 0x00, 0x1F) if priority == "high" else (0xFF, 0xD4, 0x00)
        assert tuple(pixel[:3]) == pytest.approx(expected, abs=40)


async def test_the_record_page_of_a_completed_normal_session_and_its_downloads(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    run = played("normal-ketamine")
    session = next(e.session for e in run.sessions() if e.session.phase == "closed")
    config = web_config(mosquitto.url, history={"path": str(tmp_path / "history.sqlite")})
    async with served(config) as dashboard, chromium() as browser:
        await _publish_and_wait(mosquitto, dashboard, run)
        context = await browser.new_context(viewport={"width": 900, "height": 1200})
        page = await context.new_page()
        await log_in(page, dashboard.url, "viewer.lee")
        await page.locator("article.bed").click()
        # the closed session, listed after the next one its edge opened at the next cuff
        link = page.locator(f'#trend-sessions a[href$="session={session.session_id}"]')
        await expect(link).to_be_visible(timeout=10_000)
        await expect(page.locator("#trend-sessions li")).to_have_count(2)
        href = await link.get_attribute("href")
        assert href is not None
        await page.goto(dashboard.url + href)
        await expect(page.locator("#record")).to_be_visible(timeout=10_000)
        await expect(page.locator("#bed-name")).to_have_text(f"{LABEL} ({BED})")
        await expect(page.locator("#facts")).to_contain_text("Volume delivered35.0 mL")
        await expect(page.locator("#facts")).to_contain_text("52.5 mL/h from")
        await expect(page.locator("#alarms")).to_contain_text("No alarm in this session.")
        await expect(page.locator("#limit-changes")).to_contain_text("No alarm limit changed")
        await expect(page.locator("#chart canvas")).to_have_count(3)
        record: dict[str, Any] = await page.evaluate("window.__record")
        rows = page.locator("#charted tr")
        await expect(rows).to_have_count(len(record["charted"]))
        assert len(record["charted"]) > 40
        first_cuff = next(r for r in record["charted"] if r["reason"] == "nibp")
        sbp = first_cuff["values"][SYSTOLIC]["value"]
        await expect(rows.first).to_contain_text(f"{sbp:.0f}/")
        await _shot(page, "session-record.png")
        pdf = await page.pdf(format="A4")  # the print CSS lays it out on A4 pages
        assert pdf.startswith(b"%PDF")

        json_href = await page.locator("#download-json").get_attribute("href")
        csv_href = await page.locator("#download-csv").get_attribute("href")
        assert json_href is not None
        assert csv_href is not None
        got_json = await page.request.get(dashboard.url + json_href)
        got_csv = await page.request.get(dashboard.url + csv_href)
        assert "attachment" in got_csv.headers["content-disposition"]
        downloaded = json.loads(await got_json.text())
        csv_text = await got_csv.text()

    assert downloaded["charted"] == record["charted"]
    lines = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(line["at"], line["reason"]) for line in lines] == [
        (row["at"], row["reason"]) for row in downloaded["charted"]
    ]
    for line, row in zip(lines, downloaded["charted"], strict=True):
        for code, column in COLUMNS.items():
            value = row["values"].get(code)
            assert (float(line[column]) if line[column] else None) == (value and value["value"])
    assert downloaded["site"] == SITE


async def test_a_nurse_writes_the_records_note_on_the_page_when_notes_are_on(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    run = played("normal-ketamine")
    session = next(e.session for e in run.sessions() if e.session.phase == "closed")
    history = {"path": str(tmp_path / "history.sqlite"), "notes": True}
    async with (
        served(web_config(mosquitto.url, history=history)) as dashboard,
        chromium() as browser,
    ):
        await _publish_and_wait(mosquitto, dashboard, run)
        page = await (await browser.new_context()).new_page()
        await log_in(page, dashboard.url, "nurse.kim")
        await page.goto(
            f"{dashboard.url}/record?site={SITE}&bed={BED}&session={session.session_id}"
        )
        await expect(page.locator("#note-box")).to_be_visible()
        await expect(page.locator("#note-text")).to_have_text("—")
        await page.fill("#note-input", "KM")
        await page.click("#note-form button[type=submit]")
        await expect(page.locator("#note-status")).to_have_text("Saved")
        await page.reload()
        await expect(page.locator("#note-text")).to_have_text("KM")
        await expect(page.locator("#note-by")).to_contain_text("nurse.kim")

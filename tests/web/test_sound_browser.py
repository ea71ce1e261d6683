"""Audible alarm signals in a real Chromium: off until the nurse turns them on, the highest
unacknowledged priority sounds with its own burst, and acknowledging silences that alarm."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.mosquitto import Mosquitto
from tests.web.browser import chromium, log_in
from tests.web.edges import fake_edge, hypertension
from tests.web.helpers import web_config
from tests.web.serving import served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def _sound(page: Page) -> Any:
    return await page.evaluate(
        "({current: AlarmSound.state.current, played: AlarmSound.state.played.map(p => p.priority),"
        " audio: AlarmSound.state.ctx ? AlarmSound.state.ctx.state : null})"
    )


async def test_sound_is_off_until_clicked_then_the_highest_sounds_until_acknowledged(
    mosquitto: Mosquitto,
) -> None:
    async with (
        served(web_config(mosquitto.url)) as dashboard,
        fake_edge(mosquitto.port, acks=True) as edge,
        chromium() as browser,
    ):
        await edge.alarm(hypertension("bed-1", sbp=204, priority="high"))
        await edge.alarm(hypertension("bed-2", sbp=165, priority="medium"))
        await edge.digest()
        page = await (await browser.new_context()).new_page()
        await log_in(page, dashboard.url, "nurse.kim")
        rows = page.locator("#alarm-list li.alarm")
        await expect(rows).to_have_count(2)
        button = page.locator("#sound-toggle")
        await expect(button).to_have_attribute("aria-pressed", "false")
        await expect(button).to_contain_text("off")
        await page.wait_for_timeout(1200)
        assert (await _sound(page))["played"] == []  # silent until the nurse asks

        await button.click()
        await expect(button).to_have_attribute("aria-pressed", "true")
        await expect(button).to_contain_text("ON")
        await page.wait_for_function("() => AlarmSound.state.played.length > 0")
        sound = await _sound(page)
        assert sound["current"] == "high"
        assert sound["played"] == ["high"]
        assert sound["audio"] in ("running", "suspended")  # a real Web Audio context

        await rows.filter(has_text="bed-1").locator("button.ack").click()
        await expect(rows.filter(has_text="bed-1")).to_contain_text("ACKNOWLEDGED")
        await page.wait_for_function("() => AlarmSound.state.current === 'medium'")
        assert (await _sound(page))["played"] == ["high", "medium"]  # medium at once

        await rows.filter(has_text="bed-2").locator("button.ack").click()
        await page.wait_for_function("() => AlarmSound.state.current === null")
        played = (await _sound(page))["played"]
        await page.wait_for_timeout(1500)
        assert (await _sound(page))["played"] == played == ["high", "medium"]

        await button.click()
        await expect(button).to_have_attribute("aria-pressed", "false")

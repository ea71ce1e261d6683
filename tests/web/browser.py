"""Browser test plumbing: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright, expect

from tests.web.helpers import PASSWORDS

__all__ = ["CHROMIUM", "chromium", "log_in"]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (Playwright's own browser download is not used)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(page: Page, url: str, name: str) -> None:
    """Open the dashboard and log in as ``name``."""
    await page.goto(url)
    await page.fill("#login-name", name)
    await page.fill("#login-password", PASSWORDS[name])
    await page.click("#login button[type=submit]")
    await expect(page.locator("#who-name")).to_contain_text(name)

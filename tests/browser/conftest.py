"""Browser tests: the real gateway on port 0 (the gateway tests' `serving`), the page in
headless Debian Chromium driven by Playwright's async API, in the same event loop as the server.

The server runs on a `ManualClock` set to the real time, so the page's clock-skew correction
sees a sensible offset and tests move deadlines by hand (`site.clock.advance`). Every wait is a
Playwright expectation with a timeout; nothing sleeps to synchronise. Screenshots go to
``artifacts/screenshots/``. Without Chromium or Playwright the browser tests are skipped, except
under CI (``$CI`` set), where that is a failure: CI installs both (``scripts/setup-browser.sh``).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from auctionactors.domain.timestamps import SECOND
from auctionactors.gateway.config import GatewayConfig
from auctionactors.runtime.clock import ManualClock
from auctionactors.store.base import NewUser
from tests.gateway.conftest import Served, serving

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

CHROMIUM = os.environ.get("AUCTIONACTORS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_MS = 5000
CONFIG = GatewayConfig(port=0, hello_timeout_s=5.0, ping_interval_s=None, close_timeout_s=2.0)
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (run scripts/setup-browser.sh)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (run scripts/setup-browser.sh)"
    return None


@dataclass
class Site:
    """The served gateway plus what the browser tests need: its page URL and the clock."""

    served: Served
    pages: list[Page] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.served.http
        return f"http://{host}:{port}/"

    @property
    def clock(self) -> ManualClock:
        return self.served.clock


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    now = time.time_ns() // 1000 // SECOND * SECOND  # real time, whole seconds
    async with serving(tmp_path / "site.db", CONFIG, ManualClock(now)) as served:
        yield Site(served)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    missing = browser_missing()
    if missing is not None:
        if os.environ.get("CI"):  # CI installs both (scripts/setup-browser.sh): never skip there
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


Opener = Callable[..., Awaitable["Page"]]


@pytest.fixture
async def open_page(browser: Browser, site: Site) -> AsyncIterator[Opener]:
    """Sign a user in, in a browser context of its own (``await open_page(people.s1)``). Any
    JavaScript error on any page fails the test."""
    from playwright.async_api import expect

    contexts: list[BrowserContext] = []

    async def opener(user: NewUser, viewport: ViewportSize | None = None) -> Page:
        context = await browser.new_context(
            viewport=viewport or DESKTOP,
            locale="en-GB",
            timezone_id="Europe/Amsterdam",
        )
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: site.errors.append(f"{user.user_id}: {exc}"))
        page.on("console", lambda msg: _console(site, user, msg.type, msg.text))
        await page.goto(site.url)
        await page.get_by_label("Access token").fill(user.token)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_test_id("connection")).to_have_attribute(
            "data-status", "live", timeout=WAIT_MS
        )
        site.pages.append(page)
        return page

    yield opener
    for context in contexts:
        await context.close()
    assert not site.errors, site.errors


def _console(site: Site, user: NewUser, kind: str, text: str) -> None:
    # A refused reconnection attempt is logged by Chromium itself, not by the page.
    if kind == "error" and "WebSocket connection to" not in text:
        site.errors.append(f"{user.user_id}: {text}")


async def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:  # from the top, or the sticky bar is drawn where the page was scrolled to
        await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(path), full_page=full_page)
    return path


def product(page: Page, product_id: str) -> Any:
    """The card of one product on an auction screen."""
    return page.get_by_test_id(f"product-{product_id}")

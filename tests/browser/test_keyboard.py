"""Everything from the keyboard alone: a supplier signs in, opens the auction, places a bid,
revokes it and bids again; the buyer signs in and selects the winning solution. Only Tab, typing
and Enter: no clicks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.gateway.conftest import Conn, open_auction

from .axe import VIEWPORTS, check_a11y
from .conftest import WAIT_MS, Site, product, shot

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, ViewportSize

    from auctionactors.store.base import NewUser

MAX_TABS = 150


async def tab_to(page: Page, target: Any) -> None:
    """Press Tab until `target` has the focus (and fail if it never gets it)."""
    await target.wait_for()
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        if await target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


async def sign_in(browser: Browser, site: Site, user: NewUser, viewport: ViewportSize) -> Page:
    from playwright.async_api import expect

    context = await browser.new_context(viewport=viewport, locale="en-GB")
    page = await context.new_page()
    page.on("pageerror", lambda exc: site.errors.append(f"{user.user_id}: {exc}"))
    await page.goto(site.url)
    await expect(page.get_by_label("Access token")).to_be_focused()
    await page.keyboard.type(user.token)
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "live")
    return page


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
async def test_bid_revoke_and_select_by_keyboard(site: Site, browser: Browser, size: str) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    viewport = VIEWPORTS[size]
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    try:
        auction_id = await open_auction(admin, people, start=site.clock.now(), duration_s=300)

        supplier = await sign_in(browser, site, people.s1, viewport)
        await shot(supplier, f"kbd-01-supplier-list-{size}")
        await tab_to(supplier, supplier.locator(f'[data-auction="{auction_id}"] a'))
        await supplier.keyboard.press("Enter")
        card = product(supplier, "p1")
        price = card.get_by_label("Price (USD/MT)")
        await tab_to(supplier, price)
        await supplier.keyboard.type("2.50")
        await supplier.keyboard.press("Enter")
        await expect(card.get_by_test_id("own-bid")).to_contain_text("2.50")
        await shot(supplier, f"kbd-02-supplier-bid-{size}", full_page=False)

        await tab_to(supplier, card.get_by_role("button", name="Revoke my bid"))
        await supplier.keyboard.press("Enter")
        confirm = card.get_by_role("button", name=re.compile(r"^(Yes|Confirm)", re.I))
        if await confirm.count():  # a confirmation step, where the page asks for one
            await tab_to(supplier, confirm)
            await supplier.keyboard.press("Enter")
        await expect(card.get_by_test_id("own-bid")).to_have_count(0)
        await shot(supplier, f"kbd-03-supplier-revoked-{size}", full_page=False)

        site.clock.advance(1)
        await tab_to(supplier, price)
        await supplier.keyboard.type("2.25")
        await supplier.keyboard.press("Enter")
        await expect(card.get_by_test_id("own-bid")).to_contain_text("2.25")
        await check_a11y(supplier, f"supplier after keyboard bids ({size})")

        site.clock.advance(300)
        buyer = await sign_in(browser, site, people.buyer, viewport)
        await tab_to(buyer, buyer.locator(f'[data-auction="{auction_id}"] a'))
        await buyer.keyboard.press("Enter")
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("choose the winning")
        await tab_to(buyer, buyer.get_by_test_id("solution-best-overall-select"))
        await buyer.keyboard.press("Enter")
        await expect(buyer.get_by_test_id("selection-confirm")).to_be_visible()
        await shot(buyer, f"kbd-04-buyer-confirm-{size}", full_page=False)
        await tab_to(buyer, buyer.get_by_test_id("confirm-selection"))
        await buyer.keyboard.press("Enter")
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Closed")
        await expect(supplier.get_by_test_id("status-line")).to_contain_text("You won")
        await shot(buyer, f"kbd-05-buyer-closed-{size}")
        await check_a11y(buyer, f"buyer after keyboard selection ({size})")
        for page in (supplier, buyer):
            await page.context.close()
    finally:
        await admin.close()
    assert not site.errors, site.errors

"""axe-core on every screen of the page, at desktop and phone widths: sign-in, the auction list,
a new auction, the buyer's view pending, open, in decision and closed, the supplier's and the
observer's view, the operator screen, and an admin's audit log and replay. No serious or
critical violation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from auctionactors.domain.timestamps import SECOND
from tests.gateway.conftest import Conn, bid, open_auction

from .axe import VIEWPORTS, check_a11y
from .conftest import WAIT_MS, Opener, Site, shot

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, ViewportSize


async def screen(page: Page, name: str, size: str) -> None:
    await shot(page, f"a11y-{name}-{size}")
    await check_a11y(page, f"{name} ({size})")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
async def test_every_screen_passes_axe(
    site: Site, open_page: Opener, browser: Browser, size: str
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    viewport: ViewportSize = VIEWPORTS[size]
    people = site.served.people

    # Signing in.
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    try:
        signin = await context.new_page()
        await signin.goto(site.url)
        await expect(signin.get_by_label("Access token")).to_be_focused()
        await screen(signin, "01-signin", size)
        await signin.get_by_label("Access token").fill("not-a-token")
        await signin.get_by_role("button", name="Sign in").click()
        await expect(signin.get_by_test_id("signin-error")).to_be_visible()
        await screen(signin, "02-signin-refused", size)
    finally:
        await context.close()

    admin = await Conn.open(site.served.url, people.admin.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    try:
        later = site.clock.now() + 3600 * SECOND
        pending_id = await open_auction(admin, people, start=later, products=2, duration_s=300)
        open_id = await open_auction(admin, people, start=site.clock.now(), duration_s=300)
        await s2.ok("place_bids", auction_id=open_id, bids=[bid("p1", "2.50")])

        buyer = await open_page(people.buyer, viewport)
        await expect(buyer.get_by_test_id("auction-card")).to_have_count(2)
        await screen(buyer, "03-list", size)
        await buyer.get_by_test_id("new-auction").click()
        await expect(buyer.get_by_test_id("create-form")).to_be_visible()
        await screen(buyer, "04-new-auction", size)
        await buyer.goto(f"{site.url}#/auction/{pending_id}")
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Scheduled")
        await screen(buyer, "05-buyer-pending", size)
        await buyer.goto(f"{site.url}#/auction/{open_id}")
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Bidding is open")
        await expect(buyer.get_by_test_id("chart-p1").locator("svg")).to_have_count(1)
        await screen(buyer, "06-buyer-open", size)

        s1 = await open_page(people.s1, viewport)
        await s1.goto(f"{site.url}#/auction/{open_id}")
        await expect(s1.get_by_test_id("status-line")).to_be_visible()
        await screen(s1, "07-supplier-open", size)

        await admin.ok("invite_observer", auction_id=open_id, company_id=people.observer.company_id)
        observer = await open_page(people.observer, viewport)
        await observer.goto(f"{site.url}#/auction/{open_id}")
        await expect(observer.get_by_test_id("buyer-status")).to_contain_text("Bidding is open")
        await expect(observer.get_by_test_id("chart-p1").locator("svg")).to_have_count(1)
        await expect(observer.get_by_test_id("replay")).to_have_count(0)  # not for observers
        await expect(observer.locator("#app")).not_to_contain_text("null")  # seen on screen once
        await screen(observer, "07b-observer-open", size)

        # (The admin signs in while the auction is live: finished auctions are not in its list.)
        admin_page = await open_page(people.admin, viewport)

        site.clock.advance(301)
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("choose the winning")
        await screen(buyer, "08-buyer-decision", size)
        await admin.ok("select_solution", auction_id=open_id, solution="best_overall")
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Closed")
        await screen(buyer, "09-buyer-closed", size)
        await expect(s1.get_by_test_id("status-line")).to_contain_text("unsuccessful")
        await screen(s1, "10-supplier-closed", size)

        await admin_page.goto(f"{site.url}#/operator")
        await expect(admin_page.get_by_test_id("operator")).not_to_contain_text("Loading")
        await screen(admin_page, "11-operator", size)
        await admin_page.goto(f"{site.url}#/auction/{pending_id}")
        await expect(admin_page.get_by_test_id("start-now")).to_be_visible()
        await screen(admin_page, "12-admin-pending", size)
        await admin_page.goto(f"{site.url}#/auction/{open_id}")
        await admin_page.get_by_test_id("load-audit").click()
        await expect(admin_page.get_by_test_id("audit-log")).to_be_visible()
        await admin_page.get_by_test_id("replay-first").click()
        await expect(admin_page.get_by_test_id("replay-event")).to_contain_text("auction_created")
        await screen(admin_page, "13-admin-audit-replay", size)
    finally:
        await admin.close()
        await s2.close()

"""Phones: no screen scrolls sideways at 360 px (every screen: sign-in, list, new auction, the
supplier's auction, the buyer's before, during, in decision and closed, the admin's decision and
operator screens, the audit log); the header says who is signed in; the audit log stacks its
rows. Screenshots of every screen at 360 and 390 px."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.gateway.conftest import Conn, bid, open_auction

from .conftest import SCREENSHOTS, WAIT_MS, Opener, Site, shot

if TYPE_CHECKING:
    from playwright.async_api import Page, ViewportSize

# The elements sticking out on the right, for the failure message; and the boxes inside the page
# that scroll sideways themselves (a table cut off in a panel is as bad as a page too wide).
WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  const inner = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    const name = `${el.tagName.toLowerCase()}.${el.className}`;
    if (r.width && r.right > width + 0.5) out.push(`${name} ${Math.round(r.right)}px`);
    const overflow = getComputedStyle(el).overflowX;
    if (r.width && (overflow === "auto" || overflow === "scroll") &&
        el.scrollWidth > el.clientWidth + 1) {
      inner.push(`${name} ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 8), inner};
}"""


async def no_sideways(page: Page, name: str) -> None:
    """The document is no wider than the screen, and nothing in it scrolls sideways; a
    screenshot of it."""
    await shot(page, name)
    wide: dict[str, Any] = await page.evaluate(WIDE)
    assert wide["scroll"] <= wide["width"], f"{name} scrolls sideways: {wide}"
    assert not wide["inner"], f"{name} has boxes that scroll sideways: {wide}"


async def seed(site: Site) -> dict[str, str]:
    """Auctions in every status a screen shows, two products each, with bids; ids by status."""
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s1 = await Conn.open(site.served.url, people.s1.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    now = site.clock.now()
    short = {"duration_s": 60, "decision_duration_s": 3600, "soft_close_s": 0, "products": 2}
    try:
        ids = {
            "pending": await open_auction(admin, people, start=now + 3_600_000_000, products=2),
            "open": await open_auction(admin, people, start=now, duration_s=7200, products=2),
            "decision": await open_auction(admin, people, start=now, **short),
            "closed": await open_auction(admin, people, start=now, **short),
        }
        for status in ("open", "decision", "closed"):
            for conn, amounts in ((s1, ("612.25", "731.50")), (s2, ("611.75", "735.00"))):
                bids = [bid("p1", amounts[0]), bid("p2", amounts[1], comment="incl. barging")]
                await conn.ok("place_bids", auction_id=ids[status], bids=bids)
        site.clock.advance(61)
        for _ in range(100):
            view = (await admin.ok("get_view", auction_id=ids["closed"]))["view"]
            if view["status"] == "decision":
                break
        await admin.ok(
            "select_solution", auction_id=ids["closed"], solution="best_overall",
            comment="Awarded after a call", port_agent="Port Agency Ltd",
        )  # fmt: skip
        return ids
    finally:
        for conn in (admin, s1, s2):
            await conn.close()


async def visit(page: Page, auction_id: str) -> None:
    from playwright.async_api import expect

    await page.locator(f'[data-auction="{auction_id}"] a').first.click()
    await expect(page.locator(".auction-head")).to_be_visible()


async def back(page: Page) -> None:
    await page.get_by_role("link", name="← All auctions").click()


@pytest.mark.parametrize(
    "viewport",
    [
        pytest.param({"width": 360, "height": 780}, id="360"),
        pytest.param({"width": 390, "height": 844}, id="390"),
    ],
)
async def test_no_screen_scrolls_sideways_on_a_phone(
    site: Site, open_page: Opener, browser: Any, viewport: ViewportSize
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    ids = await seed(site)
    w = viewport["width"]

    # Sign-in, in a context of its own.
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    try:
        signin = await context.new_page()
        await signin.goto(site.url)
        await expect(signin.get_by_test_id("signin")).to_be_visible()
        await no_sideways(signin, f"phone-{w}-01-signin")
    finally:
        await context.close()

    # The buyer: the list, the new auction form, its auction in every status, the audit log.
    buyer = await open_page(people.buyer, viewport)
    await expect(buyer.get_by_test_id("who")).to_be_visible()  # who is signed in, on a phone too
    await expect(buyer.get_by_test_id("who")).to_have_text("Bea Buyer")
    await expect(buyer.locator(".who-company")).to_be_visible()
    await expect(buyer.get_by_test_id("auction-card")).to_have_count(4)
    await no_sideways(buyer, f"phone-{w}-02-buyer-list")
    await buyer.get_by_test_id("new-auction").click()
    await buyer.get_by_test_id("supplier-picker-search").fill("Baltic")
    await buyer.get_by_test_id("supplier-picker-search").press("Enter")
    await buyer.get_by_role("button", name="+ Add product").click()
    await no_sideways(buyer, f"phone-{w}-03-new-auction")
    await buyer.get_by_role("link", name="Back to auctions").click()
    for n, status in enumerate(("pending", "open", "decision", "closed"), start=4):
        await visit(buyer, ids[status])
        await expect(buyer.get_by_test_id("status")).to_have_text(status, ignore_case=True)
        await no_sideways(buyer, f"phone-{w}-{n:02d}-buyer-{status}")
        if status != "closed":
            await back(buyer)
    await buyer.get_by_test_id("load-audit").click()
    log = buyer.get_by_test_id("audit-log")
    await expect(log).to_be_visible()
    await no_sideways(buyer, f"phone-{w}-08-audit")
    await log.scroll_into_view_if_needed()
    await buyer.screenshot(path=str(SCREENSHOTS / f"phone-{w}-08b-audit-rows.png"))
    # Stacked: each event is one block as wide as the log, its cells one under the other.
    row = log.locator("tbody tr").first
    cells = row.locator("td")
    boxes = [await cells.nth(i).bounding_box() for i in range(await cells.count())]
    row_box = await row.bounding_box()
    assert row_box is not None and all(b is not None for b in boxes)
    assert boxes[-1]["y"] > boxes[0]["y"]  # type: ignore[index]  # not one line of five
    assert boxes[-1]["width"] > row_box["width"] * 0.8  # type: ignore[index]  # the "what" is wide

    # The supplier's auction, open and closed.
    s1 = await open_page(people.s1, viewport)
    await no_sideways(s1, f"phone-{w}-09-supplier-list")
    await visit(s1, ids["open"])
    await no_sideways(s1, f"phone-{w}-10-supplier-open")
    await back(s1)
    await visit(s1, ids["closed"])
    await no_sideways(s1, f"phone-{w}-11-supplier-closed")

    # The admin: the decision view (to select), the new auction form, the operator screen.
    admin = await open_page(people.admin, viewport)
    await no_sideways(admin, f"phone-{w}-12-admin-list")
    await visit(admin, ids["decision"])
    await no_sideways(admin, f"phone-{w}-13-admin-decision")
    await admin.get_by_test_id("solutions-by-supplier").scroll_into_view_if_needed()
    await admin.screenshot(path=str(SCREENSHOTS / f"phone-{w}-13b-admin-by-supplier.png"))
    await admin.goto(site.url + "#/new")
    await expect(admin.get_by_test_id("create-form")).to_be_visible()
    await no_sideways(admin, f"phone-{w}-14-admin-new-auction")
    await admin.goto(site.url + "#/operator")
    await expect(admin.get_by_test_id("tile-live")).to_be_visible()
    await no_sideways(admin, f"phone-{w}-15-operator")

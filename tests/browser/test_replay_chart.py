"""The audit trail, visible: the price chart per product (the buyer's and a supplier's, with the
extension marked, moving live) and the replay slider (keyboard, buttons), at desktop and phone
widths, with axe-core on each screen."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.gateway.conftest import Conn, bid, open_auction

from .axe import VIEWPORTS, check_a11y
from .conftest import WAIT_MS, Opener, Site, shot

if TYPE_CHECKING:
    from playwright.async_api import Page, ViewportSize


# Moves the slider through every seq from 1 to the last but one within one task (as a fast drag
# does between two timer ticks), and returns the `get_view … at_seq` requests the page has sent
# by the time it sends its first.
DRAG = """async () => {
  const conn = window.auctionPage.connection;
  const asked = [];
  const request = conn.request;
  let sent;
  const first = new Promise((resolve) => { sent = resolve; });
  conn.request = function (type, fields) {
    if (type === "get_view") {
      asked.push(fields.at_seq);
      sent();
    }
    return request.call(this, type, fields);
  };
  const slider = document.querySelector("[data-testid=replay-slider]");
  const end = Number(slider.max) - 1; // a position not shown yet (a shown one is kept)
  for (let seq = 1; seq <= end; seq++) {
    slider.value = String(seq);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
  }
  await first; // without the debounce, every move would have asked by now
  conn.request = request;
  return [end, asked];
}"""


async def fits(page: Page, width: int) -> None:
    """The page's charts and replay lie within `width`, and so does what they hold."""
    for testid in ("price-charts", "replay"):
        panel = page.get_by_test_id(testid)
        if not await panel.count():
            continue
        right = await panel.evaluate(
            "el => Math.max(...[el, ...el.querySelectorAll('*')].map("
            "(e) => e.getBoundingClientRect().right))"
        )
        assert right <= width, f"{testid} reaches {right} px on a {width} px screen"


def chart_title(page: Page, product_id: str) -> object:
    return page.get_by_test_id(f"chart-{product_id}").locator("svg title")


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
async def test_price_chart_and_replay(site: Site, open_page: Opener, size: str) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    viewport: ViewportSize = VIEWPORTS[size]
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s1 = await Conn.open(site.served.url, people.s1.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    try:
        auction_id = await open_auction(
            admin, people, start=site.clock.now(), products=2, duration_s=300, soft_close_s=180
        )
        seqs = {}
        seqs["s1 2.50"] = (
            await s1.ok(
                "place_bids", auction_id=auction_id, bids=[bid("p1", "2.50"), bid("p2", "3.00")]
            )
        )["seq"]
        site.clock.advance(2)
        seqs["s2 2.25"] = (
            await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.25")])
        )["seq"]
        site.clock.advance(2)
        seqs["s1 2.00"] = (
            await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.00")])
        )["seq"]
        site.clock.advance(200)  # 96 s left, inside the 180 s soft close: the lead extends
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "1.75")])

        # The buyer's chart: the best offer over time, one extension marked.
        buyer = await open_page(people.buyer, viewport)
        await buyer.locator(f'[data-auction="{auction_id}"] a').click()
        await expect(chart_title(buyer, "p1")).to_contain_text("best offer 1.75")
        await expect(chart_title(buyer, "p1")).to_contain_text("1 extension")
        await expect(chart_title(buyer, "p2")).to_contain_text("best offer 3.00")
        chart = buyer.get_by_test_id("chart-p1")
        await expect(chart.get_by_test_id("extension-mark")).to_have_count(1)
        await expect(chart.get_by_test_id("best-line")).to_have_attribute(
            "d", re.compile(r"^M.*V.*")
        )
        await expect(chart.get_by_test_id("mine-line")).to_have_count(0)
        await buyer.get_by_test_id("price-charts").scroll_into_view_if_needed()
        await shot(buyer, f"replay-01-buyer-chart-{size}", full_page=False)
        await check_a11y(buyer, "buyer view, open, with charts")

        # A supplier's chart: its own offer beside the best one, live.
        s1_page = await open_page(people.s1, viewport)
        await s1_page.locator(f'[data-auction="{auction_id}"] a').click()
        await expect(chart_title(s1_page, "p1")).to_contain_text("best offer 1.75, your offer 2.00")
        await expect(s1_page.get_by_test_id("chart-p1").get_by_test_id("mine-line")).to_have_count(
            1
        )
        site.clock.advance(2)
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "1.50")])
        await expect(chart_title(s1_page, "p1")).to_contain_text("best offer 1.50, your offer 1.50")
        await expect(chart_title(buyer, "p1")).to_contain_text("best offer 1.50")
        await expect(chart_title(buyer, "p1")).to_contain_text("2 extensions")
        # The extension is announced to screen readers (a polite live region), in words.
        await expect(buyer.get_by_test_id("countdown-announce")).to_contain_text(
            "Bidding extended: it now closes at"
        )
        await s1_page.get_by_test_id("price-charts").scroll_into_view_if_needed()
        await shot(s1_page, f"replay-02-supplier-chart-{size}", full_page=False)
        await check_a11y(s1_page, "supplier view with charts")
        # No replay for a supplier.
        await expect(s1_page.get_by_test_id("replay")).to_have_count(0)

        # The replay: the slider from the keyboard, then the buttons.
        replay = buyer.get_by_test_id("replay")
        await expect(replay).to_be_visible()
        slider = buyer.get_by_test_id("replay-slider")
        await slider.focus()
        await buyer.keyboard.press("Home")
        await expect(buyer.get_by_test_id("replay-event")).to_contain_text("auction_created")
        await expect(buyer.get_by_test_id("replay-view")).to_contain_text("No bids.")
        for _ in range(seqs["s2 2.25"] - 1):
            await buyer.keyboard.press("ArrowRight")
        await expect(buyer.get_by_test_id("replay-position")).to_contain_text(
            f"Event {seqs['s2 2.25']} of"
        )
        await expect(buyer.get_by_test_id("replay-event")).to_contain_text(
            "North Sea Fuels bid 2.25"
        )
        rows = replay.get_by_test_id("replay-bid")
        await expect(rows.first).to_contain_text("North Sea Fuels")
        await expect(rows.first).to_contain_text("2.25")
        await replay.scroll_into_view_if_needed()
        await shot(buyer, f"replay-03-buyer-replay-{size}", full_page=False)
        await check_a11y(buyer, "buyer replay")
        await replay.get_by_role("button", name="Next ▶").click()
        await expect(buyer.get_by_test_id("replay-event")).to_contain_text(
            f"#{seqs['s2 2.25'] + 1}"
        )
        await expect(buyer.get_by_test_id("replay-event")).to_contain_text(
            "Baltic Bunkers bid 2.00"
        )
        await expect(rows.first).to_contain_text("2.00")
        await replay.get_by_role("button", name="◀ Prev").click()
        await expect(rows.first).to_contain_text("2.25")
        # The live view above is untouched by the replay.
        await expect(
            buyer.get_by_test_id("product-p1").get_by_test_id("bid").first
        ).to_contain_text("1.50")
        # Dragging the slider over many seqs asks the server once, where it rests.
        end, asked = await buyer.evaluate(DRAG)
        assert asked == [end], asked
        await expect(buyer.get_by_test_id("replay-event")).to_contain_text(f"#{end} ")
        # Neither the charts nor the replay make the screen scroll sideways, nor at 360 px.
        for page in (buyer, s1_page):
            await fits(page, viewport["width"])
        await buyer.set_viewport_size({"width": 360, "height": 800})
        await fits(buyer, 360)
        await buyer.set_viewport_size(viewport)
        await replay.get_by_role("button", name="Latest event").click()
        await expect(rows.first).to_contain_text("1.50")
        await shot(buyer, f"replay-04-buyer-replay-latest-{size}")
    finally:
        for conn in (admin, s1, s2):
            await conn.close()

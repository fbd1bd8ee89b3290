"""One WebSocket per page, automatic reconnection and resume: whatever happened while the
connection was down reaches the page, in order, with no gap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.parties import Caller
from auctionactors.gateway.server import Gateway
from tests.gateway.conftest import Conn, bid, open_auction

from .conftest import CONFIG, WAIT_MS, Opener, Site, product, shot

if TYPE_CHECKING:
    from playwright.async_api import Page


async def page_state(page: Page, auction_id: str) -> dict[str, Any]:
    """The page's own record of an auction: last seq, gaps seen, seqs of the events received."""
    state: dict[str, Any] = await page.evaluate(
        """(id) => {
            const a = window.auctionPage.model.get(id);
            return {seq: a.seq, gaps: a.gaps, events: a.events.map((e) => e.seq),
                    reconnects: window.auctionPage.connection.reconnects};
        }""",
        auction_id,
    )
    return state


async def server_seq(site: Site, auction_id: str) -> int:
    seq: int = await site.served.supervisor.query(auction_id, lambda s: getattr(s, "seq", 0))
    return seq


async def test_a_dropped_connection_resumes_with_every_missed_update(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    try:
        auction_id = await open_auction(admin, people, start=site.clock.now(), products=2)
        page = await open_page(people.s1)
        await page.get_by_test_id("auction-card").click()
        await expect(page.get_by_test_id("status-line")).to_have_text(
            "You have not bid on this auction"
        )
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "3.00")])
        await expect(product(page, "p1").get_by_test_id("bid-to-beat-value")).to_have_text("3.00")

        # The page's connection drops and stays down while the auction moves on.
        await page.evaluate("window.auctionPage.drop({hold: true})")
        pill = page.get_by_test_id("connection")
        await expect(pill).to_have_text("Reconnecting…")
        await expect(pill).to_have_attribute("data-status", "reconnecting")
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.75")])
        await s2.ok("post_comment", auction_id=auction_id, text="not for S1's eyes")
        await s2.ok(
            "place_bids", auction_id=auction_id, bids=[bid("p1", "2.50"), bid("p2", "4.00")]
        )
        await shot(page, "13-supplier-reconnecting", full_page=False)
        await expect(product(page, "p1").get_by_test_id("bid-to-beat-value")).to_have_text("3.00")

        # Back: resumed with since, every missed event arrives, in order, then live again.
        await page.evaluate("window.auctionPage.release()")
        await expect(pill).to_have_attribute("data-status", "live")
        await expect(product(page, "p1").get_by_test_id("bid-to-beat-value")).to_have_text("2.50")
        await expect(product(page, "p2").get_by_test_id("bid-to-beat-value")).to_have_text("4.00")
        seq = await server_seq(site, auction_id)
        state = await page_state(page, auction_id)
        assert state["seq"] == seq and state["gaps"] == 0
        assert state["events"] == list(range(state["events"][0], seq + 1))
        assert state["reconnects"] == 1
        activity = page.get_by_test_id("activity").locator("li")
        await expect(activity.first).to_contain_text("A competitor bid 4.00")
        await page.get_by_label("Price (USD/MT)").first.fill("2.25")
        await page.get_by_role("button", name="Place bid").first.click()
        await expect(product(page, "p1").get_by_test_id("own-bid")).to_contain_text("2.25")
    finally:
        await admin.close()
        await s2.close()


async def test_a_restarted_server_is_rejoined_and_caught_up(site: Site, open_page: Opener) -> None:
    """The server goes away (its gateway stops; bids still arrive through the runtime, as from
    another node), then comes back on the same port: the page reconnects by itself."""
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    served = site.served
    people = served.people
    admin = await Conn.open(served.url, people.admin.token)
    auction_id = await open_auction(admin, people, start=site.clock.now())
    await admin.close()
    page = await open_page(people.s1)
    await page.get_by_test_id("auction-card").click()
    await expect(page.get_by_test_id("status-line")).to_have_text(
        "You have not bid on this auction"
    )

    port = served.gateway.port
    await served.gateway.stop()
    pill = page.get_by_test_id("connection")
    await expect(pill).to_have_attribute("data-status", "reconnecting")
    s2 = Caller(people.s2.user_id, people.s2.company_id, "supplier")
    for cents in (300, 275):
        command = PlaceBids(by=s2, bids=(BidRequest(product_id="p1", amount=cents),))
        await served.supervisor.ask(auction_id, command)

    again = Gateway(served.supervisor, served.directory, replace(CONFIG, port=port))
    await again.start()
    try:
        await expect(pill).to_have_attribute("data-status", "live", timeout=8000)
        await expect(product(page, "p1").get_by_test_id("bid-to-beat-value")).to_have_text("2.75")
        state = await page_state(page, auction_id)
        assert state["seq"] == await server_seq(site, auction_id)
        assert state["gaps"] == 0
        # Live again: a new bid shows up without a reload.
        s2_conn = await Conn.open(again.url, people.s2.token)
        await s2_conn.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.50")])
        await s2_conn.close()
        await expect(product(page, "p1").get_by_test_id("bid-to-beat-value")).to_have_text("2.50")
    finally:
        await again.stop()
        served.supervisor.subscribers.remove(again.hub)


async def test_the_token_stays_out_of_the_url_and_a_bad_one_is_refused(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    page = await open_page(people.buyer)
    assert people.buyer.token not in page.url
    stored = await page.evaluate("sessionStorage.getItem('auctionactors.token')")
    assert stored == people.buyer.token
    await expect(page.get_by_test_id("auction-list")).to_contain_text("No auctions yet")
    # A reload signs in again from sessionStorage.
    await page.reload()
    await expect(page.get_by_test_id("who")).to_have_text("Bea Buyer")
    await page.get_by_role("button", name="Sign out").click()
    assert await page.evaluate("sessionStorage.getItem('auctionactors.token')") is None
    await page.get_by_label("Access token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("signin-error")).to_have_text("The server refused this token.")
    assert await page.evaluate("sessionStorage.getItem('auctionactors.token')") is None
    await shot(page, "00-sign-in-refused")

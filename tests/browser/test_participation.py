"""Around the bids: RSVP, barges and their approval, comments, revoking, a custom selection by
the buyer, canceling; and the admin's operator screen with a quarantined auction."""

from __future__ import annotations

import re

from auctionactors.domain.timestamps import SECOND
from auctionactors.store.base import NewEvent
from tests.gateway.conftest import Conn, bid, open_auction

from .conftest import WAIT_MS, Opener, Site, product, shot


async def test_barges_comments_rsvp_revoke_custom_selection_and_cancel(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    try:
        auction_id = await open_auction(
            admin, people, start=site.clock.now(), duration_s=300, traded_bids_allowed=True
        )
        other_id = await open_auction(admin, people, start=site.clock.now())
        s1 = await open_page(people.s1)
        buyer = await open_page(people.buyer)
        await expect(s1.get_by_test_id("auction-card")).to_have_count(2)
        await s1.locator(f'[data-auction="{auction_id}"] a').click()
        await buyer.locator(f'[data-auction="{auction_id}"] a').click()

        # RSVP, a barge and a comment from S1.
        await s1.get_by_test_id("rsvp-maybe").click()
        await expect(s1.get_by_test_id("rsvp-maybe")).to_have_attribute("aria-pressed", "true")
        await s1.get_by_label("Barge", exact=True).fill("Nordic Star")
        await s1.get_by_label("IMO", exact=True).fill("9400001")
        await s1.get_by_role("button", name="Submit barge").click()
        await expect(s1.get_by_test_id("barges")).to_contain_text("submitted")
        await s1.get_by_label("Comment", exact=True).last.fill("Can deliver from 06:00")
        await s1.get_by_role("button", name="Post").click()
        await expect(s1.get_by_test_id("comments")).to_contain_text("Can deliver from 06:00")

        # The buyer sees them live and approves the barge; S1 sees the approval.
        await expect(buyer.get_by_test_id("comments")).to_contain_text("Baltic Bunkers")
        await expect(buyer.locator(".badge.rsvp-maybe")).to_have_text("maybe")
        barge = buyer.get_by_test_id("barge")
        await expect(barge).to_contain_text("Nordic Star")
        await barge.get_by_role("button", name="Approve").click()
        await expect(barge.get_by_test_id("barge-status")).to_have_text("approved")
        await expect(s1.get_by_test_id("barges")).to_contain_text("approved")

        # A traded bid with a comment, revoked, then a plain one; S2 bids lower.
        card = product(s1, "p1")
        await card.get_by_label("Price (USD/MT)").fill("2.00")
        await card.get_by_label("Comment").fill("incl. barging")
        await card.get_by_label("Traded bid").check()
        await card.get_by_role("button", name="Place bid").click()
        await expect(card.get_by_test_id("own-bid")).to_contain_text("2.00")
        await expect(card).to_contain_text("traded")
        await expect(buyer.get_by_test_id("bid")).to_contain_text("incl. barging")
        await card.get_by_role("button", name="Revoke my bid").click()
        sure = card.get_by_test_id("revoke-confirm")
        await expect(sure).to_contain_text("Revoke your bid of 2.00")
        await card.get_by_test_id("confirm-revoke").click()
        await expect(card).to_contain_text("No bids yet.")
        await expect(buyer.get_by_test_id("bid")).to_have_count(0)
        site.clock.advance(1)
        await card.get_by_label("Price (USD/MT)").fill("2.25")
        await card.get_by_role("button", name="Place bid").click()
        await expect(card.get_by_test_id("own-bid")).to_contain_text("2.25")
        site.clock.advance(1)
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.50")])
        await expect(s1.get_by_test_id("status-line")).to_have_text(
            "You have the best overall offer for this auction"
        )
        await shot(s1, "14-supplier-participation")

        # After the close the buyer picks S2's bid by hand: S1 did not win.
        site.clock.advance(300)
        await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("choose the winning")
        await buyer.get_by_label(re.compile(r"Pick North Sea Fuels at 2\.50")).check()
        await buyer.get_by_test_id("select-picked").click()
        confirm = buyer.get_by_test_id("selection-confirm")
        await expect(confirm).to_contain_text("3,750.00")
        await shot(buyer, "15-buyer-custom-pick")
        await buyer.get_by_test_id("confirm-selection").click()
        await expect(buyer.get_by_test_id("solution-winning")).to_contain_text("North Sea Fuels")
        await expect(s1.get_by_test_id("status-line")).to_have_text(
            "Regretfully, you were unsuccessful in this auction. Thank you for quoting"
        )

        # The buyer cancels the other auction; S1's list says so.
        await buyer.goto(site.url + f"#/auction/{other_id}")
        await buyer.get_by_test_id("cancel-auction").click()
        await buyer.get_by_test_id("confirm-cancel").click()
        await expect(buyer.get_by_test_id("buyer-status")).to_have_text("Canceled.")
        await s1.get_by_role("link", name="Auctions", exact=True).click()
        other = s1.locator(f'[data-auction="{other_id}"]')
        await expect(other.get_by_test_id("status")).to_have_text("Canceled")
        await expect(other.get_by_test_id("card-status-line")).to_have_text(
            "The auction was canceled"
        )
        await shot(s1, "16-supplier-list-finished")
    finally:
        await admin.close()
        await s2.close()


async def test_operator_screen_shows_and_revives_a_quarantined_auction(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    served = site.served
    people = served.people
    admin_conn = await Conn.open(served.url, people.admin.token)
    s1 = await Conn.open(served.url, people.s1.token)
    try:
        healthy = await open_auction(admin_conn, people, start=site.clock.now())
        broken = await open_auction(admin_conn, people, start=site.clock.now() + 60 * SECOND)
        admin = await open_page(people.admin)
        await expect(admin.get_by_test_id("auction-card")).to_have_count(2)
        await admin.get_by_role("link", name="Operator").click()
        await expect(admin.get_by_test_id("tile-live").locator(".tile-value")).to_have_text("2")
        await expect(admin.get_by_test_id("operator")).to_contain_text("every auction's actor")

        # Another writer slips an undecodable event into one stream: it is quarantined.
        await served.directory.store.append(broken, 1, [NewEvent("bid_placed", b"{}")])
        await s1.error("place_bids", auction_id=broken, bids=[bid()])
        await served.supervisor.quiesce()
        await admin.get_by_test_id("operator-refresh").click()
        await expect(admin.get_by_test_id("tile-quarantined").locator(".tile-value")).to_have_text(
            "1"
        )
        row = admin.get_by_test_id("troubled").locator("tbody tr")
        await expect(row).to_contain_text(broken)
        await expect(row).to_contain_text("quarantined")
        await shot(admin, "17-admin-operator")
        await row.get_by_test_id("revive").click()  # still damaged: quarantined again
        await expect(admin.get_by_test_id("operator-error")).to_be_hidden()
        await expect(row).to_contain_text("quarantined")
        assert healthy != broken
    finally:
        await admin_conn.close()
        await s1.close()


async def test_anonymous_bidding_and_an_admin_selecting_after_expiry(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    admin_conn = await Conn.open(site.served.url, people.admin.token)
    s1 = await Conn.open(site.served.url, people.s1.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    try:
        auction_id = await open_auction(
            admin_conn, people, start=site.clock.now(), anonymous_bidding=True
        )
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.00")])
        site.clock.advance(1)
        await s2.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "1.75")])
        buyer = await open_page(people.buyer)
        admin = await open_page(people.admin)
        for page in (buyer, admin):
            await page.goto(site.url + f"#/auction/{auction_id}")
        rows = buyer.get_by_test_id("bid")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text(re.compile(r"Supplier \d"))
        await expect(buyer.get_by_test_id("ranking")).not_to_contain_text("Baltic Bunkers")
        await expect(admin.get_by_test_id("bid").nth(0)).to_contain_text("North Sea Fuels")

        # Bidding and the decision time pass with no selection: only the admin may still select.
        site.clock.advance(600 + 900 + 1)
        await expect(buyer.get_by_test_id("buyer-status")).to_have_text(
            "Expired: no offer was selected in time."
        )
        await expect(buyer.get_by_test_id("solution-best-overall-select")).to_have_count(0)
        await expect(admin.get_by_test_id("buyer-status")).to_contain_text("as an admin")
        await admin.get_by_test_id("solution-best-overall-select").click()
        await admin.get_by_test_id("confirm-selection").click()
        await expect(admin.get_by_test_id("buyer-status")).to_have_text(
            "Closed: a winning offer was selected."
        )
        await expect(buyer.get_by_test_id("solution-winning")).to_contain_text("1.75")
        await shot(buyer, "18-buyer-anonymous-closed")
    finally:
        for conn in (admin_conn, s1, s2):
            await conn.close()


async def test_an_observer_sees_the_board_read_only(site: Site, open_page: Opener) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s1 = await Conn.open(site.served.url, people.s1.token)
    try:
        auction_id = await open_auction(admin, people, start=site.clock.now())
        await admin.ok(
            "invite_observer", auction_id=auction_id, company_id=people.observer.company_id
        )
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "2.00")])
        page = await open_page(people.observer)
        await page.get_by_test_id("auction-card").locator("a").click()
        await expect(page.get_by_test_id("bid")).to_contain_text("Baltic Bunkers")
        await expect(page.get_by_test_id("product-p1")).to_contain_text("Vessel 1")
        await expect(page.get_by_test_id("product-p1")).not_to_contain_text("MV Ship 1")
        await expect(page.get_by_role("button", name="Cancel auction")).to_have_count(0)
        await expect(page.get_by_test_id("load-audit")).to_have_count(0)
    finally:
        await admin.close()
        await s1.close()

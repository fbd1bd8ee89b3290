"""The whole auction through the page: a buyer creates it, an admin starts it, two suppliers bid
and auto-bid in two browsers and see the ranking change live, a late bid moves the countdown,
the buyer selects the best overall solution and both suppliers see their outcome."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from auctionactors.domain.timestamps import SECOND

from .conftest import DESKTOP, PHONE, WAIT_MS, Opener, Site, product, shot
from .picking import pick_suppliers

if TYPE_CHECKING:
    from playwright.async_api import Page


async def fill_product(page: Page, index: int, vessel: str, imo: str, fuel: str) -> None:
    row = page.get_by_test_id("product-row").nth(index)
    await row.get_by_label("Vessel").fill(vessel)
    await row.get_by_label("IMO").fill(imo)
    await row.get_by_label("Fuel").fill(fuel)
    await row.get_by_label("Qty (MT)").fill("1500")


async def place_bid(page: Page, product_id: str, amount: str = "", floor: str = "") -> None:
    card = product(page, product_id)
    await card.get_by_label("Price (USD/MT)").fill(amount)
    await card.get_by_label("Auto-bid floor").fill(floor)
    await card.get_by_role("button", name="Place bid").click()


async def closes_at(site: Site, auction_id: str) -> int:
    def read(state: object) -> int:
        value = getattr(state, "closes_at", None)
        assert isinstance(value, int)
        return value

    return await site.served.supervisor.query(auction_id, read)


async def test_buyer_creates_suppliers_bid_buyer_selects(site: Site, open_page: Opener) -> None:
    from playwright.async_api import expect

    people = site.served.people
    expect.set_options(timeout=WAIT_MS)

    # The buyer creates the auction through the page.
    buyer = await open_page(people.buyer)
    await buyer.get_by_test_id("new-auction").click()
    await buyer.get_by_label("Port", exact=True).fill("Rotterdam")
    await pick_suppliers(buyer, "Baltic Bunkers", "North Sea Fuels")
    await fill_product(buyer, 0, "MV Aurora", "9300001", "VLSFO 0.5%")
    await buyer.get_by_role("button", name="+ Add product").click()
    await fill_product(buyer, 1, "MV Borealis", "9300002", "MGO 0.1%")
    await buyer.get_by_label("PO", exact=True).fill("PO-2611")
    await shot(buyer, "01-buyer-create")
    await buyer.get_by_test_id("create-submit").click()
    await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Scheduled")
    match = re.search(r"#/auction/(.+)$", buyer.url)
    assert match is not None
    auction_id = match.group(1)
    await shot(buyer, "02-buyer-pending")

    # An admin starts it by hand.
    admin = await open_page(people.admin)
    await expect(admin.get_by_test_id("auction-card")).to_have_count(1)
    await admin.get_by_test_id("auction-card").click()
    await shot(admin, "03-admin-pending")
    await admin.get_by_test_id("start-now").click()
    await expect(admin.get_by_test_id("status").first).to_have_text("Open")
    await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Bidding is open")

    # Two suppliers, each in a browser of its own, see it in their list and open it.
    s1 = await open_page(people.s1)
    s2 = await open_page(people.s2)
    for page in (s1, s2):
        card = page.get_by_test_id("auction-card")
        await expect(card).to_contain_text("You have not bid on this auction")
        await expect(card.get_by_test_id("countdown-value")).to_have_text(
            re.compile(r"^(10:00|9:5\d)$")
        )
    await shot(s1, "04-supplier-list")
    for page in (s1, s2):
        await page.get_by_test_id("auction-card").click()
        await expect(page.get_by_test_id("status-line")).to_have_text(
            "You have not bid on this auction"
        )

    # The tick is checked before sending; S1 bids on both products.
    await place_bid(s1, "p1", "1.30")
    await expect(product(s1, "p1").get_by_test_id("bid-error")).to_have_text(
        "The price must be a multiple of 0.25"
    )
    site.clock.advance(2)
    await place_bid(s1, "p1", "2.00")
    await expect(product(s1, "p1").get_by_test_id("own-bid")).to_contain_text("2.00")
    await expect(product(s1, "p1").get_by_test_id("bid-error")).to_be_hidden()
    await place_bid(s1, "p2", "2.50")
    await expect(s1.get_by_test_id("status-line")).to_have_text(
        "You have the best overall offer for this auction"
    )
    # S2 sees S1's bids live, without a name.
    await expect(product(s2, "p1").get_by_test_id("bid")).to_have_text(
        re.compile("Competitor.*2.00")
    )
    await expect(product(s2, "p1").get_by_test_id("bid-to-beat-value")).to_have_text("2.00")

    # The server's refusal is shown as it says it.
    site.clock.advance(2)
    await place_bid(s2, "p1", "1.00", "1.50")
    await expect(product(s2, "p1").get_by_test_id("bid-error")).to_have_text(
        "Price must not be below the auto-bid floor"
    )
    # S2 auto-bids on p1 (2.25 down to 1.50: it settles at 1.75, one tick under S1) and
    # undercuts p2: the ranking changes on both screens.
    await place_bid(s2, "p1", "2.25", "1.50")
    await expect(product(s2, "p1").get_by_test_id("own-bid")).to_contain_text("1.75")
    await expect(product(s2, "p1").get_by_test_id("own-bid")).to_contain_text("auto")
    site.clock.advance(2)
    await place_bid(s2, "p2", "2.25")
    await expect(s2.get_by_test_id("status-line")).to_have_text(
        "You have the best overall offer for this auction"
    )
    await expect(s1.get_by_test_id("status-line")).to_have_text("Your bid is not the best offer")
    s1_rows = product(s1, "p1").get_by_test_id("ranking").locator("tbody tr")
    await expect(s1_rows).to_have_count(2)
    await expect(s1_rows.nth(0)).to_contain_text("Competitor")
    await expect(s1_rows.nth(0)).to_contain_text("1.75")
    await expect(s1_rows.nth(1)).to_contain_text("You")
    await expect(s1_rows.nth(1)).to_contain_text("2.00")

    # S1 goes to 1.50: S2's auto-bid follows down to its floor and keeps the lead (earlier).
    site.clock.advance(2)
    await place_bid(s1, "p1", "1.50")
    await expect(product(s2, "p1").get_by_test_id("own-bid")).to_contain_text("1.50")
    await expect(s1_rows.nth(0)).to_contain_text("Competitor")
    await expect(s1_rows.nth(0)).to_contain_text("1.50")
    await expect(s1_rows.nth(1)).to_contain_text("You")
    await expect(product(s2, "p1")).to_have_class(re.compile(r"\bleading\b"))
    await shot(s1, "05-supplier-outbid")
    await shot(s2, "06-supplier-leading")

    # The buyer sees names, the board and the solutions live.
    await expect(product(buyer, "p1").get_by_test_id("bid").nth(0)).to_contain_text(
        "North Sea Fuels"
    )
    await expect(buyer.get_by_test_id("solution-best-overall")).to_contain_text("5,625.00")

    # 100 s before the close, a comment moves every page's clock (its update carries the
    # server's time); then S1's late bid leads p1 and the soft close extends to now + 180 s.
    site.clock.set(await closes_at(site, auction_id) - 100 * SECOND)
    s2_comment = s2.get_by_label("Comment", exact=True).last
    await s2_comment.fill("Barge Nordic Star ready from 06:00")
    await s2.get_by_role("button", name="Post").click()
    await expect(s2.get_by_test_id("comments")).to_contain_text("Barge Nordic Star")
    countdown = s1.locator(".auction-head").get_by_test_id("countdown")
    await expect(countdown.get_by_test_id("countdown-value")).to_have_text(
        re.compile(r"^1:[34]\d$")
    )
    await expect(countdown).to_have_class(re.compile(r"\bsoft-close\b"))
    await expect(countdown).not_to_have_class(re.compile(r"\bextended\b"))
    site.clock.advance(5)
    await place_bid(s1, "p1", "1.25")
    for page in (s1, s2):
        block = page.locator(".auction-head").get_by_test_id("countdown")
        await expect(block.get_by_test_id("countdown-value")).to_have_text(
            re.compile(r"^(3:00|2:[5]\d)$")
        )
        await expect(block).to_have_class(re.compile(r"\bextended\b"))
        await expect(block.get_by_test_id("extended-flag")).to_be_visible()
    await expect(product(s1, "p1")).to_have_class(re.compile(r"\bleading\b"))
    await shot(s1, "07-supplier-soft-close-extended", full_page=False)
    await s2.set_viewport_size(PHONE)
    await shot(s2, "08-supplier-phone", full_page=False)
    await shot(s2, "08-supplier-phone-full")
    await s2.set_viewport_size(DESKTOP)

    # Bidding ends; the buyer selects the best overall solution with a comment and port agent.
    site.clock.set(await closes_at(site, auction_id) + SECOND)
    await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("choose the winning offer")
    best = buyer.get_by_test_id("solution-best-overall")
    await expect(best).to_contain_text("5,250.00")  # 1.25 (Baltic) + 2.25 (North Sea), 1500 MT
    await expect(best).to_contain_text("Baltic Bunkers")
    await expect(best).to_contain_text("North Sea Fuels")
    await expect(product(s1, "p1").get_by_label("Price (USD/MT)")).to_be_disabled()
    await best.get_by_role("button", name="Select best overall").click()
    confirm = buyer.get_by_test_id("selection-confirm")
    await expect(confirm).to_contain_text("5,250.00")
    await confirm.get_by_label("Comment").fill("Thank you all")
    await confirm.get_by_label("Port agent").fill("Maas Agency")
    await shot(buyer, "09-buyer-decision")
    await buyer.get_by_test_id("confirm-selection").click()
    await expect(buyer.get_by_test_id("buyer-status")).to_have_text(
        "Closed: a winning offer was selected."
    )
    await expect(buyer.get_by_test_id("solution-winning")).to_contain_text("5,250.00")
    await expect(s1.get_by_test_id("status-line")).to_have_text(
        "You won bids for MV Aurora VLSFO 0.5% in this auction"
    )
    await expect(s2.get_by_test_id("status-line")).to_have_text(
        "You won bids for MV Borealis MGO 0.1% in this auction"
    )
    await shot(buyer, "10-buyer-closed")
    await shot(s1, "11-supplier-won")

    # The admin reads the audit log: every event, in order.
    await admin.get_by_test_id("load-audit").click()
    seq = await site.served.supervisor.query(auction_id, lambda s: getattr(s, "seq", 0))
    rows = admin.get_by_test_id("audit-log").locator("tbody tr")
    await expect(rows).to_have_count(seq)
    await expect(rows.last).to_contain_text("auction_closed")
    await shot(admin, "12-admin-audit")


async def test_a_term_auction_as_a_draft_and_the_form_refusals(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    buyer = await open_page(people.buyer)
    await buyer.get_by_test_id("new-auction").click()
    error = buyer.get_by_test_id("create-error")
    await buyer.get_by_test_id("create-submit").click()
    await expect(error).to_have_text("Enter the port")  # checked before sending
    await buyer.get_by_label("Kind").select_option("formula_related")
    await buyer.get_by_label("Port", exact=True).fill("Singapore")
    term = buyer.get_by_test_id("term-section")
    await term.get_by_label("Fuel", exact=True).fill("VLSFO 0.5%")
    await term.get_by_label("MT per month").fill("5000")
    await term.get_by_label("From month").fill("2027-01")
    await term.get_by_label("To month").fill("2027-06")
    await term.get_by_label("Fuel index").fill("Platts Singapore VLSFO")
    await buyer.get_by_label("Save as draft").check()
    await pick_suppliers(buyer, "Baltic Bunkers")
    await buyer.get_by_test_id("create-submit").click()
    await expect(buyer.get_by_test_id("buyer-status")).to_have_text(
        "Draft: not visible to suppliers until it is scheduled."
    )
    await expect(buyer.locator(".auction-head")).to_contain_text("Formula related")
    await expect(buyer.get_by_test_id("product-p1")).to_contain_text("5,000 MT/month")
    await expect(buyer.get_by_test_id("product-p1")).to_contain_text("Platts Singapore VLSFO")
    await shot(buyer, "19-buyer-term-draft")
    s1 = await open_page(people.s1)
    await expect(s1.get_by_test_id("auction-list")).to_contain_text("No auction has invited you")
    # Scheduling it makes it pending, and visible to the invited supplier at once.
    start = buyer.get_by_test_id("schedule-input")
    await start.fill(
        await buyer.evaluate(
            "import('/static/format.js').then((f) => f.toLocalInput(Date.now() + 3600e3))"
        )
    )
    await buyer.get_by_test_id("schedule-save").click()
    await expect(buyer.get_by_test_id("buyer-status")).to_contain_text("Scheduled")
    await expect(s1.get_by_test_id("auction-card")).to_contain_text("Singapore")
    await expect(s1.get_by_test_id("auction-card").get_by_test_id("countdown-value")).to_have_text(
        re.compile(r"^(1:00:00|59:\d\d)$")
    )

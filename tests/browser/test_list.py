"""The auction list: live and upcoming auctions followed live; finished ones read page by page
(newest first, "Load more"), each card with its outcome as the viewer may see it (winner and
total for the buyer and admins, the status line for a supplier), lines coloured by meaning; an
auction finishing while the list is open goes to the top of the finished. At 1280 and 390 px."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.gateway.conftest import Conn, bid, open_auction

from .conftest import DESKTOP, PHONE, WAIT_MS, Opener, Site, shot

if TYPE_CHECKING:
    from playwright.async_api import Locator, ViewportSize

GOOD = "rgb(27, 122, 61)"
BAD = "rgb(179, 38, 30)"
OLD = 32  # canceled auctions, older than the rest: more than a page (30)


async def seed(site: Site) -> dict[str, str]:
    """32 canceled auctions, then one awarded to s1 (Rotterdam), one expired (Hamburg), one
    open for an hour (Antwerp); their ids by port."""
    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    s1 = await Conn.open(site.served.url, people.s1.token)
    s2 = await Conn.open(site.served.url, people.s2.token)
    try:
        now = site.clock.now()
        for i in range(OLD):
            site.clock.advance(1)  # the list's order is by creation: one second apart
            old = await open_auction(admin, people, start=now + 3_600_000_000, port=f"Old {i:02d}")
            await admin.ok("cancel_auction", auction_id=old)
        ids = {}
        for port, duration_s in (("Rotterdam", 60), ("Hamburg", 60), ("Antwerp", 3600)):
            site.clock.advance(1)
            ids[port] = await open_auction(
                admin, people, port=port, start=site.clock.now(), duration_s=duration_s,
                decision_duration_s=60, soft_close_s=0,
            )  # fmt: skip
        await s1.ok("place_bids", auction_id=ids["Rotterdam"], bids=[bid("p1", "2.00")])
        await s2.ok("place_bids", auction_id=ids["Rotterdam"], bids=[bid("p1", "2.50")])
        site.clock.advance(61)  # both short ones in decision
        await wait_status(admin, ids["Rotterdam"], "decision")
        await admin.ok("select_solution", auction_id=ids["Rotterdam"], solution="best_overall")
        site.clock.advance(61)  # Hamburg's decision period is over
        await wait_status(admin, ids["Hamburg"], "expired")
        return ids
    finally:
        for conn in (admin, s1, s2):
            await conn.close()


async def wait_status(conn: Conn, auction_id: str, status: str) -> None:
    for _ in range(100):
        view = (await conn.ok("get_view", auction_id=auction_id))["view"]
        if view["status"] == status:
            return
        await conn.ok("list_companies")  # a round trip: lets the clock's timers run
    raise AssertionError(f"{auction_id} never reached {status}")


def card(page: object, port: str) -> Locator:
    return page.get_by_test_id("auction-card").filter(has_text=port)  # type: ignore[attr-defined]


async def color(locator: Locator) -> str:
    return str(await locator.evaluate("(el) => getComputedStyle(el).color"))


@pytest.mark.parametrize(
    "viewport", [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
)
async def test_finished_newest_first_with_outcomes_paged(
    site: Site, open_page: Opener, viewport: ViewportSize
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    ids = await seed(site)
    w = viewport["width"]

    buyer = await open_page(people.buyer, viewport)
    finished = buyer.get_by_test_id("finished-cards").get_by_test_id("auction-card")
    await expect(finished).to_have_count(30)  # one page
    await expect(finished.nth(0)).to_contain_text("Hamburg")  # newest first
    await expect(finished.nth(1)).to_contain_text("Rotterdam")
    await expect(finished.nth(2)).to_contain_text(f"Old {OLD - 1:02d}")
    won = card(buyer, "Rotterdam").get_by_test_id("card-status-line")
    await expect(won).to_have_text("Awarded to Baltic Bunkers · total 3,000.00 USD")
    assert await color(won) == GOOD
    lost = card(buyer, "Hamburg").get_by_test_id("card-status-line")
    await expect(lost).to_have_text("Expired: no offer was selected")
    assert await color(lost) == BAD
    await expect(card(buyer, "Rotterdam")).to_contain_text("Bidding closed")
    live = card(buyer, "Antwerp")
    await expect(live.get_by_test_id("card-status-line")).to_have_text("No offers yet")
    await expect(live.get_by_test_id("countdown-value")).not_to_be_empty()
    await shot(buyer, f"list-{w}-1-buyer", full_page=False)

    # The next page: on the phone by keyboard, on the desktop by scrolling down; then no more.
    more = buyer.get_by_test_id("load-more")
    if viewport is PHONE:
        await more.focus()
        await buyer.keyboard.press("Enter")
    else:
        await buyer.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await expect(finished).to_have_count(OLD + 2)
    await expect(finished.last).to_contain_text("Old 00")
    await expect(buyer.get_by_test_id("finished-end")).to_have_text("No older finished auctions.")
    await expect(more).to_be_hidden()

    # Canceled while the list is open: to the top of the finished, coloured as bad.
    admin = await Conn.open(site.served.url, people.admin.token)
    try:
        await admin.ok("cancel_auction", auction_id=ids["Antwerp"])
    finally:
        await admin.close()
    await expect(finished.nth(0)).to_contain_text("Antwerp")
    await expect(finished.nth(0).get_by_test_id("card-status-line")).to_have_text("Canceled")
    await shot(buyer, f"list-{w}-2-buyer-canceled-live", full_page=False)

    # Suppliers see their own outcome; the admin sees the winner.
    s1 = await open_page(people.s1, viewport)
    line = card(s1, "Rotterdam").get_by_test_id("card-status-line")
    await expect(line).to_have_text("You won the entire auction")
    assert await color(line) == GOOD
    await shot(s1, f"list-{w}-3-winner", full_page=False)
    s2 = await open_page(people.s2, viewport)
    line = card(s2, "Rotterdam").get_by_test_id("card-status-line")
    await expect(line).to_contain_text("unsuccessful")
    assert await color(line) == BAD
    await shot(s2, f"list-{w}-4-loser", full_page=False)
    admin_page = await open_page(people.admin, viewport)
    await expect(card(admin_page, "Rotterdam").get_by_test_id("card-status-line")).to_have_text(
        "Awarded to Baltic Bunkers · total 3,000.00 USD"
    )
    await expect(card(admin_page, "Rotterdam")).to_contain_text("Buyer: Aegean Shipping")
    await shot(admin_page, f"list-{w}-5-admin", full_page=False)

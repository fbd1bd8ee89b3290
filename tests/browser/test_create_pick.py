"""Creating an auction picks companies by name (`list_companies`), never by typing ids: a
searchable multi-select for the invited suppliers and, for an admin, a single pick of the buyer,
both worked by keyboard only; at 1280 px and 390 px, with a screenshot at each step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .conftest import DESKTOP, PHONE, WAIT_MS, Opener, Site, shot
from .test_auction_flow import fill_product

if TYPE_CHECKING:
    from playwright.async_api import ViewportSize

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


def tag(viewport: ViewportSize) -> str:
    return f"{viewport['width']}"


@pytest.mark.parametrize("viewport", SIZES)
async def test_buyer_picks_suppliers_by_name_with_the_keyboard(
    site: Site, open_page: Opener, viewport: ViewportSize
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    page = await open_page(people.buyer, viewport)
    await page.get_by_test_id("new-auction").click()
    await page.get_by_label("Port", exact=True).fill("Rotterdam")
    search = page.get_by_label("Invited suppliers", exact=True)
    picked = page.get_by_test_id("supplier-picker-picked")
    listbox = page.get_by_role("listbox", name="Invited suppliers, matches")

    # Focus alone opens the list of every supplier company, by name (no buyer, no admin).
    await page.get_by_label("Port", exact=True).press("Tab")
    await expect(search).to_be_focused()
    await expect(listbox).to_be_visible()
    await expect(listbox.get_by_role("option")).to_have_count(3)
    await expect(listbox).to_contain_text("Baltic Bunkers")
    await expect(listbox).to_contain_text("Outsider Oil")
    await expect(listbox).not_to_contain_text("Aegean")
    await shot(page, f"pick-{tag(viewport)}-1-open")

    # Typing filters; ↓ moves; Enter picks and keeps the search open for the next one.
    await search.type("sea")
    await expect(listbox.get_by_role("option")).to_have_count(1)
    await search.press("Enter")
    await expect(picked.locator("li > span")).to_have_text(["North Sea Fuels"])
    await expect(search).to_have_value("")
    await search.press("ArrowDown")  # Baltic Bunkers, Outsider Oil left: the second
    await expect(listbox.get_by_role("option", name="Outsider Oil")).to_have_attribute(
        "aria-selected", "true"
    )
    await search.press("Enter")
    await search.type("balt")
    await search.press("Enter")
    await expect(picked.get_by_role("listitem")).to_have_count(3)
    await shot(page, f"pick-{tag(viewport)}-2-three-picked")

    # Backspace in the empty box drops the last; a name that matches nothing says so.
    await search.press("Backspace")
    await expect(picked).not_to_contain_text("Baltic")
    await search.type("nobody")
    none = page.get_by_test_id("supplier-picker-none")
    await expect(none).to_have_text("No company matches “nobody”")
    await expect(listbox).to_be_hidden()
    await search.press("Enter")  # nothing to pick: nor a submission
    await expect(page.get_by_test_id("create-error")).to_be_hidden()
    await shot(page, f"pick-{tag(viewport)}-3-no-match")
    await search.fill("")
    await expect(listbox).to_be_visible()
    await search.press("Escape")
    await expect(listbox).to_be_hidden()
    # Each picked company has a remove button, reachable by Tab.
    await page.get_by_role("button", name="Remove Outsider Oil").focus()
    await page.keyboard.press("Enter")
    await expect(picked.get_by_role("listitem")).to_have_count(1)
    await search.type("Baltic")
    await search.press("Enter")

    await fill_product(page, 0, "MV Aurora", "9300001", "VLSFO 0.5%")
    await page.get_by_test_id("create-submit").click()
    await expect(page.get_by_test_id("buyer-status")).to_be_visible()
    await shot(page, f"pick-{tag(viewport)}-4-created")
    s1 = await open_page(people.s1, viewport)
    s2 = await open_page(people.s2, viewport)
    s3 = await open_page(people.s3, viewport)
    await expect(s1.get_by_test_id("auction-card")).to_contain_text("Rotterdam")
    await expect(s2.get_by_test_id("auction-card")).to_contain_text("Rotterdam")
    await expect(s3.get_by_test_id("auction-list")).to_contain_text("No auction has invited you")


@pytest.mark.parametrize("viewport", SIZES)
async def test_admin_picks_the_buyer_by_name(
    site: Site, open_page: Opener, viewport: ViewportSize
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    people = site.served.people
    page = await open_page(people.admin, viewport)
    await page.goto(site.url + "#/new")
    await page.get_by_label("Port", exact=True).fill("Singapore")
    error = page.get_by_test_id("create-error")
    await page.get_by_test_id("create-submit").click()
    await expect(error).to_have_text("Pick the buyer")
    buyer = page.get_by_label("Buyer", exact=True)
    await buyer.focus()
    listbox = page.get_by_role("listbox", name="Buyer, matches")
    # An admin lists every company; typing narrows it to buyers by name.
    await buyer.type("lines")
    await expect(listbox.get_by_role("option")).to_have_count(1)
    await expect(listbox).to_contain_text("Other Lines")
    await buyer.fill("aegean")
    await buyer.press("Enter")
    await expect(error).to_be_hidden()  # the refusal goes once the buyer is picked
    chosen = page.get_by_test_id("buyer-picker-picked").locator("li > span")
    await expect(chosen).to_have_text(["Aegean Shipping"])
    await expect(listbox).to_be_hidden()  # one buyer: the list closes
    await page.get_by_label("Invited suppliers", exact=True).type("north")
    await page.get_by_label("Invited suppliers", exact=True).press("Enter")
    await fill_product(page, 0, "MV Aurora", "9300001", "VLSFO 0.5%")
    await shot(page, f"pick-{tag(viewport)}-5-admin-form")
    await page.get_by_test_id("create-submit").click()
    await expect(page.locator(".auction-head")).to_contain_text("buyer Aegean Shipping")
    await shot(page, f"pick-{tag(viewport)}-6-admin-created")

"""One user action, one outcome, applied once (PROTOCOL.md 1.1, idempotency keys): the page
sends a fresh key with each command and sends the command again with the same key when the
reply is lost with the connection or the server answers ``timeout``."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from tests.gateway.conftest import Conn, open_auction

from .conftest import WAIT_MS, Opener, Site, product

if TYPE_CHECKING:
    from playwright.async_api import Page, WebSocketRoute

# After the page sends its next place_bids frame, its socket drops and stays down (`release`
# brings it back): the server gets the bid, the page never gets the reply.
DROP_AFTER_BID = """() => {
    const conn = window.auctionPage.connection;
    const ws = conn._ws;
    const send = ws.send.bind(ws);
    ws.send = (data) => {
        send(data);
        if (JSON.parse(data).type === "place_bids") conn.drop({hold: true});
    };
}"""


async def bids_placed(admin: Conn, auction_id: str) -> list[dict[str, Any]]:
    events = (await admin.ok("get_events", auction_id=auction_id))["events"]
    return [e for e in events if e["type"] == "bid_placed"]


async def open_bidding(site: Site, open_page: Opener) -> tuple[Page, Conn, str, int]:
    """An open auction, S1's page on it, and the admin subscribed to it (its seq so far)."""
    from playwright.async_api import expect

    people = site.served.people
    admin = await Conn.open(site.served.url, people.admin.token)
    auction_id = await open_auction(admin, people, start=site.clock.now())
    seq = (await admin.ok("subscribe", auction_id=auction_id))["seq"]
    await admin.update_at(auction_id, seq)
    page = await open_page(people.s1)
    await page.get_by_test_id("auction-card").click()
    await expect(page.get_by_test_id("status-line")).to_have_text(
        "You have not bid on this auction"
    )
    return page, admin, auction_id, seq


async def test_a_bid_whose_reply_is_lost_is_applied_once_and_shown_once(
    site: Site, open_page: Opener
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page, admin, auction_id, seq = await open_bidding(site, open_page)
    try:
        card = product(page, "p1")
        await page.evaluate(DROP_AFTER_BID)
        await card.get_by_label("Price (USD/MT)").fill("2.00")
        await card.get_by_role("button", name="Place bid").click()
        await admin.update_at(auction_id, seq + 1)  # the server applied the bid...
        await expect(page.get_by_test_id("connection")).to_have_attribute(
            "data-status", "reconnecting"
        )  # ...and the page never heard: the bid is still pending, no outcome shown
        await expect(card.get_by_role("button", name="Place bid")).to_be_disabled()
        await expect(card.get_by_test_id("bid-error")).to_be_hidden()
        await expect(card.get_by_test_id("bid-done")).to_be_hidden()

        await page.evaluate("window.auctionPage.release()")
        await expect(card.get_by_test_id("bid-done")).to_contain_text("Bid placed")
        await expect(card.get_by_test_id("bid-error")).to_be_hidden()
        await expect(card.get_by_test_id("own-bid")).to_contain_text("2.00")
        assert await page.evaluate("window.auctionPage.connection.resent") == 1
        assert [e["seq"] for e in await bids_placed(admin, auction_id)] == [seq + 1]
    finally:
        await admin.close()


async def test_a_bid_answered_timeout_is_sent_again_with_its_key(
    site: Site, open_page: Opener
) -> None:
    """The server applied the bid but the page is told ``timeout`` (outcome unknown): the page
    asks again with the same key and shows the first result."""
    from playwright.async_api import expect

    # Every frame goes through the test's Python route (two hops more): on a loaded machine the
    # default wait was seen too short.
    expect.set_options(timeout=3 * WAIT_MS)
    page, admin, auction_id, seq = await open_bidding(site, open_page)
    sent: list[dict[str, Any]] = []
    bid_ids: set[Any] = set()

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "place_bids":
                sent.append(frame)
                bid_ids.add(frame["id"])
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ok" and frame.get("id") in bid_ids and len(sent) == 1:
                message = json.dumps(
                    {"type": "error", "id": frame["id"], "code": "timeout", "message": "late"}
                )
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    try:
        await page.route_web_socket(re.compile(r"/ws$"), route)
        before = await page.evaluate("window.auctionPage.connection.reconnects")
        await page.evaluate("window.auctionPage.drop()")  # reconnect through the route
        # Live again on the new socket: the status attribute alone may still show the old one.
        await page.wait_for_function(
            "([n]) => window.auctionPage.connection.reconnects > n"
            " && window.auctionPage.connection.status === 'live'",
            arg=[before],
        )
        card = product(page, "p1")
        await card.get_by_label("Price (USD/MT)").fill("2.00")
        await card.get_by_role("button", name="Place bid").click()
        await expect(card.get_by_test_id("bid-done")).to_contain_text("Bid placed")
        await expect(card.get_by_test_id("bid-error")).to_be_hidden()
        assert len(sent) == 2 and sent[0]["id"] != sent[1]["id"]
        assert sent[0]["key"] == sent[1]["key"] and re.fullmatch(r"[0-9a-f-]{36}", sent[0]["key"])
        assert [e["seq"] for e in await bids_placed(admin, auction_id)] == [seq + 1]
    finally:
        await admin.close()


async def test_each_action_gets_a_fresh_key_even_without_random_uuid(
    site: Site, open_page: Opener
) -> None:
    """``crypto.randomUUID`` is missing outside secure contexts (plain http to another host)."""
    page = await open_page(site.served.people.s1)
    keys: list[str] = await page.evaluate(
        """async () => {
            const { newKey } = await import("/static/connection.js");
            const real = globalThis.crypto;
            const plain = { getRandomValues: (bytes) => real.getRandomValues(bytes) };
            Object.defineProperty(globalThis, "crypto", { value: plain, configurable: true });
            return [newKey(), newKey()];
        }"""
    )
    assert keys[0] != keys[1]
    for key in keys:
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key
        )

"""``subscribe`` with ``since`` on an auction the connection is subscribed to, or becomes
subscribed to meanwhile (by ``subscribe_all``): like a first subscription (PROTOCOL.md 1.1),
whichever subscription it replaces; and if it fails, the client is told the old one is over."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from auctionactors.errors import StorageUnavailable

from .conftest import Opener, Served, bid, open_auction
from .test_subscribe_all import until


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


async def test_a_failed_subscribe_again_ends_the_old_subscription(
    served: Served, open_conn: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events after ``since`` cannot be read (storage down) once the new subscription has
    replaced the old one: the client gets ``unsubscribed`` for the auction, then the error
    (before: only the error, and no more updates, its old subscription silently gone)."""
    p = served.people
    admin = await open_conn(p.admin)
    s1 = await open_conn(p.s1)
    auction = await open_auction(admin, p)
    buyer = await open_conn(p.buyer)
    first = (await buyer.ok("subscribe", auction_id=auction))["seq"]
    await buyer.next_update()
    for amount in ("9.00", "8.75"):
        await s1.ok("place_bids", auction_id=auction, bids=[bid(amount=amount)])
        await buyer.next_update()
    store = served.supervisor.store
    read_stream = store.read_stream

    async def down(stream_id: str, **kwargs: Any) -> Any:
        monkeypatch.setattr(store, "read_stream", read_stream)  # once
        raise StorageUnavailable("the disk is gone")

    monkeypatch.setattr(store, "read_stream", down)
    code, _ = await buyer.error("subscribe", auction_id=auction, since=first)
    assert code == "unavailable"
    (gone,) = buyer.others
    assert gone == {
        "type": "unsubscribed",
        "auction_id": auction,
        "seq": first + 2,
        "code": "unavailable",
        "message": "subscribing again failed",
    }
    assert served.gateway.hub.subscribed(auction) == []
    # Subscribing again works, with every event after since.
    assert (await buyer.ok("subscribe", auction_id=auction, since=first))["seq"] == first + 2
    update = await buyer.next_update()
    assert seqs(update["events"]) == [first + 1, first + 2]


async def test_subscribe_since_while_subscribe_all_subscribes_it(
    served: Served, open_conn: Opener
) -> None:
    """An observer subscribed to everything asks for an auction with ``since`` while its
    invitation is being written: the invitation's delivery subscribes it first (its query
    waits behind the write). It still gets ``ok(S)`` and then one update at S with every event
    after ``since`` (before: ``ok`` with the other subscription's seq, and no events)."""
    p = served.people
    admin = await open_conn(p.admin)
    s1 = await open_conn(p.s1)
    auction = await open_auction(admin, p)
    since = (await s1.ok("place_bids", auction_id=auction, bids=[bid(amount="9.00")]))["seq"]
    for amount in ("8.75", "8.50"):
        await s1.ok("place_bids", auction_id=auction, bids=[bid(amount=amount)])
    observer = await open_conn(p.observer)
    assert (await observer.ok("subscribe_all"))["auctions"] == []  # not invited yet
    mailbox = served.supervisor._cells[auction].mailbox
    store = served.supervisor.store
    gate = store.write_gate = asyncio.Event()  # the disk stalls
    try:
        invite = {"auction_id": auction, "company_id": p.observer.company_id}
        await admin.send({"type": "invite_observer", "id": "invite", **invite})
        await until(lambda: not mailbox.idle.is_set() and len(mailbox) == 0)  # being written
        subscribe = {"type": "subscribe", "id": "sub", "auction_id": auction, "since": since}
        await observer.send(subscribe)
        await until(lambda: len(mailbox) == 1)  # its query waits behind the write
    finally:
        gate.set()
        store.write_gate = None
    invited = (await admin.reply("invite"))["seq"]
    ok = await observer.reply("sub")
    assert ok == {"type": "ok", "id": "sub", "seq": invited}
    before = observer.updates[:]  # by subscribe_all, before the ok: its own sequence
    assert [u["seq"] for u in before] == [invited]
    observer.updates.clear()
    later = (await s1.ok("place_bids", auction_id=auction, bids=[bid(amount="8.25")]))["seq"]
    update = await observer.next_update()
    assert (update["seq"], seqs(update["events"])) == (invited, list(range(since + 1, invited + 1)))
    assert "view" in update
    update = await observer.next_update()
    assert (update["seq"], seqs(update["events"])) == (later, [later])

"""The client against the real server: every update's view (patched, in protocol 2) is what
``get_view`` answers at that seq, across a reconnection too; the paged reads return everything
in order. Whichever protocol the server grants, the caller sees the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from auctionactors.client import Client
from tests.gateway.conftest import Conn, Served, bid, open_auction, serving


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path / "client.db") as s:
        yield s


class Recording(Client):
    """Also keeps what each update frame carried on the wire: ``view`` or ``patch``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.carried: list[tuple[int, str]] = []

    def _dispatch(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "update":
            self.carried.append((frame["seq"], "patch" if "patch" in frame else "view"))
        super()._dispatch(frame)


def bare(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "server_time"}


async def current(client: Client, auction_id: str) -> dict[str, Any]:
    return bare((await client.request("get_view", auction_id=auction_id))["view"])


async def test_each_update_carries_the_view_get_view_gives_at_its_seq(served: Served) -> None:
    people = served.people
    admin = await Conn.open(served.url, people.admin.token)
    auction_id = await open_auction(admin, people, products=2)
    async with (
        Recording(served.url, people.buyer.token) as buyer,
        Client(served.url, people.s1.token) as s1,
        Client(served.url, people.s2.token) as s2,
    ):
        for client in (buyer, s1):
            await client.subscribe(auction_id)
            first = await client.next_update(5)
            assert bare(first["view"]) == await current(client, auction_id)
        amounts = ["5.00", "4.75", "4.50", "4.25", "4.00", "3.75"]
        for n, amount in enumerate(amounts):
            bidder = (s1, s2)[n % 2]
            reply = await bidder.request(
                "place_bids", auction_id=auction_id, bids=[bid(f"p{1 + n % 2}", amount)]
            )
            for client in (buyer, s1):
                update = await client.next_update(5)
                assert update["seq"] == reply["seq"]
                assert bare(update["view"]) == await current(client, auction_id)
                assert client.view(auction_id) is update["view"]
        assert buyer.protocol_in_force == 2
        # A subscription starts from a whole view; every later update is a patch.
        assert [kind for _, kind in buyer.carried] == ["view"] + ["patch"] * len(amounts)
    await admin.close()


async def test_after_a_reconnection_the_view_is_whole_again_and_no_event_is_lost(
    served: Served,
) -> None:
    people = served.people
    admin = await Conn.open(served.url, people.admin.token)
    auction_id = await open_auction(admin, people)
    s1 = await Conn.open(served.url, people.s1.token)
    async with Recording(served.url, people.buyer.token, max_backoff_s=0.05) as buyer:
        seq = await buyer.subscribe(auction_id)
        await buyer.next_update(5)
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", "5.00")])
        await buyer.next_update(5)
        assert buyer._ws is not None
        buyer._ws.transport.abort()  # the network fails under it
        last = 0
        for amount in ("4.75", "4.50", "4.25"):  # some before it reconnects, maybe some after
            last = (await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", amount)]))[
                "seq"
            ]
        events: list[int] = []
        while not events or events[-1] < last:
            update = await buyer.next_update(5)
            events += [e["seq"] for e in update["events"]]
            assert update["view"]["seq"] == update["seq"]
        assert events == list(range(seq + 2, last + 1))
        assert bare(buyer.view(auction_id) or {}) == await current(buyer, auction_id)
        assert buyer.reconnects == 1
        resumed = [kind for s, kind in buyer.carried if s > seq + 1]
        assert resumed[0] == "view"  # the resumed subscription starts from a whole view
    await s1.close()
    await admin.close()


async def test_list_auctions_pages_through_every_auction(served: Served) -> None:
    people = served.people
    admin = await Conn.open(served.url, people.admin.token)
    created = [await open_auction(admin, people) for _ in range(5)]
    async with Client(served.url, people.buyer.token) as buyer:
        listed = [a["auction_id"] async for a in buyer.list_auctions(limit=2)]
        one_page = await buyer.request("list_auctions", limit=1000)
        assert listed == [a["auction_id"] for a in one_page["auctions"]]  # the server's order
        assert sorted(listed) == sorted(created)  # each once
        assert [a async for a in buyer.list_auctions(["closed"], limit=2)] == []
    await admin.close()


async def test_get_events_pages_through_every_event(served: Served) -> None:
    people = served.people
    admin = await Conn.open(served.url, people.admin.token)
    auction_id = await open_auction(admin, people)
    s1 = await Conn.open(served.url, people.s1.token)
    for n in range(7):
        await s1.ok("place_bids", auction_id=auction_id, bids=[bid("p1", f"{9 - n}.00")])
    async with Client(served.url, people.buyer.token) as buyer:
        whole = (await buyer.request("get_events", auction_id=auction_id))["events"]
        paged = [e async for e in buyer.get_events(auction_id, limit=3)]
        assert paged == whole and [e["seq"] for e in paged] == list(range(1, len(whole) + 1))
        assert [e async for e in buyer.get_events(auction_id, since=5, limit=2)] == whole[5:]
    await s1.close()
    await admin.close()


async def test_a_catch_up_far_behind_arrives_as_one_update_with_every_event(
    served: Served,
) -> None:
    """More than 1,000 events behind: a 1.1 server sends them in ``history`` frames first (an
    older one in the update itself); either way the caller gets one update with all of them."""
    people = served.people
    admin = await Conn.open(served.url, people.admin.token)
    auction_id = await open_auction(admin, people, products=20)
    s1 = await Conn.open(served.url, people.s1.token)
    s2 = await Conn.open(served.url, people.s2.token)
    for n in range(30):  # 1,200 bids, few requests (the request rate is limited)
        for conn in (s1, s2):
            bids = [bid(f"p{i}", f"{2000 - n:.2f}") for i in range(1, 21)]
            await conn.ok("place_bids", auction_id=auction_id, bids=bids)
    async with Client(served.url, people.buyer.token) as buyer:
        seq = await buyer.subscribe(auction_id, since=1)
        update = await buyer.next_update(10)
        assert [e["seq"] for e in update["events"]] == list(range(2, seq + 1))
        assert bare(update["view"]) == await current(buyer, auction_id)
        events = [e async for e in buyer.get_events(auction_id, limit=300)]
        assert [e["seq"] for e in events] == list(range(1, seq + 1))
    await s2.close()
    await s1.close()
    await admin.close()

"""The gateway over the store's catalog (issue 10): ``list_auctions`` pages newest first and
walks every visible auction once; ``subscribe_all`` and the open-auction quota read the
catalog after a restart without loading actors; two-phase publishing: a delivery that is
dropped sends nothing, `Hub.resync` catches the connections up, a late delivery never repeats
an update."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.gateway.hub import Hub
from auctionactors.runtime.publishing import Delivery, Update

from .conftest import FAST, T0, Conn, Served, bid, open_auction, serving, spot

SUMMARY_KEYS = {"auction_id", "kind", "status", "port", "buyer", "scheduled_start", "closes_at"}


async def walk(conn: Conn, limit: int, **fields: Any) -> list[dict[str, Any]]:
    """Every page of ``list_auctions`` from the first, each at most ``limit`` long."""
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await conn.ok("list_auctions", limit=limit, cursor=cursor, **fields)
        assert set(page) == {"type", "id", "auctions", "next_cursor"}
        assert len(page["auctions"]) <= limit
        listed += page["auctions"]
        cursor = page["next_cursor"]
        if cursor is None:
            return listed
        assert len(page["auctions"]) == limit  # only a full page has a next one


async def test_list_auctions_pages_newest_first_each_visible_auction_once(
    served: Served,
) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    buyer = await Conn.open(served.url, p.buyer.token)
    s1 = await Conn.open(served.url, p.s1.token)
    other = await Conn.open(served.url, p.other_buyer.token)
    made: dict[str, str] = {}  # auction id: who may see it besides admins
    created: list[tuple[int, str]] = []
    for i in range(7):
        if i % 3 == 0:  # a draft of the buyer: not visible to suppliers
            aid = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
            made[aid] = "buyer"
        elif i % 3 == 1:  # open, S1 invited
            aid = await open_auction(admin, p)
            made[aid] = "buyer+s1"
        else:  # another buyer's, S2 only
            auction = spot(p, start=None, suppliers=(p.s2.company_id,))
            aid = (await other.ok("create_auction", auction=auction))["auction_id"]
            made[aid] = "other"
        created.append((served.clock.now(), aid))
        if i != 4:  # the 5th and 6th are created at the same instant: by id, descending
            served.clock.advance(1)
    newest_first = [aid for _, aid in sorted(created, reverse=True)]
    assert created[4][0] == created[5][0]

    def seen_by(who: str) -> list[str]:
        return [a for a in newest_first if who in made[a]]

    everything = await walk(admin, 2)
    assert [s["auction_id"] for s in everything] == newest_first
    assert all(set(s) == SUMMARY_KEYS for s in everything)
    assert [s["auction_id"] for s in await walk(admin, 1000)] == newest_first
    assert [s["auction_id"] for s in await walk(buyer, 3)] == seen_by("buyer")
    assert [s["auction_id"] for s in await walk(s1, 1)] == seen_by("s1")
    assert [s["auction_id"] for s in await walk(other, 2)] == seen_by("other")
    drafts = [a for a in newest_first if made[a] == "buyer"]
    assert [s["auction_id"] for s in await walk(buyer, 1, status=["draft"])] == drafts
    opened = [s["auction_id"] for s in await walk(admin, 2, status=["open", "closed"])]
    assert opened == seen_by("s1")
    assert (await admin.ok("list_auctions", status=[]))["auctions"] == []
    default = await admin.ok("list_auctions")  # limit 100: one page
    assert [s["auction_id"] for s in default["auctions"]] == newest_first
    assert default["next_cursor"] is None

    # Created during a walk: newer than the cursor, so not in the rest of the walk.
    first = await admin.ok("list_auctions", limit=3)
    await open_auction(admin, p)
    rest = await walk_from(admin, 3, first["next_cursor"])
    assert [s["auction_id"] for s in first["auctions"] + rest] == newest_first
    for conn in (admin, buyer, s1, other):
        await conn.close()


async def walk_from(conn: Conn, limit: int, cursor: str | None) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    while cursor is not None:
        page = await conn.ok("list_auctions", limit=limit, cursor=cursor)
        listed += page["auctions"]
        cursor = page["next_cursor"]
    return listed


async def test_list_auctions_refuses_a_bad_limit_or_cursor(served: Served) -> None:
    admin = await Conn.open(served.url, served.people.admin.token)
    await open_auction(admin, served.people)
    for limit in (0, 1001, -1, "10", 2.5):
        code, message = await admin.error("list_auctions", limit=limit)
        assert code == "bad_request" and "$.limit" in message, message
    assert (await admin.error("list_auctions", cursor=42))[0] == "bad_request"
    assert (await admin.error("list_auctions", cursor="c" * 300))[0] == "bad_request"
    made_up = [
        "not base64!",
        "",
        base64.urlsafe_b64encode(b"no colon").decode(),
        base64.urlsafe_b64encode(b"12x:a-1").decode(),
        base64.urlsafe_b64encode(b"99999999999999999999:a-1").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe:a").decode(),
        base64.urlsafe_b64encode(b"5:").decode(),
    ]
    for cursor in made_up:
        code, message = await admin.error("list_auctions", cursor=cursor)
        assert (code, message) == ("invalid", "cursor is not one a list_auctions reply gave")
    assert (await admin.ok("list_auctions", limit=1000))["auctions"]
    await admin.close()


async def test_after_a_restart_lists_and_subscribe_all_read_the_catalog_not_actors(
    tmp_path: Path,
) -> None:
    path = tmp_path / "restart.db"
    async with serving(path) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        ids = []
        for _ in range(3):
            ids.append(await open_auction(admin, p))
            served.clock.advance(1)
        for aid in ids:
            await admin.ok("cancel_auction", auction_id=aid)
        await admin.close()
    async with serving(path) as served:
        sup = served.supervisor
        await sup.quiesce()
        assert sup.cells() == []  # finished: none loaded (or passivated again at once)
        passivated = sup.stats.passivations
        s1 = await Conn.open(served.url, served.people.s1.token)
        listed = (await s1.ok("list_auctions"))["auctions"]
        assert [(s["auction_id"], s["status"]) for s in listed] == [
            (a, "canceled") for a in reversed(ids)
        ]
        assert sup.cells() == [] and sup.stats.passivations == passivated  # nothing loaded
        status = await Conn.open(served.url, served.people.admin.token)
        actors = (await status.ok("operator_status"))["actors"]
        assert actors == {"live": 0, "passivated": 3, "restarting": 0, "quarantined": 0}
        assert (await s1.ok("subscribe_all"))["auctions"] == list(reversed(ids))
        got = {(await s1.next_update())["auction_id"] for _ in ids}
        assert got == set(ids)
        for conn in (s1, status):
            await conn.close()


async def test_a_restart_loads_no_actor_until_one_is_needed(tmp_path: Path) -> None:
    path = tmp_path / "lazy.db"
    async with serving(path) as served:
        admin = await Conn.open(served.url, served.people.admin.token)
        aid = await open_auction(admin, served.people)
        await admin.close()
    async with serving(path) as served:
        assert served.supervisor.cells() == []
        s1 = await Conn.open(served.url, served.people.s1.token)
        assert [s["auction_id"] for s in (await s1.ok("list_auctions"))["auctions"]] == [aid]
        assert served.supervisor.cells() == []
        await s1.close()


async def test_the_open_auction_quota_counts_from_the_catalog_after_a_restart(
    tmp_path: Path,
) -> None:
    config = msgspec.structs.replace(FAST, creates_per_hour=None, max_open_auctions=2)
    path = tmp_path / "quota.db"
    async with serving(path, config) as served:
        p = served.people
        buyer = await Conn.open(served.url, p.buyer.token)
        drafts = [
            (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
            for _ in range(2)
        ]
        other = await Conn.open(served.url, p.other_buyer.token)
        await other.ok("create_auction", auction=spot(p, start=None))  # counts for its buyer
        for conn in (buyer, other):
            await conn.close()
    async with serving(path, config) as served:
        p = served.people
        buyer = await Conn.open(served.url, p.buyer.token)
        code, message = await buyer.error("create_auction", auction=spot(p, start=None))
        assert code == "rate_limited"
        assert message.startswith("quota reached: 2 auctions not yet final per company")
        other = await Conn.open(served.url, p.other_buyer.token)
        await other.ok("create_auction", auction=spot(p, start=None))  # its 2nd
        await buyer.ok("cancel_auction", auction_id=drafts[0])  # final: no longer counted
        await buyer.ok("create_auction", auction=spot(p, start=None))
        assert (await buyer.error("create_auction", auction=spot(p, start=None)))[0] == (
            "rate_limited"
        )
        for conn in (buyer, other):
            await conn.close()


class Holding:
    """A subscriber that prepares every update through the hub and keeps its delivery instead
    of calling it: as the actor does when storing the batch fails (dropped)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.held: list[Delivery] = []

    def prepare(self, update: Update) -> Delivery | None:
        delivery = self.hub.prepare(update)
        if delivery is not None:
            self.held.append(delivery)
        return None


async def state_of(served: Served, auction_id: str) -> AuctionState:
    state = await served.supervisor.query(auction_id, lambda s: s)
    assert state is not None
    return state


async def test_a_dropped_delivery_sends_nothing_and_resync_catches_up(served: Served) -> None:
    p, hub = served.people, served.gateway.hub
    admin = await Conn.open(served.url, p.admin.token)
    buyer = await Conn.open(served.url, p.buyer.token)
    aid = await open_auction(admin, p)
    draft = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    s2 = await Conn.open(served.url, p.s2.token)
    first = (await s2.ok("subscribe", auction_id=aid))["seq"]
    assert (await s2.next_update())["seq"] == first
    s1 = await Conn.open(served.url, p.s1.token)
    assert (await s1.ok("subscribe_all"))["auctions"] == [aid]  # the draft is not visible
    assert (await s1.next_update())["auction_id"] == aid

    holding = Holding(hub)
    served.supervisor.subscribers[:] = [holding]
    seq = (await s1.ok("place_bids", auction_id=aid, bids=[bid()]))["seq"]
    start = format_instant(T0 + 60 * SECOND)
    changes = {"scheduled_start": start}
    draft_seq = (await buyer.ok("update_auction", auction_id=draft, changes=changes))["seq"]
    assert len(holding.held) == 2  # rendered, never delivered
    for conn in (s1, s2):
        assert (await conn.ok("list_auctions"))["auctions"]  # a reply after them: nothing sent
        assert conn.updates == []

    served.supervisor.subscribers[:] = [hub]
    await hub.resync(aid, await state_of(served, aid))
    await hub.resync(draft, await state_of(served, draft))
    caught = await s2.next_update()
    assert (caught["seq"], [e["seq"] for e in caught["events"]]) == (seq, [seq])
    updates = {u["auction_id"]: u for u in [await s1.next_update(), await s1.next_update()]}
    assert [e["seq"] for e in updates[aid]["events"]] == [seq]
    assert (updates[draft]["seq"], updates[draft]["events"]) == (draft_seq, [])  # its view
    assert updates[draft]["view"]["status"] == "pending"

    for late in holding.held:  # delivered after all: nothing twice
        late()
    later = (await s1.ok("place_bids", auction_id=aid, bids=[bid(amount="1.75")]))["seq"]
    update = await s2.next_update()
    assert (update["seq"], [e["seq"] for e in update["events"]]) == (later, [later])
    assert (await s1.next_update())["seq"] == later
    assert s1.updates == [] and s2.updates == []
    for conn in (admin, buyer, s1, s2):
        await conn.close()


async def test_a_delivery_after_an_unsubscribe_sends_nothing(served: Served) -> None:
    p, hub = served.people, served.gateway.hub
    admin = await Conn.open(served.url, p.admin.token)
    aid = await open_auction(admin, p)
    s2 = await Conn.open(served.url, p.s2.token)
    await s2.ok("subscribe", auction_id=aid)
    await s2.next_update()
    holding = Holding(hub)
    served.supervisor.subscribers[:] = [holding]
    s1 = await Conn.open(served.url, p.s1.token)
    await s1.ok("place_bids", auction_id=aid, bids=[bid()])
    served.supervisor.subscribers[:] = [hub]
    await s2.ok("unsubscribe", auction_id=aid)
    (held,) = holding.held
    held()
    assert (await s2.ok("list_auctions"))["auctions"] and s2.updates == []
    for conn in (admin, s1, s2):
        await conn.close()


async def test_a_subscribe_all_whose_catalog_read_missed_a_creation_gets_it_delivered(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The creation is rendered before the connection asks for everything and durable only
    after its catalog read (simulated: the read finds nothing): its delivery subscribes it."""
    p, hub = served.people, served.gateway.hub
    holding = Holding(hub)
    served.supervisor.subscribers[:] = [holding]
    buyer = await Conn.open(served.url, p.buyer.token)
    aid = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    served.supervisor.subscribers[:] = [hub]

    async def too_early(viewer: object, statuses: object = None) -> list[str]:
        return []

    monkeypatch.setattr(hub.listing, "visible_ids", too_early)
    watcher = await Conn.open(served.url, p.admin.token)
    assert (await watcher.ok("subscribe_all"))["auctions"] == []
    (held,) = holding.held
    held()
    update = await watcher.next_update()
    assert (update["auction_id"], update["seq"], update["events"]) == (aid, 1, [])
    for conn in (buyer, watcher):
        await conn.close()

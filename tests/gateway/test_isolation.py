"""One auction's failure, or one connection's requests, never reach anyone else (issue 9, items
1, 3 and 15): a view that raises while rendering is logged, counted and skipped for that auction
and that receiver alone; every request gets exactly one reply; unsubscribing made-up ids costs no
memory; subscribing again with ``since`` behaves like a first subscription.

The failures are real exceptions raised from the domain's view function, patched for one
auction (and, where it matters, one receiver) only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.domain.access import Viewer
from auctionactors.domain.catalog import Summary
from auctionactors.domain.state import AuctionState
from auctionactors.domain.whole import WholeView
from auctionactors.gateway import fanout as fanout_module
from auctionactors.gateway.hub import Hub
from auctionactors.gateway.peer import Peer

from .conftest import FAST, Conn, Served, bid, open_auction, serving
from .test_http import get

real_view = fanout_module.view
real_whole = WholeView.of


def break_view(monkeypatch: pytest.MonkeyPatch, auction_id: str, company: str | None) -> None:
    """From now on the view of ``auction_id`` raises, for ``company`` only (None: for all)."""

    def broken(state: AuctionState, viewer: Viewer) -> bool:
        return state.auction_id == auction_id and company in (None, viewer.company_id)

    def view(state: AuctionState, viewer: Viewer, now: int, solutions: Any = None) -> Any:
        if broken(state, viewer):
            raise RuntimeError("cannot render this view")
        return real_view(state, viewer, now, solutions)

    def whole(state: AuctionState, viewer: Viewer, now: int, solutions: Any = None) -> Any:
        if broken(state, viewer):
            raise RuntimeError("cannot render this view")
        return real_whole(state, viewer, now, solutions)

    monkeypatch.setattr(WholeView, "of", staticmethod(whole))  # first updates (protocol 1)
    monkeypatch.setattr(fanout_module, "view", view)  # live updates


async def render_failures(served: Served) -> int:
    status, _, body = await get(served, "/healthz")
    assert status == 200
    count: int = json.loads(body)["render_failures"]
    return count


async def test_subscribe_all_skips_an_auction_that_cannot_be_rendered(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    ids = [await open_auction(admin, p) for _ in range(5)]
    bad = sorted(ids)[1]
    break_view(monkeypatch, bad, None)
    watcher = await Conn.open(served.url, p.admin.token)
    reply = await watcher.ok("subscribe_all")
    assert sorted(reply["auctions"]) == sorted(ids)
    good = {a for a in ids if a != bad}
    got = {(await watcher.next_update())["auction_id"] for _ in good}
    assert got == good
    assert (await watcher.ok("list_auctions"))["auctions"]  # the next request: answered
    assert watcher.others == []  # no second reply (an error) to subscribe_all
    assert await render_failures(served) == 1
    await s_bids_reach_everyone_else(served, watcher, sorted(good)[-1])
    for conn in (admin, watcher):
        await conn.close()


async def s_bids_reach_everyone_else(served: Served, watcher: Conn, auction_id: str) -> None:
    s1 = await Conn.open(served.url, served.people.s1.token)
    seq = (await s1.ok("place_bids", auction_id=auction_id, bids=[bid()]))["seq"]
    assert (await watcher.update_at(auction_id, seq))["seq"] == seq
    await s1.close()


async def test_a_receiver_whose_update_cannot_be_rendered_misses_only_its_own(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S2's view of one auction raises: S1 (another receiver group of the same auction) and S2's
    other auction still get every update."""
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    bad, other = await open_auction(admin, p), await open_auction(admin, p)
    s2 = await Conn.open(served.url, p.s2.token)
    s1 = await Conn.open(served.url, p.s1.token)
    for conn in (s2, s1):  # S2 first: its group is rendered first
        for aid in (bad, other):
            await conn.ok("subscribe", auction_id=aid)
            await conn.next_update()
    break_view(monkeypatch, bad, p.s2.company_id)
    seq = (await s1.ok("place_bids", auction_id=bad, bids=[bid()]))["seq"]
    assert (await s1.next_update())["seq"] == seq
    seq2 = (await s1.ok("place_bids", auction_id=other, bids=[bid()]))["seq"]
    update = await s2.next_update()
    assert (update["auction_id"], update["seq"]) == (other, seq2)  # nothing of `bad` before it
    assert await render_failures(served) == 1
    _, _, body = await get(served, "/metrics")
    assert "auctionactors_render_failures_total 1.0" in body.decode().splitlines()
    for conn in (admin, s1, s2):
        await conn.close()


async def test_list_auctions_skips_a_summary_that_cannot_be_rendered(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    ids = [await open_auction(admin, p) for _ in range(3)]
    bad = ids[1]
    real_public = Summary.public

    def public(self: Summary, viewer: Viewer) -> dict[str, Any]:
        if self.auction_id == bad:
            raise OverflowError("date value out of range")
        return real_public(self, viewer)

    monkeypatch.setattr(Summary, "public", public)
    listed = (await admin.ok("list_auctions"))["auctions"]
    # Newest first: created at the same instant, by auction id descending.
    assert [s["auction_id"] for s in listed] == sorted((a for a in ids if a != bad), reverse=True)
    assert await render_failures(served) == 1
    await admin.close()


async def test_a_subscription_failing_after_its_ok_gets_no_second_reply(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request, exactly one reply: a handler that has sent its own ``ok`` and then fails is
    logged; the client never gets an ``error`` with the same id."""
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    bad = await open_auction(admin, p)
    real_release = Hub._release

    def release(self: Hub, peer: Peer, sub: Any) -> None:
        if sub.auction_id == bad:
            raise RuntimeError("failed after the ok")
        real_release(self, peer, sub)

    monkeypatch.setattr(Hub, "_release", release)
    await admin.send({"type": "subscribe", "id": "once", "auction_id": bad})
    await admin.send({"type": "list_auctions", "id": "next"})
    replies = []
    while not replies or replies[-1].get("id") != "next":
        frame = await admin.recv()
        if frame["type"] in ("ok", "error"):
            replies.append(frame)
    assert [(f["type"], f["id"]) for f in replies] == [("ok", "once"), ("ok", "next")]
    await admin.close()


async def test_unsubscribing_made_up_ids_keeps_nothing(tmp_path: Path) -> None:
    """After ``subscribe_all``, only auctions that exist and are visible are remembered as
    excluded: 100,000 made-up ids leave the set as it was."""
    config = msgspec.structs.replace(FAST, rate_per_s=1e9, burst=1e9)
    async with serving(tmp_path / "excluded.db", config) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        aid = await open_auction(admin, p)
        observer = await Conn.open(served.url, p.observer.token)
        await observer.ok("subscribe_all")
        await observer.ok("unsubscribe", auction_id=aid)  # not visible to the observer
        [peer] = [x for x in served.gateway.hub._all if x.principal.role == "observer"]
        assert peer.excluded == set()
        s1 = await Conn.open(served.url, p.s1.token)
        await s1.ok("subscribe_all")
        await s1.ok("unsubscribe", auction_id=aid)  # visible: remembered
        [supplier] = [x for x in served.gateway.hub._all if x.principal.role == "supplier"]
        assert supplier.excluded == {aid}
        batch = 500
        for start in range(0, 100_000, batch):
            for i in range(start, start + batch):
                await s1.send({"type": "unsubscribe", "id": i, "auction_id": f"made-up-{i}"})
            assert (await s1.reply(start + batch - 1))["type"] == "ok"
        assert supplier.excluded == {aid}
        await s1.ok("subscribe", auction_id=aid)  # subscribed again: forgotten
        assert supplier.excluded == set()
        company = p.observer.company_id
        await admin.ok("invite_observer", auction_id=aid, company_id=company)
        await observer.update_at(aid, 1)  # now visible to the observer: subscribed
        await observer.ok("unsubscribe", auction_id=aid)
        assert peer.excluded == {aid}
        await admin.ok("uninvite_observer", auction_id=aid, company_id=company)
        await served.supervisor.quiesce()
        assert peer.excluded == set()  # no longer visible: nothing to remember
        for conn in (admin, observer, s1):
            await conn.close()


async def test_subscribing_again_with_since_is_like_a_first_subscription(served: Served) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    aid = await open_auction(admin, p)
    s1 = await Conn.open(served.url, p.s1.token)
    s2 = await Conn.open(served.url, p.s2.token)
    first = (await s2.ok("subscribe", auction_id=aid))["seq"]
    assert (await s2.next_update())["seq"] == first
    seq = first
    for amount in ("3.00", "2.75", "2.50"):
        seq = (await s1.ok("place_bids", auction_id=aid, bids=[bid(amount=amount)]))["seq"]
        assert (await s2.next_update())["seq"] == seq
    reply = await s2.ok("subscribe", auction_id=aid, since=first)
    assert reply["seq"] == seq
    again = await s2.next_update()  # the events after `since`, then the view
    assert [e["seq"] for e in again["events"]] == list(range(first + 1, seq + 1))
    assert again["seq"] == seq and again["view"]["seq"] == seq
    later = (await s1.ok("place_bids", auction_id=aid, bids=[bid(amount="2.25")]))["seq"]
    update = await s2.next_update()  # the live updates go on: no gap, no duplicate
    assert (update["seq"], [e["seq"] for e in update["events"]]) == (later, [later])
    assert (await s2.ok("subscribe", auction_id=aid))["seq"] == later  # without since: just ok
    assert (await s2.ok("list_auctions"))["auctions"]
    assert s2.updates == []
    for conn in (admin, s1, s2):
        await conn.close()

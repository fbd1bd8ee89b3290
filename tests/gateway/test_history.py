"""Protocol 1.1's reads over the wire: ``get_events`` paged for every participant (filtered as
in updates), ``list_companies``, ``get_view`` at a past seq, and ``subscribe`` catching up in
``history`` frames as fast as the client reads, without losing or repeating a live update."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.domain.commands import BidRequest, CreateAuction, PlaceBids
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.terms import AuctionTerms, ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.store.codec import catalog_entry, encode_event

from .conftest import FAST, T0, Conn, Opener, Served, bid, open_auction, serving, spot


async def stored_auction(served: Served, bids: int, auction_id: str = "a-long") -> int:
    """An open auction of s1 and s2 with ``bids`` bids (alternately theirs), written straight
    to the store before any actor loads it: thousands of events in a moment. Its seq."""
    p = served.people
    admin = Caller(p.admin.user_id, p.admin.company_id, "admin")
    suppliers = [Caller(u.user_id, u.company_id, "supplier") for u in (p.s1, p.s2)]
    terms = AuctionTerms(
        port="Rotterdam",
        buyer=Party(p.buyer.company_id, "Aegean Shipping"),
        suppliers=(
            Party(p.s1.company_id, "Baltic Bunkers"),
            Party(p.s2.company_id, "North Sea Fuels"),
        ),
        scheduled_start=T0,
        duration_s=86_400,
        products=(
            ProductSpec(
                vessel=Vessel("MV Long", "9300001"),
                fuel="VLSFO 0.5%",
                quantity_mt=1500,
                eta=T0 + 86_400 * SECOND,
            ),
        ),
    )
    events = decide(None, CreateAuction(by=admin, auction_id=auction_id, terms=terms), T0)
    state: AuctionState | None = None
    for event in events:
        state = evolve(state, event)
    for i in range(bids):
        request = BidRequest(product_id="p1", amount=60_000 - (i % 2000) * 25)
        new = decide(state, PlaceBids(by=suppliers[i % 2], bids=(request,)), T0)
        for event in new:
            state = evolve(state, event)
        events.extend(new)
    assert state is not None
    await served.directory.store.append(
        auction_id, 0, [encode_event(e) for e in events], catalog=catalog_entry(state)
    )
    return state.seq


async def all_events(conn: Conn, auction_id: str, **fields: Any) -> list[dict[str, Any]]:
    """Every page of ``get_events`` from since=0, following ``next_since``."""
    out: list[dict[str, Any]] = []
    since: int | None = 0
    while since is not None:
        reply = await conn.ok("get_events", auction_id=auction_id, since=since, **fields)
        assert len(reply["events"]) <= 1000
        out.extend(reply["events"])
        since = reply["next_since"]
    return out


async def catch_up(conn: Conn, auction_id: str, since: int) -> tuple[list[Any], dict[str, Any]]:
    """Subscribe with ``since``: the ``history`` frames, then the first update."""
    reply = await conn.ok("subscribe", auction_id=auction_id, since=since)
    frames = []
    while True:
        frame = await conn.recv()
        if frame["type"] == "update" and frame["auction_id"] == auction_id:
            assert frame["seq"] == reply["seq"]
            return frames, frame
        assert frame["type"] == "history" and frame["auction_id"] == auction_id, frame
        frames.append(frame)


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


def without_time(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "server_time"}


# --- get_events -------------------------------------------------------------------------------


async def test_get_events_pages_follow_next_since(served: Served, open_conn: Opener) -> None:
    seq = await stored_auction(served, 2_400)
    admin = await open_conn(served.people.admin)
    first = await admin.ok("get_events", auction_id="a-long")
    assert (seqs(first["events"]), first["next_since"], first["seq"]) == (
        list(range(1, 1001)),
        1000,
        seq,
    )
    assert seqs(await all_events(admin, "a-long")) == list(range(1, seq + 1))
    small = await admin.ok("get_events", auction_id="a-long", since=5, limit=10)
    assert (seqs(small["events"]), small["next_since"]) == (list(range(6, 16)), 15)
    # Protocol 1 allowed up to 10,000: still accepted, served as a page of 1000.
    old = await admin.ok("get_events", auction_id="a-long", since=1, limit=10_000)
    assert (len(old["events"]), old["next_since"]) == (1000, 1001)
    last = await admin.ok("get_events", auction_id="a-long", since=seq - 3, limit=3)
    assert (seqs(last["events"]), last["next_since"]) == ([seq - 2, seq - 1, seq], None)
    at_end = await admin.ok("get_events", auction_id="a-long", since=seq)
    assert (at_end["events"], at_end["next_since"]) == ([], None)
    code, message = await admin.error("get_events", auction_id="a-long", since=seq + 5)
    assert (code, message) == ("invalid", f"since is beyond the auction's seq {seq}")
    for limit in (0, -1, 10_001, "10", 2.5, None):
        code, message = await admin.error("get_events", auction_id="a-long", limit=limit)
        assert (code, "$.limit" in message) == ("bad_request", True)
    assert len(served.gateway.hub.history_lanes) == 0  # forgotten once nobody reads


async def test_get_events_is_filtered_for_each_participant_as_updates_are(
    served: Served, open_conn: Opener
) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    aid = await open_auction(admin, p)
    await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
    conns = {name: await open_conn(getattr(p, name)) for name in ("buyer", "s1", "s2", "observer")}
    conns["admin"] = admin
    await conns["s1"].ok("place_bids", auction_id=aid, bids=[bid(amount="2.00", comment="hi")])
    await conns["s2"].ok("place_bids", auction_id=aid, bids=[bid(amount="1.75")])
    await conns["s1"].ok("post_comment", auction_id=aid, text="a word for the buyer")
    await conns["s1"].ok("rsvp", auction_id=aid, response="maybe")
    logs = {name: await all_events(conn, aid) for name, conn in conns.items()}
    for name, conn in conns.items():  # exactly what a subscription since 0 brings
        await conn.ok("subscribe", auction_id=aid, since=0)
        assert (await conn.next_update())["events"] == logs[name], name
    types = {name: [e["type"] for e in log] for name, log in logs.items()}
    every_seq = list(range(1, 8))  # a receiver gets every seq, always
    assert {name: seqs(log) for name, log in logs.items()} == {name: every_seq for name in logs}
    assert types["admin"][2:] == [
        "observer_invited",
        "bid_placed",
        "bid_placed",
        "comment_posted",
        "rsvp_given",
    ]
    s1_bid = logs["s2"][3]  # a competitor's bid, as s2 sees it
    assert s1_bid["by"] is None and s1_bid["data"]["supplier"] is None
    assert "min_amount" not in s1_bid["data"] and "comment" not in s1_bid["data"]
    assert types["s2"][2] == types["s2"][5] == types["s2"][6] == "redacted"
    assert logs["s2"][5] == {"seq": 6, "type": "redacted"}
    assert logs["s1"][3]["data"]["comment"] == "hi"  # its own bid, whole
    assert logs["buyer"][3]["data"]["comment"] == "hi"
    assert types["observer"][2] == types["observer"][5] == "redacted"  # invitation, comment
    assert logs["buyer"][5]["data"]["text"] == "a word for the buyer"


async def test_get_events_follows_visibility(served: Served, open_conn: Opener) -> None:
    p = served.people
    buyer, s1, s3 = await open_conn(p.buyer), await open_conn(p.s1), await open_conn(p.s3)
    draft = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    assert seqs((await buyer.ok("get_events", auction_id=draft))["events"]) == [1]
    # A supplier does not see a draft at all; an outsider never sees the auction.
    assert await s1.error("get_events", auction_id=draft) == ("not_found", "auction not found")
    pending = await buyer.ok("create_auction", auction=spot(p, start=T0 + 60 * SECOND))
    assert seqs((await s1.ok("get_events", auction_id=pending["auction_id"]))["events"]) == [1]
    code, _ = await s3.error("get_events", auction_id=pending["auction_id"])
    assert code == "not_found"
    assert (await s1.error("get_events", auction_id="a-unknown"))[0] == "not_found"


# --- list_companies ---------------------------------------------------------------------------


async def test_list_companies(served: Served, open_conn: Opener) -> None:
    p = served.people
    buyer, admin = await open_conn(p.buyer), await open_conn(p.admin)
    listed = (await buyer.ok("list_companies"))["companies"]
    assert listed == [
        {"id": p.s1.company_id, "name": "Baltic Bunkers", "role": "supplier"},
        {"id": p.s2.company_id, "name": "North Sea Fuels", "role": "supplier"},
        {"id": p.s3.company_id, "name": "Outsider Oil", "role": "supplier"},
        {"id": p.observer.company_id, "name": "Port Watch", "role": "observer"},
    ]
    observers = await buyer.ok("list_companies", role="observer")
    assert (observers["companies"], observers["next_cursor"]) == ([listed[3]], None)
    pages, cursor = [], None
    while True:
        reply = await buyer.ok("list_companies", limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append(reply["companies"])
        cursor = reply["next_cursor"]
        if cursor is None:
            break
    assert pages == [listed[:3], listed[3:]]
    everyone = (await admin.ok("list_companies"))["companies"]
    assert [c["name"] for c in everyone] == [
        "Aegean Shipping",
        "Baltic Bunkers",
        "North Sea Fuels",
        "Other Lines",
        "Outsider Oil",
        "Platform",
        "Port Watch",
    ]
    assert [c["role"] for c in (await admin.ok("list_companies", role="admin"))["companies"]] == [
        "admin"
    ]
    for who in (p.s1, p.observer):
        conn = await open_conn(who)
        assert (await conn.error("list_companies"))[0] == "forbidden"
    assert (await buyer.error("list_companies", role="buyer"))[0] == "forbidden"
    unknown = base64.urlsafe_b64encode(b"c-nobody").rstrip(b"=").decode()
    for cursor in ("!!!", "", unknown, "x" * 256):
        code, message = await buyer.error("list_companies", cursor=cursor)
        assert (code, message) == ("invalid", "cursor is not one a list_companies reply gave")
    for fields in ({"limit": 0}, {"limit": 1001}, {"role": "pilot"}, {"cursor": "x" * 257}):
        assert (await buyer.error("list_companies", **fields))[0] == "bad_request"


# --- get_view at_seq --------------------------------------------------------------------------


async def test_get_view_at_seq_is_the_view_as_it_was(served: Served, open_conn: Opener) -> None:
    p = served.people
    buyer, s1, s2 = await open_conn(p.buyer), await open_conn(p.s1), await open_conn(p.s2)
    aid = (await buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    later = format_instant(T0 + 60 * SECOND)
    await buyer.ok("update_auction", auction_id=aid, changes={"scheduled_start": later})
    admin = await open_conn(p.admin)
    await admin.ok("start_auction", auction_id=aid)  # seq 3
    views: dict[str, dict[int, dict[str, Any]]] = {"buyer": {}, "s2": {}}
    for conn in (buyer, s2):
        await conn.ok("subscribe", auction_id=aid)
    for amount in ("3.00", "2.75"):
        await s1.ok("place_bids", auction_id=aid, bids=[bid(amount=amount)])
    await s2.ok("place_bids", auction_id=aid, bids=[bid(amount="2.50")])
    for name, conn in (("buyer", buyer), ("s2", s2)):
        while 6 not in views[name]:
            update = await conn.next_update()
            views[name][update["seq"]] = update["view"]
    for name, conn in (("buyer", buyer), ("s2", s2)):
        for seq in (4, 5, 6):
            got = await conn.ok("get_view", auction_id=aid, at_seq=seq)
            assert got["seq"] == seq and got["view"]["seq"] == seq
            assert without_time(got["view"]) == without_time(views[name][seq]), (name, seq)
    # Seq 1 was the draft: the buyer saw it, a supplier did not; seq 2 was pending.
    assert (await buyer.ok("get_view", auction_id=aid, at_seq=1))["view"]["status"] == "draft"
    code, _ = await s2.error("get_view", auction_id=aid, at_seq=1)
    assert code == "not_found"
    assert (await s2.ok("get_view", auction_id=aid, at_seq=2))["view"]["status"] == "pending"
    for at_seq in (0, -3, 7, 2**53 - 1):
        code, message = await buyer.error("get_view", auction_id=aid, at_seq=at_seq)
        assert (code, message) == ("invalid", "at_seq must be from 1 to the auction's seq 6")
    for at_seq in (2**53, "2", 1.5):
        assert (await buyer.error("get_view", auction_id=aid, at_seq=at_seq))[0] == "bad_request"
    s3 = await open_conn(p.s3)
    for at_seq in (1, 6, 99):  # the same answer as for an auction that does not exist
        assert await s3.error("get_view", auction_id=aid, at_seq=at_seq) == (
            "not_found",
            "auction not found",
        )


async def test_get_view_at_seq_needs_visibility_then(served: Served, open_conn: Opener) -> None:
    p = served.people
    admin, observer = await open_conn(p.admin), await open_conn(p.observer)
    aid = await open_auction(admin, p)  # seq 2: open
    await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
    assert (await observer.ok("get_view", auction_id=aid, at_seq=3))["view"]["seq"] == 3
    code, message = await observer.error("get_view", auction_id=aid, at_seq=2)
    assert (code, message) == ("not_found", "the auction was not visible to you at seq 2")


async def test_get_view_at_seq_of_a_long_auction(served: Served, open_conn: Opener) -> None:
    seq = await stored_auction(served, 3_000)
    s1 = await open_conn(served.people.s1)
    now = await s1.ok("get_view", auction_id="a-long")
    then = await s1.ok("get_view", auction_id="a-long", at_seq=seq)
    assert without_time(then["view"]) == without_time(now["view"])
    early = (await s1.ok("get_view", auction_id="a-long", at_seq=3))["view"]
    assert len(early["products"][0]["bids"]) == 1 and early["seq"] == 3


# --- catch-up in history frames ---------------------------------------------------------------


async def test_subscribe_far_behind_catches_up_in_history_frames(
    served: Served, open_conn: Opener
) -> None:
    seq = await stored_auction(served, 2_500)  # 2502 events
    s2 = await open_conn(served.people.s2)
    frames, update = await catch_up(s2, "a-long", 0)
    assert [seqs(f["events"]) for f in frames] == [list(range(1, 1001)), list(range(1001, 2001))]
    assert seqs(update["events"]) == list(range(2001, seq + 1))
    everything = [e for f in frames for e in f["events"]] + update["events"]
    assert everything == await all_events(s2, "a-long")  # filtered for s2, as get_events is
    assert update["view"]["seq"] == seq
    # Exactly 1000 behind: one update, no history.
    frames, update = await catch_up(s2, "a-long", seq - 1000)
    assert frames == [] and len(update["events"]) == 1000
    # Again with since on the subscribed auction: like a first subscription.
    frames, update = await catch_up(s2, "a-long", seq - 1001)
    assert [seqs(f["events"]) for f in frames] == [list(range(seq - 1000, seq))]
    assert seqs(update["events"]) == [seq]


async def test_live_updates_during_a_catch_up_are_neither_lost_nor_repeated(
    tmp_path: Path,
) -> None:
    """The subscriber reads nothing while bids go on, so they land in the middle of its
    catch-up (its client queues one frame: the server must wait for it to read). Its outbox
    holds the protocol 1 views of those updates (each with the whole bid history)."""
    config = msgspec.structs.replace(FAST, outbox_bytes=1 << 30)
    async with serving(tmp_path / "live.db", config) as served:
        p = served.people
        seq = await stored_auction(served, 4_000)
        s1 = await Conn.open(served.url, p.s1.token)
        buyer = await Conn.open(served.url, p.buyer.token, max_queue=1)
        try:
            await live_during_catch_up(s1, buyer, seq)
        finally:
            await buyer.close()
            await s1.close()


async def live_during_catch_up(s1: Conn, buyer: Conn, seq: int) -> None:
    await buyer.send({"type": "subscribe", "id": "sub", "auction_id": "a-long", "since": 0})
    bids = 30
    for i in range(bids):
        await s1.ok("place_bids", auction_id="a-long", bids=[bid(amount=f"{1 + i * 0.25:.2f}")])
    received: list[int] = []
    frames: list[dict[str, Any]] = []
    while not received or received[-1] < seq + bids:
        frame = await buyer.recv()
        frames.append(frame)
        if frame["type"] in ("history", "update"):
            received.extend(seqs(frame["events"]))
    assert received == list(range(1, seq + bids + 1))  # in order, each once
    assert frames[0] == {"type": "ok", "id": "sub", "seq": frames[-bids - 1]["seq"]}
    assert [f["type"] for f in frames[1:5]] == ["history"] * 4
    assert [f["type"] for f in frames[5:]] == ["update"] * (len(frames) - 5)


async def test_a_slow_reader_is_never_cut_off_for_its_own_catch_up(tmp_path: Path) -> None:
    """An outbox of two frames and 16 KiB: the history frames (about 300 KB each) go one at a
    time, as the client reads them; the same for a page of get_events."""
    config = msgspec.structs.replace(
        FAST, outbox_size=2, outbox_bytes=16 * 1024, socket_send_buffer=4096
    )
    async with serving(tmp_path / "slow.db", config) as served:
        seq = await stored_auction(served, 5_000)
        buyer = await Conn.open(served.url, served.people.buyer.token, max_queue=1)
        try:
            frames, update = await catch_up(buyer, "a-long", 0)
            assert len(frames) == 5 and update["view"]["seq"] == seq
            assert len(await all_events(buyer, "a-long")) == seq
            assert served.gateway.hub.stats.slow_closes == 0
        finally:
            await buyer.close()


@pytest.mark.parametrize("since", [0, 1500])
async def test_a_catch_up_ends_when_the_connection_closes(
    served: Served, open_conn: Opener, since: int
) -> None:
    await stored_auction(served, 3_000)
    buyer = await open_conn(served.people.buyer, max_queue=1)
    await buyer.ok("subscribe", auction_id="a-long", since=since)
    await buyer.close()
    admin = await open_conn(served.people.admin)
    async with asyncio.timeout(5):  # the hub forgets the connection: its handler returned
        while served.gateway.hub.stats.connections > 1:
            await admin.ok("list_auctions")


async def test_a_catch_up_stops_when_the_auction_is_hidden_meanwhile(tmp_path: Path) -> None:
    """An observer uninvited while it catches up (paced: it reads nothing yet) gets what it was
    sent, then ``unsubscribed``, and no update."""
    config = msgspec.structs.replace(FAST, socket_send_buffer=4096)
    async with serving(tmp_path / "hidden.db", config) as served:
        p = served.people
        await stored_auction(served, 5_000)
        admin = await Conn.open(served.url, p.admin.token)
        observer = await Conn.open(served.url, p.observer.token, max_queue=1)
        try:
            invite = {"auction_id": "a-long", "company_id": p.observer.company_id}
            await admin.ok("invite_observer", **invite)
            await observer.send({"type": "subscribe", "id": 1, "auction_id": "a-long", "since": 0})
            await admin.ok("uninvite_observer", **invite)
            frames = []
            while not frames or frames[-1]["type"] != "unsubscribed":
                frames.append(await observer.recv())
            assert frames[0]["type"] == "ok"
            assert {f["type"] for f in frames[1:-1]} <= {"history"}  # no update
            received = [s for f in frames[1:-1] for s in seqs(f["events"])]
            assert received == list(range(1, len(received) + 1))
            assert frames[-1]["code"] == "not_found"
            assert (await observer.error("get_view", auction_id="a-long"))[0] == "not_found"
            assert [f["type"] for f in observer.others + observer.updates] == []
        finally:
            await observer.close()
            await admin.close()

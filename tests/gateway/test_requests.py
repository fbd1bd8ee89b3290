"""Every request of PROTOCOL.md's table over the wire, for each role that may send it, and the
refusals of those that may not (including the ones that must not learn an auction exists)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.store.base import NewEvent, StoredEvent

from .conftest import T0, Conn, Opener, Served, bid, open_auction, serving, spot


@dataclass
class Cast:
    served: Served
    admin: Conn
    buyer: Conn
    s1: Conn
    s2: Conn
    s3: Conn  # a supplier not invited
    other_buyer: Conn
    observer: Conn
    auction_id: str  # open, s1 and s2 invited, one product p1


@pytest.fixture
async def cast(served: Served, open_conn: Opener) -> Cast:
    p = served.people
    admin = await open_conn(p.admin)
    auction_id = await open_auction(admin, p)
    return Cast(
        served,
        admin,
        await open_conn(p.buyer),
        await open_conn(p.s1),
        await open_conn(p.s2),
        await open_conn(p.s3),
        await open_conn(p.other_buyer),
        await open_conn(p.observer),
        auction_id,
    )


# --- create, update, start, cancel --------------------------------------------------------------


async def test_create_auction_by_the_buyer_and_by_an_admin(cast: Cast) -> None:
    p = cast.served.people
    mine = await cast.buyer.ok("create_auction", auction=spot(p, start=None, products=2))
    assert mine["seq"] == 1 and mine["product_ids"] == ["p1", "p2"]
    view = (await cast.buyer.ok("get_view", auction_id=mine["auction_id"]))["view"]
    assert view["status"] == "draft"
    assert view["buyer"] == {"id": p.buyer.company_id, "name": "Aegean Shipping"}
    assert view["suppliers"] == [
        {"id": p.s1.company_id, "name": "Baltic Bunkers"},
        {"id": p.s2.company_id, "name": "North Sea Fuels"},
    ]
    for_buyer = await cast.admin.ok(
        "create_auction", buyer=p.buyer.company_id, auction=spot(p, start=T0 + 60 * SECOND)
    )
    view = (await cast.buyer.ok("get_view", auction_id=for_buyer["auction_id"]))["view"]
    assert view["status"] == "pending"


async def test_create_auction_refusals(cast: Cast) -> None:
    p = cast.served.people
    auction = spot(p)
    assert (await cast.s1.error("create_auction", auction=auction))[0] == "forbidden"
    assert (await cast.observer.error("create_auction", auction=auction))[0] == "forbidden"
    code, message = await cast.admin.error("create_auction", auction=auction)
    assert (code, message) == ("invalid", "an admin creating an auction names its `buyer`")
    code, _ = await cast.buyer.error(
        "create_auction", auction=auction, buyer=p.other_buyer.company_id
    )
    assert code == "forbidden"
    for suppliers in ([p.s1.company_id, "c-nobody"], [p.s1.company_id, p.observer.company_id]):
        code, message = await cast.buyer.error(
            "create_auction", auction=spot(p, suppliers=tuple(suppliers))
        )
        assert (code, message) == ("invalid", f"no supplier company {suppliers[1]}")
    code, message = await cast.buyer.error("create_auction", auction=spot(p, start=T0 - SECOND))
    assert code == "invalid" and "past" in message
    code, message = await cast.buyer.error("create_auction", auction={**auction, "tick": "0.001"})
    assert code == "invalid" and "auction.tick" in message
    code, message = await cast.buyer.error(
        "create_auction", auction={**auction, "scheduled_start": "tomorrow"}
    )
    assert code == "invalid" and "auction.scheduled_start" in message
    assert (await cast.buyer.error("create_auction", auction={"port": 1}))[0] == "bad_request"


async def test_update_auction(cast: Cast) -> None:
    p = cast.served.people
    draft = (await cast.buyer.ok("create_auction", auction=spot(p, start=None, suppliers=())))[
        "auction_id"
    ]
    assert (await cast.s1.error("get_view", auction_id=draft))[0] == "not_found"  # a draft
    start = format_instant(T0 + 60 * SECOND)
    changes = {"suppliers": [p.s1.company_id], "scheduled_start": start, "tick": "0.50"}
    assert (await cast.buyer.ok("update_auction", auction_id=draft, changes=changes))["seq"] == 2
    view = (await cast.s1.ok("get_view", auction_id=draft))["view"]
    assert (view["status"], view["tick"], view["scheduled_start"]) == ("pending", "0.50", start)
    code, _ = await cast.s1.error("update_auction", auction_id=draft, changes={"port": "Oslo"})
    assert code == "forbidden"
    code, _ = await cast.other_buyer.error("update_auction", auction_id=draft, changes={})
    assert code == "not_found"
    code, _ = await cast.buyer.error(
        "update_auction", auction_id=draft, changes={"suppliers": ["c-nobody"]}
    )
    assert code == "invalid"
    code, _ = await cast.buyer.error(
        "update_auction", auction_id=cast.auction_id, changes={"port": "Oslo"}
    )
    assert code == "wrong_status"  # it is open


async def test_start_auction_is_for_admins(cast: Cast) -> None:
    p = cast.served.people
    pending = await cast.buyer.ok("create_auction", auction=spot(p, start=T0 + 60 * SECOND))
    aid = pending["auction_id"]
    assert (await cast.buyer.error("start_auction", auction_id=aid))[0] == "forbidden"
    assert (await cast.s1.error("start_auction", auction_id=aid))[0] == "forbidden"
    assert (await cast.admin.ok("start_auction", auction_id=aid))["seq"] == 2
    assert (await cast.admin.error("start_auction", auction_id=aid))[0] == "wrong_status"


async def test_cancel_auction(cast: Cast) -> None:
    assert (await cast.s1.error("cancel_auction", auction_id=cast.auction_id))[0] == "forbidden"
    code, _ = await cast.other_buyer.error("cancel_auction", auction_id=cast.auction_id)
    assert code == "not_found"  # not its auction: no hint that it exists
    assert (await cast.buyer.ok("cancel_auction", auction_id=cast.auction_id))["seq"] == 3
    view = (await cast.s1.ok("get_view", auction_id=cast.auction_id))["view"]
    assert view["status"] == "canceled"
    code, _ = await cast.admin.error("cancel_auction", auction_id=cast.auction_id)
    assert code == "wrong_status"


# --- bids ---------------------------------------------------------------------------------------


async def test_place_bids_and_their_refusals(cast: Cast) -> None:
    aid = cast.auction_id
    reply = await cast.s1.ok("place_bids", auction_id=aid, bids=[bid(amount=2.25)])
    assert reply["seq"] == 3 and reply["bid_ids"] == [f"{aid}:3"]
    reply = await cast.s2.ok("place_bids", auction_id=aid, bids=[bid(amount="2.00")])
    assert reply["seq"] == 4
    view = (await cast.s1.ok("get_view", auction_id=aid))["view"]
    assert [b["amount"] for b in view["products"][0]["bids"]] == ["2.00", "2.25"]
    assert view["products"][0]["bids"][0]["supplier"] is None  # a competitor, anonymised
    assert (await cast.buyer.error("place_bids", auction_id=aid, bids=[bid()]))[0] == "forbidden"
    assert (await cast.admin.error("place_bids", auction_id=aid, bids=[bid()]))[0] == "forbidden"
    assert (await cast.s3.error("place_bids", auction_id=aid, bids=[bid()]))[0] == "not_found"
    code, message = await cast.s1.error("place_bids", auction_id=aid, bids=[bid(amount="2.10")])
    assert (code, message) == ("invalid", "amount must be a multiple of 0.25")
    code, _ = await cast.s1.error("place_bids", auction_id=aid, bids=[bid(amount="lots")])
    assert code == "invalid"
    code, _ = await cast.s1.error("place_bids", auction_id=aid, bids=[bid()], traded=True)
    assert code == "traded_bids_not_allowed"
    code, _ = await cast.s1.error("place_bids", auction_id=aid, bids=[bid(product_id="p9")])
    assert code == "not_found"
    code, _ = await cast.s1.error("place_bids", auction_id="a-nowhere", bids=[bid()])
    assert code == "not_found"
    code, _ = await cast.s1.error("place_bids", auction_id=aid, bids=[{"amount": "1.00"}])
    assert code == "bad_request"


async def test_revoke_bid(cast: Cast) -> None:
    aid = cast.auction_id
    await cast.s1.ok("place_bids", auction_id=aid, bids=[bid()])
    code, _ = await cast.s2.error("revoke_bid", auction_id=aid, product_id="p1")
    assert code == "not_found"  # s2 has no bid there; s1's is not s2's to revoke
    assert (await cast.buyer.error("revoke_bid", auction_id=aid, product_id="p1"))[0] == "forbidden"
    assert (await cast.s1.ok("revoke_bid", auction_id=aid, product_id="p1"))["seq"] == 4
    view = (await cast.buyer.ok("get_view", auction_id=aid))["view"]
    assert view["products"][0]["bids"] == []


async def test_a_bid_after_closes_at_is_too_late(cast: Cast) -> None:
    cast.served.clock.set(T0 + 600 * SECOND, fire_timers=False)  # the timer runs late
    code, message = await cast.s1.error("place_bids", auction_id=cast.auction_id, bids=[bid()])
    assert (code, message) == ("too_late", "auction moved to decision before the bid was received")


async def test_select_solution(cast: Cast) -> None:
    aid = cast.auction_id
    await cast.s1.ok("place_bids", auction_id=aid, bids=[bid(amount="2.00")])
    code, _ = await cast.buyer.error("select_solution", auction_id=aid, solution="best_overall")
    assert code == "wrong_status"  # a spot auction is decided after bidding
    cast.served.clock.advance(600)
    await cast.served.supervisor.quiesce()
    code, _ = await cast.s1.error("select_solution", auction_id=aid, solution="best_overall")
    assert code == "forbidden"
    code, _ = await cast.buyer.error("select_solution", auction_id=aid, solution="cheapest")
    assert code == "bad_request"
    reply = await cast.buyer.ok(
        "select_solution", auction_id=aid, solution="best_overall", comment="thanks"
    )
    assert reply["seq"] == 6  # created, started, bid, ended, selected, closed
    view = (await cast.s1.ok("get_view", auction_id=aid))["view"]
    assert view["status"] == "closed"
    assert view["status_line"] == "You won the entire auction"
    assert view["solutions"]["winning"]["bid_ids"] == [f"{aid}:3"]


# --- barges, comments, RSVP, observers ---------------------------------------------------------


async def test_barges(cast: Cast) -> None:
    aid, s1_id = cast.auction_id, cast.served.people.s1.company_id
    barge = {"name": "Fuel Carrier 1", "imo": "9100001"}
    assert (await cast.s1.ok("submit_barge", auction_id=aid, barge=barge))["seq"] == 3
    code, _ = await cast.buyer.error("submit_barge", auction_id=aid, barge=barge)
    assert code == "forbidden"
    code, _ = await cast.s2.error("approve_barge", auction_id=aid, imo="9100001", supplier_id=s1_id)
    assert code == "forbidden"
    reply = await cast.buyer.ok("approve_barge", auction_id=aid, imo="9100001", supplier_id=s1_id)
    assert reply["seq"] == 4
    reply = await cast.admin.ok("reject_barge", auction_id=aid, imo="9100001", supplier_id=s1_id)
    assert reply["seq"] == 5
    assert (await cast.s2.ok("get_view", auction_id=aid))["view"]["barges"] == []  # s1's own
    barges = (await cast.buyer.ok("get_view", auction_id=aid))["view"]["barges"]
    assert [b["status"] for b in barges] == ["rejected"]
    assert (await cast.s1.ok("unsubmit_barge", auction_id=aid, imo="9100001"))["seq"] == 6
    code, _ = await cast.buyer.error("approve_barge", auction_id=aid, imo="9", supplier_id=s1_id)
    assert code == "not_found"


async def test_comments(cast: Cast) -> None:
    aid = cast.auction_id
    reply = await cast.s1.ok("post_comment", auction_id=aid, text="Delivery by barge only")
    comment_id = reply["comment_id"]
    assert reply["seq"] == 3
    assert (await cast.buyer.error("post_comment", auction_id=aid, text="hi"))[0] == "forbidden"
    comments = (await cast.buyer.ok("get_view", auction_id=aid))["view"]["comments"]
    assert [c["text"] for c in comments] == ["Delivery by barge only"]
    assert (await cast.s2.ok("get_view", auction_id=aid))["view"]["comments"] == []
    code, _ = await cast.s2.error("delete_comment", auction_id=aid, comment_id=comment_id)
    assert code == "not_found"  # not s2's comment
    assert (await cast.s1.ok("delete_comment", auction_id=aid, comment_id=comment_id))["seq"] == 4


async def test_rsvp(cast: Cast) -> None:
    aid = cast.auction_id
    assert (await cast.s2.ok("rsvp", auction_id=aid, response="maybe"))["seq"] == 3
    assert (await cast.s2.ok("get_view", auction_id=aid))["view"]["rsvp"] == "maybe"
    assert (await cast.buyer.error("rsvp", auction_id=aid, response="yes"))[0] == "forbidden"
    assert (await cast.s3.error("rsvp", auction_id=aid, response="yes"))[0] == "not_found"


async def test_observers(cast: Cast) -> None:
    aid, observer_id = cast.auction_id, cast.served.people.observer.company_id
    assert (await cast.observer.error("get_view", auction_id=aid))[0] == "not_found"
    code, _ = await cast.buyer.error("invite_observer", auction_id=aid, company_id=observer_id)
    assert code == "forbidden"
    s3_id = cast.served.people.s3.company_id
    code, message = await cast.admin.error("invite_observer", auction_id=aid, company_id=s3_id)
    assert (code, message) == ("invalid", f"no observer company {s3_id}")
    assert (await cast.admin.ok("invite_observer", auction_id=aid, company_id=observer_id))[
        "seq"
    ] == 3
    view = (await cast.observer.ok("get_view", auction_id=aid))["view"]
    assert view["buyer"] == {"id": None, "name": "Buyer"}
    assert view["products"][0]["vessel"] == {"name": "Vessel 1", "imo": None}
    assert (await cast.observer.error("place_bids", auction_id=aid, bids=[bid()]))[0] == "forbidden"
    await cast.admin.ok("uninvite_observer", auction_id=aid, company_id=observer_id)
    assert (await cast.observer.error("get_view", auction_id=aid))[0] == "not_found"


async def test_an_admin_acts_as_a_user(cast: Cast) -> None:
    p, aid = cast.served.people, cast.auction_id
    reply = await cast.admin.ok("place_bids", auction_id=aid, bids=[bid()], as_user=p.s1.user_id)
    events = (await cast.admin.ok("get_events", auction_id=aid, since=2))["events"]
    assert events[0]["by"] == {
        "user_id": p.s1.user_id,
        "company_id": p.s1.company_id,
        "admin_id": p.admin.user_id,
    }
    assert events[0]["data"]["bid_id"] == reply["bid_ids"][0]
    buyer_events = (await cast.buyer.ok("get_events", auction_id=aid, since=2))["events"]
    assert buyer_events[0]["by"]["admin_id"] is None  # only admins see who acted for whom
    code, _ = await cast.s2.error("place_bids", auction_id=aid, bids=[bid()], as_user=p.s1.user_id)
    assert code == "forbidden"
    code, _ = await cast.admin.error("place_bids", auction_id=aid, bids=[bid()], as_user="u-x")
    assert code == "not_found"
    code, _ = await cast.admin.error("start_auction", auction_id=aid, as_user=p.buyer.user_id)
    assert code == "forbidden"  # checked as the buyer


# --- reads --------------------------------------------------------------------------------------


async def test_get_view_for_each_role(cast: Cast) -> None:
    aid = cast.auction_id
    await cast.s1.ok("place_bids", auction_id=aid, bids=[bid(comment="fast delivery")])
    views = {
        name: await getattr(cast, name).ok("get_view", auction_id=aid)
        for name in ("admin", "buyer", "s1", "s2")
    }
    assert {v["seq"] for v in views.values()} == {3}
    assert views["buyer"]["view"]["products"][0]["bids"][0]["comment"] == "fast delivery"
    assert "min_amount" not in views["buyer"]["view"]["products"][0]["bids"][0]
    assert views["s1"]["view"]["status_line"] == "You have the best overall offer for this auction"
    assert views["s2"]["view"]["status_line"] == "You have not bid on this auction"
    for conn in (cast.s3, cast.other_buyer, cast.observer):
        assert await conn.error("get_view", auction_id=aid) == ("not_found", "auction not found")
    assert (await cast.admin.error("get_view", auction_id="a-unknown"))[0] == "not_found"


async def test_get_events(cast: Cast) -> None:
    p, aid = cast.served.people, cast.auction_id
    for amount in ("3.00", "2.75", "2.50"):
        await cast.s1.ok("place_bids", auction_id=aid, bids=[bid(amount=amount)])
    events = (await cast.admin.ok("get_events", auction_id=aid))["events"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["type"] for e in events][:2] == ["auction_created", "auction_started"]
    page = (await cast.buyer.ok("get_events", auction_id=aid, since=2, limit=2))["events"]
    assert [(e["seq"], e["data"]["amount"]) for e in page] == [(3, "3.00"), (4, "2.75")]
    # 1.1: every participant reads the log (filtered as in updates); others learn nothing.
    assert [e["seq"] for e in (await cast.s2.ok("get_events", auction_id=aid))["events"]] == [
        1,
        2,
        3,
        4,
        5,
    ]
    for conn in (cast.s3, cast.other_buyer, cast.observer):
        assert await conn.error("get_events", auction_id=aid) == ("not_found", "auction not found")
    pending = await cast.buyer.ok("create_auction", auction=spot(p, start=T0 + 60 * SECOND))
    assert (await cast.buyer.ok("get_events", auction_id=pending["auction_id"]))["seq"] == 1
    assert (await cast.admin.ok("get_events", auction_id=pending["auction_id"]))["seq"] == 1
    # A seq beyond what JSON readers hold exactly is refused as ill-typed, never `internal`
    # (since + 1 once overflowed SQLite's integers: found by tests/security/test_attacker.py).
    for huge in (2**53, 2**63 - 1):
        for type_ in ("get_events", "subscribe"):
            code, message = await cast.admin.error(type_, auction_id=aid, since=huge)
            assert (code, "$.since" in message) == ("bad_request", True)
    for type_ in ("get_events", "subscribe"):  # the largest exact one: beyond the auction's seq
        code, message = await cast.admin.error(type_, auction_id=aid, since=2**53 - 1)
        assert (code, message.startswith("since is beyond the auction's seq")) == ("invalid", True)


async def test_list_auctions(cast: Cast) -> None:
    p = cast.served.people
    draft = (await cast.buyer.ok("create_auction", auction=spot(p, start=None)))["auction_id"]
    listed = (await cast.buyer.ok("list_auctions"))["auctions"]
    assert sorted(a["auction_id"] for a in listed) == sorted([cast.auction_id, draft])
    summary = next(a for a in listed if a["auction_id"] == cast.auction_id)
    assert summary == {
        "auction_id": cast.auction_id,
        "kind": "spot",
        "status": "open",
        "port": "Rotterdam",
        "buyer": {"id": p.buyer.company_id, "name": "Aegean Shipping"},
        "scheduled_start": "2026-11-27T10:00:00.000000Z",
        "closes_at": "2026-11-27T10:10:00.000000Z",
    }
    only_drafts = (await cast.buyer.ok("list_auctions", status=["draft"]))["auctions"]
    assert [a["auction_id"] for a in only_drafts] == [draft]
    seen_by_s1 = (await cast.s1.ok("list_auctions"))["auctions"]
    assert [a["auction_id"] for a in seen_by_s1] == [cast.auction_id]  # no drafts
    assert (await cast.s3.ok("list_auctions"))["auctions"] == []
    assert (await cast.other_buyer.ok("list_auctions"))["auctions"] == []
    assert len((await cast.admin.ok("list_auctions"))["auctions"]) == 2
    code, _ = await cast.admin.error("list_auctions", status=["sleeping"])
    assert code == "bad_request"


async def test_subscribe_refusals(cast: Cast) -> None:
    aid = cast.auction_id
    assert await cast.s3.error("subscribe", auction_id=aid) == ("not_found", "auction not found")
    assert (await cast.other_buyer.error("subscribe", auction_id=aid))[0] == "not_found"
    assert (await cast.s1.error("subscribe", auction_id="a-unknown"))[0] == "not_found"
    assert (await cast.s1.error("subscribe", auction_id=aid, since=99))[0] == "invalid"


async def test_subscribe_then_unsubscribe(cast: Cast) -> None:
    aid = cast.auction_id
    assert (await cast.s2.ok("subscribe", auction_id=aid))["seq"] == 2
    first = await cast.s2.next_update()
    assert (first["seq"], first["events"], first["view"]["seq"]) == (2, [], 2)
    await cast.s1.ok("place_bids", auction_id=aid, bids=[bid()])
    update = await cast.s2.next_update()
    assert update["seq"] == 3 and [e["type"] for e in update["events"]] == ["bid_placed"]
    assert update["events"][0]["by"] is None  # a competitor's bid
    await cast.s2.ok("unsubscribe", auction_id=aid)
    await cast.s1.ok("place_bids", auction_id=aid, bids=[bid(amount="1.75")])
    await cast.s2.ok("list_auctions")  # any update would have been queued before this reply
    assert cast.s2.updates == []


async def test_subscribe_with_since_gets_the_events_after_it(cast: Cast) -> None:
    aid = cast.auction_id
    for amount in ("3.00", "2.75"):
        await cast.s1.ok("place_bids", auction_id=aid, bids=[bid(amount=amount)])
    assert (await cast.buyer.ok("subscribe", auction_id=aid, since=1))["seq"] == 4
    update = await cast.buyer.next_update()
    assert [e["seq"] for e in update["events"]] == [2, 3, 4]
    assert [e["type"] for e in update["events"]] == ["auction_started", "bid_placed", "bid_placed"]
    assert update["view"]["seq"] == 4


async def test_subscribe_all(cast: Cast) -> None:
    p = cast.served.people
    reply = await cast.s1.ok("subscribe_all")
    assert reply["auctions"] == [cast.auction_id]
    assert (await cast.s1.next_update())["auction_id"] == cast.auction_id
    draft = await cast.buyer.ok("create_auction", auction=spot(p, start=None))
    later = await cast.admin.ok(
        "create_auction", buyer=p.buyer.company_id, auction=spot(p, start=T0 + 60 * SECOND)
    )
    update = await cast.s1.next_update()  # the draft is not visible to suppliers
    assert (update["auction_id"], update["seq"]) == (later["auction_id"], 1)
    assert update["view"]["status"] == "pending"
    start = format_instant(T0 + 120 * SECOND)
    changes = {"scheduled_start": start}
    await cast.buyer.ok("update_auction", auction_id=draft["auction_id"], changes=changes)
    update = await cast.s1.next_update()  # now it is
    assert (update["auction_id"], update["seq"]) == (draft["auction_id"], 2)
    assert (await cast.s3.ok("subscribe_all"))["auctions"] == []


async def test_an_update_that_hides_the_auction_ends_the_subscription(cast: Cast) -> None:
    p = cast.served.people
    pending = await cast.buyer.ok("create_auction", auction=spot(p, start=T0 + 60 * SECOND))
    aid = pending["auction_id"]
    await cast.s2.ok("subscribe", auction_id=aid)
    await cast.s2.next_update()
    changes = {"suppliers": [p.s1.company_id]}
    await cast.buyer.ok("update_auction", auction_id=aid, changes=changes)
    await cast.s2.ok("list_auctions")
    assert cast.s2.others[-1] == {
        "type": "unsubscribed",
        "auction_id": aid,
        "seq": 2,
        "code": "not_found",
        "message": "auction not found",
    }
    assert cast.s2.updates == []


async def test_operator_requests(cast: Cast) -> None:
    status = await cast.admin.ok("operator_status")
    assert status["actors"] == {"live": 1, "passivated": 0, "restarting": 0, "quarantined": 0}
    assert (status["restarts"], status["connections"], status["troubled"]) == (0, 7, [])
    assert (await cast.buyer.error("operator_status"))[0] == "forbidden"
    code, message = await cast.admin.error("operator_revive", auction_id=cast.auction_id)
    assert (code, message) == ("invalid", f"auction {cast.auction_id} is not quarantined")
    assert (await cast.s1.error("operator_revive", auction_id=cast.auction_id))[0] == "forbidden"


async def test_a_quarantined_auction_is_unavailable_and_shows_in_operator_status(
    cast: Cast,
) -> None:
    """Another writer slips an undecodable event into the stream: the actor's next append
    fails, every replay fails, and the supervisor quarantines the auction."""
    aid, supervisor = cast.auction_id, cast.served.supervisor
    await cast.served.directory.store.append(aid, 2, [NewEvent("bid_placed", b"{}")])
    code, _ = await cast.s1.error("place_bids", auction_id=aid, bids=[bid()])
    assert code == "unavailable"
    await supervisor.quiesce()
    code, message = await cast.s1.error("place_bids", auction_id=aid, bids=[bid()])
    assert code == "unavailable" and "quarantined" in message
    assert (await cast.buyer.error("get_view", auction_id=aid))[0] == "unavailable"
    status = await cast.admin.ok("operator_status")
    assert status["actors"]["quarantined"] == 1
    (troubled,) = status["troubled"]
    assert (troubled["auction_id"], troubled["status"]) == (aid, "quarantined")
    assert "seq 3" in troubled["last_error"]
    revived = await cast.admin.ok("operator_revive", auction_id=aid)
    assert (revived["auction_id"], revived["status"]) == (aid, "starting")
    await supervisor.quiesce()  # the stream is still damaged: quarantined again
    assert (await cast.admin.ok("operator_status"))["actors"]["quarantined"] == 1


async def test_a_restarted_gateway_indexes_the_stored_auctions(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    async with serving(path) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        live = await open_auction(admin, p)
        canceled = await open_auction(admin, p)
        await admin.ok("cancel_auction", auction_id=canceled)
        await admin.close()
    async with serving(path) as served:
        await served.supervisor.quiesce()
        admin = await Conn.open(served.url, served.people.admin.token)
        listed = (await admin.ok("list_auctions"))["auctions"]
        assert sorted((a["auction_id"], a["status"]) for a in listed) == sorted(
            [(live, "open"), (canceled, "canceled")]
        )
        status = await admin.ok("operator_status")
        # Nothing is loaded at start-up (lazy actors) nor by a list (it reads the catalog).
        assert status["actors"] == {"live": 0, "passivated": 2, "restarting": 0, "quarantined": 0}
        await admin.close()


async def test_a_term_auction_over_the_wire(cast: Cast) -> None:
    p = cast.served.people
    auction = {
        "kind": "formula_related",
        "port": "Singapore",
        "suppliers": [p.s1.company_id],
        "scheduled_start": format_instant(T0 + 60 * SECOND),
        "fuel": "VLSFO 0.5%",
        "fuel_index": "Platts Singapore 0.5%",
        "quantity_mt_per_month": 1000,
        "start_month": "2027-01",
        "end_month": "2027-03",
    }
    created = await cast.buyer.ok("create_auction", auction=auction)
    assert created["product_ids"] == ["p1"]
    await cast.admin.ok("start_auction", auction_id=created["auction_id"])
    reply = await cast.s1.ok(
        "place_bids", auction_id=created["auction_id"], bids=[bid(amount="-1.75")]
    )
    view = (await cast.buyer.ok("get_view", auction_id=created["auction_id"]))["view"]
    (product,) = view["products"]
    assert (product["quantity_mt"], product["fuel_index"]) == (3000, "Platts Singapore 0.5%")
    assert product["bids"][0]["bid_id"] == reply["bid_ids"][0]
    assert product["bids"][0]["amount"] == "-1.75"


async def test_auto_bids_and_a_custom_selection(cast: Cast) -> None:
    aid = cast.auction_id
    auto = bid(amount="2.00", min_amount="1.00")
    await cast.s1.ok("place_bids", auction_id=aid, bids=[auto])
    await cast.s2.ok("subscribe", auction_id=aid)
    await cast.s2.next_update()
    await cast.s2.ok("place_bids", auction_id=aid, bids=[bid(amount=1.75)])
    update = await cast.s2.next_update()
    triggered = [e for e in update["events"] if e["type"] == "auto_bid_triggered"]
    assert [(e["by"], e["data"]["amount"], e["data"]["supplier"]) for e in triggered] == [
        (None, "1.50", None)
    ]
    bids = update["view"]["products"][0]["bids"]
    assert (bids[0]["amount"], bids[0]["supplier"]) == ("1.50", None)
    mine = (await cast.s1.ok("get_view", auction_id=aid))["view"]["products"][0]["bids"][0]
    assert (mine["amount"], mine["min_amount"], mine["is_auto"]) == ("1.50", "1.00", True)
    cast.served.clock.advance(600)
    await cast.served.supervisor.quiesce()
    chosen = [bids[1]["bid_id"]]  # s2's 1.75, not the cheapest
    await cast.buyer.ok("select_solution", auction_id=aid, bid_ids=chosen)
    view = (await cast.s2.ok("get_view", auction_id=aid))["view"]
    assert view["status_line"] == "You won the entire auction"


async def test_subscribe_all_serves_finished_auctions_without_replaying_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page load (`subscribe_all`) must not wake the actors of the auctions it sends, nor
    replay a finished auction's events: their states are read from the store, a page at a
    time, a finished one from its final snapshot (issue 11)."""
    path = tmp_path / "finished.db"
    async with serving(path) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        ids = [await open_auction(admin, p) for _ in range(4)]
        for aid in ids[:3]:
            await admin.ok("cancel_auction", auction_id=aid)
        await admin.close()
    async with serving(path) as served:  # a restart: nothing is loaded until it is needed
        await served.supervisor.quiesce()
        sup, store = served.supervisor, served.supervisor.store
        assert sup.cells() == []
        replayed: list[str] = []
        read_stream = store.read_stream

        async def counted(stream_id: str, **kw: Any) -> list[StoredEvent]:
            replayed.append(stream_id)
            return await read_stream(stream_id, **kw)

        monkeypatch.setattr(store, "read_stream", counted)
        for _ in range(3):  # three page loads
            buyer = await Conn.open(served.url, served.people.buyer.token)
            listed = (await buyer.ok("subscribe_all"))["auctions"]
            assert sorted(listed) == sorted(ids)
            views = {}
            while len(views) < 4:
                update = await buyer.next_update()
                views[update["auction_id"]] = update["view"]["status"]
            assert views == {
                ids[0]: "canceled",
                ids[1]: "canceled",
                ids[2]: "canceled",
                ids[3]: "open",
            }
            await buyer.close()
        await sup.quiesce()
        assert sup.stats.passivations == 0  # no actor was woken (and put back)
        assert sup.cells() == []
        assert replayed == []  # one read of each page's snapshots and events after them

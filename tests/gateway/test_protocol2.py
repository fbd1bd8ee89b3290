"""Protocol 2 over real sockets: negotiated in the hello; bounded views (no bid history); the
first update of a subscription carries the view and every later one a JSON Patch (applied here
with `jsonpatch`), which folds into exactly what `get_view` returns at that seq. Protocol 1
connections on the same server keep getting whole views, as before."""

from __future__ import annotations

from typing import Any

import jsonpatch

from auctionactors.domain.timestamps import parse_instant

from .conftest import T0, Conn, Opener, Served, bid, open_auction


async def p2(open_conn: Opener, user: Any) -> Conn:
    conn = await open_conn()
    await conn.send({"type": "hello", "token": user.token, "protocol": 2})
    conn.welcome = await conn.recv()
    assert conn.welcome["type"] == "welcome" and conn.welcome["protocol"] == 2
    return conn


class Folded:
    """A protocol-2 client's copy of one auction's view, made from its update frames."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] | None = None
        self.seq = 0
        self.patches = 0

    def take(self, frame: dict[str, Any]) -> None:
        assert frame["type"] == "update"
        assert frame["seq"] > self.seq
        assert isinstance(parse_instant(frame["server_time"]), int)
        if "view" in frame:
            assert "patch" not in frame
            self.doc = frame["view"]
        else:
            assert self.doc is not None, "a patch before any view"
            self.doc = jsonpatch.apply_patch(self.doc, frame["patch"])
            self.patches += 1
        self.seq = frame["seq"]


def no_history(view: dict[str, Any]) -> None:
    assert "server_time" not in view
    for product in view["products"]:
        assert "history" not in product


async def test_hello_negotiates_the_protocol(served: Served, open_conn: Opener) -> None:
    p = served.people
    plain = await open_conn(p.buyer)  # says nothing: protocol 1, as always
    assert plain.welcome is not None and plain.welcome["protocol"] == 1
    one = await open_conn()
    await one.send({"type": "hello", "token": p.buyer.token, "protocol": 1})
    assert (await one.recv())["protocol"] == 1
    await p2(open_conn, p.buyer)


async def test_an_unknown_protocol_is_refused_and_the_hello_may_come_again(
    served: Served, open_conn: Opener
) -> None:
    conn = await open_conn()
    for protocol in (3, 0, "2", None):
        await conn.send({"type": "hello", "id": 7, "token": served.people.s1.token,
                         "protocol": protocol})  # fmt: skip
        refused = await conn.recv()
        assert refused["type"] == "error" and refused["code"] == "bad_request", refused
        assert refused["id"] == 7
    assert (
        "protocol 3 is not supported"
        in (await conn.request("hello", token=served.people.s1.token, protocol=3))["message"]
    )
    await conn.send({"type": "hello", "token": served.people.s1.token, "protocol": 2})
    welcome = await conn.recv()
    assert welcome["type"] == "welcome" and welcome["protocol"] == 2


async def test_the_first_update_carries_the_view_and_later_ones_a_patch(
    served: Served, open_conn: Opener
) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    auction = await open_auction(admin, p, products=2)
    s1 = await p2(open_conn, p.s1)
    seq = (await s1.ok("subscribe", auction_id=auction))["seq"]
    first = await s1.next_update()
    assert first["seq"] == seq and "view" in first and "patch" not in first
    no_history(first["view"])
    folded = Folded()
    folded.take(first)
    s2 = await open_conn(p.s2)
    for amount in ("3.00", "2.75", "2.50"):
        placed = await s2.ok("place_bids", auction_id=auction, bids=[bid("p1", amount)])
        update = await s1.update_at(auction, placed["seq"])
        assert "view" not in update and update["patch"], update
        assert all(op["path"] != "" for op in update["patch"])  # parts, not the whole view
        assert update["events"][0]["type"] == "bid_placed"
        assert update["events"][0]["by"] is None  # a competitor's event, as in protocol 1
        folded.take(update)
    got = await s1.ok("get_view", auction_id=auction)
    assert got["seq"] == folded.seq and isinstance(parse_instant(got["server_time"]), int)
    no_history(got["view"])
    assert folded.doc == got["view"]
    assert [b["amount"] for b in got["view"]["products"][0]["bids"]] == ["2.50"]


async def test_protocol_1_is_unchanged_beside_protocol_2(served: Served, open_conn: Opener) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    auction = await open_auction(admin, p)
    old = await open_conn(p.buyer)
    new = await p2(open_conn, p.buyer)
    for conn in (old, new):
        await conn.ok("subscribe", auction_id=auction)
        await conn.next_update()
    s1 = await open_conn(p.s1)
    placed = await s1.ok("place_bids", auction_id=auction, bids=[bid("p1", "2.00")])
    whole = await old.update_at(auction, placed["seq"])
    assert "patch" not in whole and "server_time" not in whole
    assert whole["view"]["server_time"] == "2026-11-27T10:00:00.000000Z"
    assert [h["amount"] for h in whole["view"]["products"][0]["history"]] == ["2.00"]
    got = await old.ok("get_view", auction_id=auction)
    assert got["view"] == whole["view"] and "server_time" not in got
    patched = await new.update_at(auction, placed["seq"])
    assert "patch" in patched and patched["events"] == whole["events"]


async def test_a_patch_does_not_grow_with_the_auction(served: Served, open_conn: Opener) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    auction = await open_auction(admin, p, products=2)
    buyer = await p2(open_conn, p.buyer)
    await buyer.ok("subscribe", auction_id=auction)
    first = await buyer.next_update()
    s1, s2 = await open_conn(p.s1), await open_conn(p.s2)
    sizes = []
    for k in range(150):
        conn, amount = (s1, 100_000 - 25 * k) if k % 2 else (s2, 100_000 - 25 * k)
        product = "p1" if k % 4 < 2 else "p2"
        amount_text = f"{amount // 100}.{amount % 100:02d}"
        placed = await conn.ok("place_bids", auction_id=auction, bids=[bid(product, amount_text)])
        frame = await buyer.update_at(auction, placed["seq"])
        sizes.append(len(str(frame)))
    assert "view" in first and max(sizes[-10:]) <= max(sizes[:10]) + 64, sizes
    view = (await buyer.ok("get_view", auction_id=auction))["view"]
    assert len(str(view)) < 4_000  # two products, two live bids each: no history


async def test_subscribe_all_on_protocol_2(served: Served, open_conn: Opener) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    first = await open_auction(admin, p)
    watcher = await p2(open_conn, p.s1)
    reply = await watcher.ok("subscribe_all")
    assert reply["count"] == 1 and "auctions" not in reply
    views = {first: Folded()}
    views[first].take(await watcher.next_update())
    second = await open_auction(admin, p)  # visible to it later: its first update is a view
    update = await watcher.update_at(second, 1)
    assert "view" in update
    views[second] = Folded()
    views[second].take(update)
    s2 = await open_conn(p.s2)
    for auction in (first, second):
        placed = await s2.ok("place_bids", auction_id=auction, bids=[bid("p1", "5.00")])
        views[auction].take(await watcher.update_at(auction, placed["seq"]))
        assert views[auction].patches == 1
        got = await watcher.ok("get_view", auction_id=auction)
        assert views[auction].doc == got["view"] and views[auction].seq == got["seq"]
    assert T0  # the manual clock did not move


async def test_a_write_that_failed_is_never_the_base_of_a_patch(
    served: Served, open_conn: Opener
) -> None:
    """The update of a command whose write failed was rendered (and kept as the base of the next
    patch) but never sent: the next update must not patch from it."""
    p = served.people
    admin = await open_conn(p.admin)
    auction = await open_auction(admin, p, products=2)
    buyer = await p2(open_conn, p.buyer)
    await buyer.ok("subscribe", auction_id=auction)
    folded = Folded()
    folded.take(await buyer.next_update())
    s1, s2 = await open_conn(p.s1), await open_conn(p.s2)
    folded.take(
        await buyer.update_at(
            auction,
            (await s1.ok("place_bids", auction_id=auction, bids=[bid("p1", "3.00")]))["seq"],
        )
    )
    store = served.supervisor.store
    store.fail_next_append = OSError(28, "No space left on device")  # type: ignore[attr-defined]
    code, _ = await s1.error("place_bids", auction_id=auction, bids=[bid("p2", "1.00")])
    assert code == "unavailable"
    placed = await s2.ok("place_bids", auction_id=auction, bids=[bid("p1", "2.00")])
    folded.take(await buyer.update_at(auction, placed["seq"]))
    got = await buyer.ok("get_view", auction_id=auction)
    assert folded.seq == got["seq"] and folded.doc == got["view"]
    assert [len(product["bids"]) for product in got["view"]["products"]] == [2, 0]


async def test_subscribe_since_on_protocol_2_sends_the_events_with_the_view(
    served: Served, open_conn: Opener
) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    auction = await open_auction(admin, p)
    s1 = await open_conn(p.s1)
    seqs = [
        (await s1.ok("place_bids", auction_id=auction, bids=[bid("p1", amount)]))["seq"]
        for amount in ("3.00", "2.00")
    ]
    buyer = await p2(open_conn, p.buyer)
    assert (await buyer.ok("subscribe", auction_id=auction, since=seqs[0] - 1))["seq"] == seqs[1]
    first = await buyer.next_update()
    assert [e["seq"] for e in first["events"]] == seqs and "view" in first
    no_history(first["view"])
    assert first["view"] == (await buyer.ok("get_view", auction_id=auction))["view"]

"""`Views`: the client's current view per auction, from hand-written protocol-2 frames (the view
once, then patches; history frames before a catch-up's update; resumes that overlap)."""

from __future__ import annotations

from typing import Any

from auctionactors.client.views import Views


def view(seq: int, amount: str = "2.00") -> dict[str, Any]:
    return {
        "auction_id": "a1",
        "status": "open",
        "seq": seq,
        "server_time": "2026-11-27T10:00:00.000000Z",
        "products": [{"product_id": "p1", "bids": [{"bid_id": "b1", "amount": amount}]}],
        "solutions": {"best_overall": {"bid_ids": ["b1"], "total_price": "3000.00"}},
    }


def event(seq: int, type_: str = "bid_placed") -> dict[str, Any]:
    return {"seq": seq, "type": type_, "at": "2026-11-27T10:00:00.000000Z", "by": None, "data": {}}


def first(seq: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "update",
        "auction_id": "a1",
        "seq": seq,
        "events": [],
        "view": view(seq),
        **fields,
    }


def patched(seq: int, amount: str) -> dict[str, Any]:
    return {
        "type": "update",
        "auction_id": "a1",
        "seq": seq,
        "events": [event(seq)],
        "patch": [
            {"op": "replace", "path": "/seq", "value": seq},
            {"op": "replace", "path": "/products/0/bids/0/amount", "value": amount},
        ],
    }


def test_patches_are_applied_and_every_update_keeps_its_own_view() -> None:
    views = Views(protocol=2)
    frames = [first(3), patched(4, "1.75"), patched(5, "1.50")]
    assert [views.update(f) for f in frames] == ["deliver"] * 3
    assert [f["view"]["seq"] for f in frames] == [3, 4, 5]
    amounts = [f["view"]["products"][0]["bids"][0]["amount"] for f in frames]
    assert amounts == ["2.00", "1.75", "1.50"]  # each at its own seq, not the latest
    current = views.view("a1")
    expected = view(5, "1.50")
    del expected["server_time"]
    assert current == expected
    assert current is frames[-1]["view"]
    assert "server_time" not in current  # protocol 2: no view carries a stale clock sample
    assert current["solutions"] is frames[0]["view"]["solutions"]  # unchanged parts: shared


def test_protocol_1_views_pass_through_untouched() -> None:
    views = Views(protocol=1)
    frame = first(3)
    assert views.update(frame) == "deliver"
    assert frame["view"]["server_time"] == "2026-11-27T10:00:00.000000Z"
    assert views.view("a1") is frame["view"]


def test_a_resume_overlapping_what_was_delivered_resets_the_base_but_is_not_delivered() -> None:
    views = Views(protocol=2)
    views.update(first(3))
    views.update(patched(4, "1.75"))
    again = first(4)  # subscribe since=4 on a new connection: nothing new, a view
    again["view"]["products"][0]["bids"][0]["amount"] = "1.75"
    assert views.update(again) == "skip"
    assert views.view("a1") is again["view"]
    assert views.update(patched(5, "1.50")) == "deliver"
    assert views.view("a1")["products"][0]["bids"][0]["amount"] == "1.50"


def test_history_frames_are_folded_into_the_next_update() -> None:
    views = Views(protocol=2)
    views.update(first(3))
    views.resumed()  # a new connection, subscribing since=3
    views.history(
        {"type": "history", "auction_id": "a1", "events": [event(s) for s in range(2, 6)]}
    )
    views.history(
        {"type": "history", "auction_id": "a1", "events": [event(s) for s in range(6, 8)]}
    )
    update = first(9, events=[event(8), event(9)])
    assert views.update(update) == "deliver"
    assert [e["seq"] for e in update["events"]] == [4, 5, 6, 7, 8, 9]  # 2 and 3 were delivered
    nxt = patched(10, "1.00")
    assert views.update(nxt) == "deliver" and [e["seq"] for e in nxt["events"]] == [10]


def test_history_of_a_dropped_connection_is_not_folded_twice() -> None:
    views = Views(protocol=2)
    views.update(first(3))
    views.history({"type": "history", "auction_id": "a1", "events": [event(4), event(5)]})
    views.resumed()  # the connection dropped before the update: the server sends them again
    views.history({"type": "history", "auction_id": "a1", "events": [event(4), event(5)]})
    update = first(6, events=[event(6)])
    views.update(update)
    assert [e["seq"] for e in update["events"]] == [4, 5, 6]


def test_a_patch_that_does_not_apply_is_a_desync_and_the_next_view_recovers() -> None:
    views = Views(protocol=2)
    assert views.update(patched(4, "1.75")) == "desync"  # no view to apply it to
    views.update(first(3))
    bad = patched(4, "1.75")
    bad["patch"].append({"op": "remove", "path": "/nope"})
    assert views.update(bad) == "desync" and views.desyncs == 2
    assert views.view("a1") is None
    # The patches already on their way are dropped until the view comes: one resubscription.
    assert views.update(patched(5, "1.50")) == "skip" and views.desyncs == 2
    fresh = first(5)
    assert views.update(fresh) == "deliver" and views.view("a1") is fresh["view"]
    assert views.update(patched(6, "1.25")) == "deliver"  # patches apply again


def test_forget_drops_the_view() -> None:
    views = Views(protocol=2)
    views.update(first(3))
    views.forget("a1")
    assert views.view("a1") is None
    assert views.update(patched(4, "1.75")) == "desync"

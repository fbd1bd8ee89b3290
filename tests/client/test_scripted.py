"""The client against a scripted protocol-2 peer (a real WebSocket server on port 0 that answers
what the test says and records every frame): the hello, a catch-up's ``history`` frames, patches
across a reconnection, a patch that does not apply, and the paged reads. The real server cannot be
made to send a broken patch, nor a catch-up this precisely."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from auctionactors.client import Client
from tests.client.test_views import event, view

Frames = list[dict[str, Any]]
Script = Callable[[dict[str, Any]], Frames]


class Peer:
    """Welcomes any token with the protocol asked for; answers each request with ``script``'s
    frames (an ``ok`` and pushes); ``push`` sends more on the latest connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.hellos: Frames = []
        self.received: Frames = []
        self.ws: ServerConnection | None = None
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        self.hellos.append(hello)
        welcome = {
            "type": "welcome",
            "protocol": hello.get("protocol", 1),
            "user": {},
            "company": {},
        }
        await ws.send(json.dumps(welcome))
        self.ws = ws
        try:
            async for data in ws:
                frame = json.loads(data)
                self.received.append(frame)
                for reply in self.script(frame):
                    await ws.send(json.dumps(reply))
        except ConnectionClosed:
            pass

    async def push(self, *frames: dict[str, Any]) -> None:
        assert self.ws is not None
        for frame in frames:
            await self.ws.send(json.dumps(frame))

    def requests(self, type_: str) -> Frames:
        return [f for f in self.received if f["type"] == type_]


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[Peer]:
    peer = Peer(script)
    async with serve(peer.handler, "127.0.0.1", 0) as server:
        peer.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
        yield peer


def ok(frame: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "ok", "id": frame["id"], **fields}


def update(seq: int, events: Frames, amount: str = "2.00") -> dict[str, Any]:
    return {
        "type": "update",
        "auction_id": "a1",
        "seq": seq,
        "events": events,
        "view": view(seq, amount),
    }


def patch(seq: int, amount: str) -> dict[str, Any]:
    ops = [
        {"op": "replace", "path": "/seq", "value": seq},
        {"op": "replace", "path": "/products/0/bids/0/amount", "value": amount},
    ]
    return {"type": "update", "auction_id": "a1", "seq": seq, "events": [event(seq)], "patch": ops}


def amount(frame: dict[str, Any]) -> str:
    return str(frame["view"]["products"][0]["bids"][0]["amount"])


async def test_protocol_2_is_asked_for_and_protocol_1_on_request() -> None:
    async with scripted(lambda f: []) as peer:
        async with Client(peer.url, "t") as two, Client(peer.url, "t", protocol=1) as one:
            assert (two.protocol_in_force, one.protocol_in_force) == (2, 1)
        assert [h.get("protocol") for h in peer.hellos] == [2, None]


async def test_a_catch_up_in_history_frames_arrives_as_one_update_then_patches_apply() -> None:
    def script(frame: dict[str, Any]) -> Frames:
        assert frame["type"] == "subscribe" and frame["since"] == 3
        pieces = [
            {
                "type": "history",
                "auction_id": "a1",
                "events": [event(s) for s in range(a, a + 1000)],
            }
            for a in (4, 1004)
        ]
        return [ok(frame, seq=2005), *pieces, update(2005, [event(2004), event(2005)], "1.00")]

    async with scripted(script) as peer, Client(peer.url, "t") as client:
        assert await client.subscribe("a1", since=3) == 2005
        caught_up = await client.next_update(5)
        assert [e["seq"] for e in caught_up["events"]] == list(range(4, 2006))
        assert caught_up["view"]["seq"] == 2005 and amount(caught_up) == "1.00"
        await peer.push(patch(2006, "0.75"))
        live = await client.next_update(5)
        assert [e["seq"] for e in live["events"]] == [2006]
        assert live["view"]["seq"] == 2006 and amount(live) == "0.75"
        assert client.view("a1") is live["view"]
        assert amount(caught_up) == "1.00"  # the earlier update keeps its own view


async def test_after_a_reconnection_the_resumed_subscription_starts_from_a_view() -> None:
    def script(frame: dict[str, Any]) -> Frames:
        if frame.get("since") is None:
            return [ok(frame, seq=3), update(3, [])]
        assert frame["since"] == 4  # the last seq delivered
        return [ok(frame, seq=6), update(6, [event(5), event(6)], "1.25")]

    async with scripted(script) as peer, Client(peer.url, "t", max_backoff_s=0.05) as client:
        await client.subscribe("a1")
        assert (await client.next_update(5))["seq"] == 3
        await peer.push(patch(4, "1.75"))
        assert amount(await client.next_update(5)) == "1.75"
        assert peer.ws is not None
        await peer.ws.close(1012)  # the server restarts
        resumed = await client.next_update(5)
        assert [e["seq"] for e in resumed["events"]] == [5, 6] and amount(resumed) == "1.25"
        await peer.push(patch(7, "1.00"))  # patches now apply to the new connection's view
        assert amount(await client.next_update(5)) == "1.00"
        assert client.reconnects == 1
        assert [h.get("protocol") for h in peer.hellos] == [2, 2]


async def test_a_patch_that_does_not_apply_resubscribes_for_a_fresh_view() -> None:
    def script(frame: dict[str, Any]) -> Frames:
        if frame.get("since") is None:
            return [ok(frame, seq=3), update(3, [])]
        return [ok(frame, seq=5), update(5, [event(4), event(5)], "1.50")]

    async with scripted(script) as peer, Client(peer.url, "t") as client:
        await client.subscribe("a1")
        await client.next_update(5)
        broken = patch(4, "1.75")
        broken["patch"].append({"op": "remove", "path": "/no/such/member"})
        await peer.push(broken)
        fresh = await client.next_update(5)  # not the broken one: the resubscription's view
        assert fresh["seq"] == 5 and [e["seq"] for e in fresh["events"]] == [4, 5]
        assert amount(fresh) == "1.50"
        assert peer.requests("subscribe")[-1]["since"] == 3
        assert client._views.desyncs == 1


async def test_paged_reads_follow_the_cursors() -> None:
    auctions = [{"auction_id": f"a{i}"} for i in range(7)]
    events = [event(s) for s in range(1, 11)]

    def script(frame: dict[str, Any]) -> Frames:
        if frame["type"] in ("list_auctions", "list_companies"):
            start = int(frame.get("cursor") or 0)
            page = auctions[start : start + frame["limit"]]
            more = start + len(page) < len(auctions)
            key = "auctions" if frame["type"] == "list_auctions" else "companies"
            return [
                ok(frame, **{key: page, "next_cursor": str(start + len(page)) if more else None})
            ]
        page = [e for e in events if e["seq"] > frame["since"]][: frame["limit"]]
        more = page and page[-1]["seq"] < len(events)
        return [ok(frame, events=page, next_since=page[-1]["seq"] if more else None)]

    async with scripted(script) as peer, Client(peer.url, "t") as client:
        assert [a async for a in client.list_auctions(["open"], limit=3)] == auctions
        assert [c async for c in client.list_companies("supplier", limit=7)] == auctions
        assert [e async for e in client.get_events("a1", since=2, limit=4)] == events[2:]
    listed = peer.requests("list_auctions")
    assert [r.get("cursor") for r in listed] == [None, "3", "6"]
    assert all(r["status"] == ["open"] for r in listed)
    assert [r["role"] for r in peer.requests("list_companies")] == ["supplier"]  # one page
    assert [r["since"] for r in peer.requests("get_events")] == [2, 6]  # 7..10: the last page


async def test_get_events_without_next_since_pages_by_the_last_seq() -> None:
    """A server before protocol 1.1 answers no ``next_since``: full pages mean more may follow."""
    events = [event(s) for s in range(1, 9)]

    def script(frame: dict[str, Any]) -> Frames:
        return [
            ok(frame, events=[e for e in events if e["seq"] > frame["since"]][: frame["limit"]])
        ]

    async with scripted(script) as peer, Client(peer.url, "t") as client:
        assert [e async for e in client.get_events("a1", limit=4)] == events
    assert [r["since"] for r in peer.requests("get_events")] == [0, 4, 8]

"""Fan-out under load: resume with ``since`` while bids keep coming, the Python client's
reconnect, one rendering per distinct receiver, and a reader that cannot keep up cut off (1013)
without slowing anyone else."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import msgspec

from auctionactors.client import Client

from .conftest import FAST, Conn, Served, bid, open_auction, serving

SLOW = msgspec.structs.replace(
    FAST,
    outbox_size=16,
    write_limit=4096,
    max_connections_per_token=64,
    socket_send_buffer=8192,
    # The reader cut off reads only after everyone else got everything, which takes seconds on
    # a loaded machine: the server must still be waiting for its closing handshake then, or it
    # aborts the connection and the client never sees the 1013 in its buffer.
    close_timeout_s=30.0,
)


def event_seqs(updates: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for u in updates for e in u["events"]]


async def bidding(
    conn: Conn,
    auction_id: str,
    count: int,
    start: float = 100.0,
    started: asyncio.Event | None = None,
) -> int:
    """``count`` bids one after another; the seq after the last. ``started`` is set after the
    third."""
    seq = 0
    for i in range(count):
        amount = f"{start - i * 0.25:.2f}"
        seq = (await conn.ok("place_bids", auction_id=auction_id, bids=[bid(amount=amount)]))["seq"]
        if started is not None and i == 2:
            started.set()
    return seq


async def updates_until(conn: Conn, seq: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while not got or got[-1]["seq"] < seq:
        got.append(await conn.next_update())
    return got


async def test_resume_with_since_while_bids_continue(served: Served) -> None:
    """A client drops, bids go on, it comes back with ``since`` while more bids arrive: it ends
    with exactly the events it missed and every later one, each once, in order."""
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    s1 = await Conn.open(served.url, p.s1.token)
    aid = await open_auction(admin, p)
    buyer = await Conn.open(served.url, p.buyer.token)
    await buyer.ok("subscribe", auction_id=aid)
    seen = [(await buyer.next_update())["seq"]]
    seen += [u["seq"] for u in await updates_until(buyer, await bidding(s1, aid, 5))]
    await buyer.close()
    last_seen = seen[-1]

    missed = await bidding(s1, aid, 10, start=90.0)  # while the buyer is away
    back = await Conn.open(served.url, p.buyer.token)
    going = asyncio.Event()
    more = asyncio.create_task(bidding(s1, aid, 30, start=80.0, started=going))
    await going.wait()  # and while it comes back
    subscribed = await back.ok("subscribe", auction_id=aid, since=last_seen)
    final = await more
    updates = await updates_until(back, final)

    first = updates[0]
    assert first["seq"] == subscribed["seq"] > missed
    assert [e["seq"] for e in first["events"]] == list(range(last_seen + 1, first["seq"] + 1))
    assert first["view"]["seq"] == first["seq"]
    assert [u["seq"] for u in updates] == sorted({u["seq"] for u in updates})  # rising, once
    assert event_seqs(updates) == list(range(last_seen + 1, final + 1))
    for conn in (admin, s1, back):
        await conn.close()


async def test_the_client_reconnects_and_resumes(served: Served) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    s1 = await Conn.open(served.url, p.s1.token)
    aid = await open_auction(admin, p)
    async with Client(served.url, p.buyer.token) as client:
        assert client.welcome is not None and client.welcome["company"]["role"] == "buyer"
        assert await client.subscribe(aid) == 2
        assert (await client.next_update(5))["seq"] == 2
        last = await bidding(s1, aid, 3)
        got = [await client.next_update(5) for _ in range(3)]
        assert [u["seq"] for u in got] == [3, 4, last]
        assert client._ws is not None
        client._ws.transport.abort()  # the network fails under it
        final = await bidding(s1, aid, 10, start=90.0)
        updates = []
        while not updates or updates[-1]["seq"] < final:
            updates.append(await client.next_update(5))
        assert event_seqs(updates) == list(range(last + 1, final + 1))
        assert client.reconnects == 1
        reply = await client.request("get_view", auction_id=aid)
        assert reply["seq"] == final
        try:
            await client.request("place_bids", auction_id=aid, bids=[bid()])
        except Exception as exc:
            assert getattr(exc, "code", None) == "forbidden"
        else:
            raise AssertionError("a buyer placed a bid")
    for conn in (admin, s1):
        await conn.close()


async def test_each_update_is_rendered_once_per_receiver(served: Served) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    aid = await open_auction(admin, p)
    conns = [await Conn.open(served.url, user.token) for user in (p.buyer, p.buyer, p.buyer)]
    conns += [await Conn.open(served.url, user.token) for user in (p.s1, p.s1, p.s2, p.admin)]
    conns.append(admin)
    for conn in conns:
        await conn.ok("subscribe", auction_id=aid)
        await conn.next_update()
    s2 = await Conn.open(served.url, p.s2.token)
    renders = served.gateway.hub.stats.renders
    final = await bidding(s2, aid, 4)
    for conn in conns:
        assert [u["seq"] for u in await updates_until(conn, final)] == [3, 4, 5, 6]
    # buyer, s1, s2 and the admins: four receivers for eight connections
    assert served.gateway.hub.stats.renders - renders == 4 * 4
    for conn in (*conns, s2):
        await conn.close()


def tiny_socket(address: tuple[str, int]) -> socket.socket:
    """A client socket with a small receive buffer, so that an unread connection backs up fast."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(address)
    return sock


async def test_a_reader_that_never_reads_is_cut_off_and_the_others_get_everything(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path / "slow.db", SLOW) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        aid = await open_auction(admin, p)
        slow = await Conn.open(
            served.url, p.buyer.token, sock=tiny_socket(served.http), max_queue=1
        )
        await slow.ok("subscribe", auction_id=aid)
        watchers = [
            await Conn.open(served.url, (p.buyer if i % 2 else p.s2).token) for i in range(50)
        ]
        for w in watchers:
            await w.ok("subscribe", auction_id=aid)
            await w.next_update()
        s1 = await Conn.open(served.url, p.s1.token)
        final = 2 + 60
        readers = [asyncio.create_task(updates_until(w, final)) for w in watchers]
        assert await bidding(s1, aid, 60) == final
        for updates in await asyncio.gather(*readers):
            assert [u["seq"] for u in updates] == list(range(3, final + 1))
        assert served.gateway.hub.stats.slow_closes == 1

        # Only now does the slow reader read: what was on its way, then the close, 1013.
        received: list[int] = []
        code = None
        try:
            while True:
                frame = await slow.recv()
                received += [e["seq"] for e in frame.get("events", [])]
        except Exception as exc:
            code = getattr(getattr(exc, "rcvd", None), "code", None)
        assert code == 1013
        assert received == list(range(3, len(received) + 3))
        assert len(received) < 60

        again = await Conn.open(served.url, p.buyer.token)  # and it resumes
        since = received[-1] if received else 2
        await again.ok("subscribe", auction_id=aid, since=since)
        assert event_seqs([await again.next_update()]) == list(range(since + 1, final + 1))
        for conn in (admin, s1, again, *watchers):
            await conn.close()

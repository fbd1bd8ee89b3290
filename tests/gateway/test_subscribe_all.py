"""``subscribe_all`` at scale (issue 11): its initial updates are sent only as fast as the
connection reads them (never a 1013 for its own burst), each exactly once, with live updates in
order around them; protocol 2's ``statuses`` and ``count``; protocol 1 unchanged."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.domain.timestamps import SECOND, format_instant
from auctionactors.gateway import everything
from auctionactors.gateway.peer import Peer
from auctionactors.runtime import replay

from .conftest import FAST, T0, WAIT_S, Conn, Opener, Served, bid, open_auction, serving, spot
from .test_history import stored_auction

# A connection that cannot hold much: an unpaced burst of initial updates overflows it at once.
TIGHT = msgspec.structs.replace(
    FAST, outbox_size=8, outbox_bytes=256 * 1024, write_limit=1024, socket_send_buffer=4096
)


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run (and the sockets move) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, "the condition never held"
        # Not sleep(0): spinning holds the GIL, and the store's thread (the walk's reads) then
        # runs only at each forced switch; an idle machine was seen to stall the walk so.
        await asyncio.sleep(0.001)


async def small_reader(url: str, token: str, protocol: int = 1) -> Conn:
    """A connection with a small receive buffer that reads only when asked to."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    conn = await Conn.open(url, sock=sock, max_queue=1)
    hello: dict[str, Any] = {"type": "hello", "token": token}
    if protocol != 1:
        hello["protocol"] = protocol
    await conn.send(hello)
    conn.welcome = await conn.recv()
    assert conn.welcome["type"] == "welcome" and conn.welcome["protocol"] == protocol
    return conn


async def p2(url: str, token: str) -> Conn:
    conn = await Conn.open(url)
    await conn.send({"type": "hello", "token": token, "protocol": 2})
    conn.welcome = await conn.recv()
    assert conn.welcome["protocol"] == 2, conn.welcome
    return conn


@pytest.mark.parametrize("restarted", [True, False])
async def test_a_slow_reader_gets_every_initial_update_once_and_live_ones_in_order(
    tmp_path: Path, restarted: bool
) -> None:
    """Restarted: no actor is loaded, the auctions are read from the store a page at a time
    (registered before the read); else each is subscribed in its actor, one at a time."""
    path = tmp_path / "slow.db"
    n = everything.PAGE + 6  # more than a page: some auctions wait for the next page
    seqs: dict[str, int] = {}
    async with serving(path, TIGHT) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        for _ in range(n):
            reply = await admin.ok(
                "create_auction", buyer=p.buyer.company_id, auction=spot(p, products=20)
            )
            seqs[reply["auction_id"]] = reply["seq"]
        await admin.close()
        if not restarted:
            await _slow_reader(served, seqs)
    if restarted:
        async with serving(path, TIGHT) as served:
            assert served.supervisor.cells() == []
            await _slow_reader(served, seqs)


def _held(peer: Peer) -> bool:
    """Whether the connection's walk waits for it (`Peer.drained`): frames queued, or its
    socket's buffer above the write limit."""
    return bool(peer.outbox) or (peer.backlogged is not None and peer.backlogged())


async def _slow_reader(served: Served, seqs: dict[str, int]) -> None:
    p, hub, n = served.people, served.gateway.hub, len(seqs)
    ids = list(seqs)  # oldest first; subscribe_all sends the newest first
    s1 = await Conn.open(served.url, p.s1.token)
    reader = await small_reader(served.url, p.buyer.token)
    await reader.send({"type": "subscribe_all", "id": "all"})
    await until(lambda: any(peer.walking and _held(peer) for peer in hub.everything))
    (peer,) = hub.everything  # the walk waits for the reader, which reads nothing yet
    sent_already = [a for a in ids if a in peer.subs and peer.subs[a].pending is None]
    assert sent_already and len(sent_already) < n
    # Live updates: of an auction already sent, of one registered but not sent yet, of one
    # of the next page (none of which the reader has read anything of).
    waiting = [a for a in ids if a in peer.subs and peer.subs[a].pending is not None]
    later = [a for a in ids if a not in peer.subs]
    assert later and bool(waiting) == (not served.supervisor.cells())
    for auction_id in (sent_already[0], *waiting[:1], later[0], sent_already[0]):
        amount = f"{10 - seqs[auction_id] * 0.25:.2f}"
        reply = await s1.ok("place_bids", auction_id=auction_id, bids=[bid(amount=amount)])
        seqs[auction_id] = reply["seq"]
    got: dict[str, list[dict[str, Any]]] = {}
    ok = await reader.reply("all")
    assert ok["type"] == "ok" and sorted(ok["auctions"]) == sorted(ids)
    while any(not got.get(a) or got[a][-1]["seq"] < seqs[a] for a in ids):
        update = await reader.next_update()
        got.setdefault(update["auction_id"], []).append(update)
    assert hub.stats.slow_closes == 0 and not peer.closed
    for auction_id, updates in got.items():
        numbers = [u["seq"] for u in updates]
        assert numbers == sorted(set(numbers)), (auction_id, numbers)  # increasing, once
        assert numbers[-1] == seqs[auction_id]
        for before, after in itertools.pairwise(updates):
            events = [e["seq"] for e in after["events"]]
            assert events == list(range(before["seq"] + 1, after["seq"] + 1))
    assert sorted(got) == sorted(ids)
    for conn in (s1, reader):
        await conn.close()


async def test_protocol_2_statuses_and_count(served: Served, open_conn: Opener) -> None:
    p = served.people
    admin = await open_conn(p.admin)
    opened = await open_auction(admin, p)
    draft = await open_auction(admin, p, start=None)
    canceled = await open_auction(admin, p)
    await admin.ok("cancel_auction", auction_id=canceled)
    default = await p2(served.url, p.admin.token)
    reply = await default.ok("subscribe_all")
    assert reply["count"] == 2 and "auctions" not in reply
    firsts = {(await default.next_update())["auction_id"] for _ in range(2)}
    assert firsts == {opened, draft}
    finished = await p2(served.url, p.admin.token)
    assert (await finished.ok("subscribe_all", statuses=["canceled", "closed"]))["count"] == 1
    update = await finished.next_update()
    assert (update["auction_id"], update["view"]["status"]) == (canceled, "canceled")
    nothing = await p2(served.url, p.admin.token)
    assert (await nothing.ok("subscribe_all", statuses=[]))["count"] == 0
    for conn in (default, finished, nothing):
        await conn.close()


async def test_protocol_2_subscribes_auctions_entering_a_listed_status(
    served: Served, open_conn: Opener
) -> None:
    """Auctions entering a listed status are subscribed to (their first update has the view);
    one leaving the listed statuses stays subscribed until the client unsubscribes."""
    p = served.people
    admin = await open_conn(p.admin)
    draft = await open_auction(admin, p, start=None)
    opened = await open_auction(admin, p)
    watcher = await p2(served.url, p.admin.token)
    assert (await watcher.ok("subscribe_all", statuses=["open"]))["count"] == 1
    assert (await watcher.next_update())["auction_id"] == opened
    later = format_instant(T0 + 3600 * SECOND)
    await admin.ok("update_auction", auction_id=draft, changes={"port": "Antwerp"})  # still draft
    await admin.ok("update_auction", auction_id=draft, changes={"scheduled_start": later})
    started = await admin.ok("start_auction", auction_id=draft)
    update = await watcher.next_update()
    assert (update["auction_id"], update["seq"]) == (draft, started["seq"])  # not the edits
    assert update["view"]["status"] == "open"
    ended = await admin.ok("cancel_auction", auction_id=opened)  # leaves "open": still followed
    update = await watcher.next_update()
    assert (update["auction_id"], update["seq"]) == (opened, ended["seq"])
    await watcher.ok("unsubscribe", auction_id=opened)
    fresh = await open_auction(admin, p)  # created open: entering "open"
    assert (await watcher.next_update())["auction_id"] == fresh
    await watcher.close()


async def test_protocol_2_refuses_statuses_that_are_not_a_list_of_statuses(
    served: Served,
) -> None:
    watcher = await p2(served.url, served.people.admin.token)
    for statuses in (["bogus"], "open", [1], {"open": True}):
        code, message = await watcher.error("subscribe_all", statuses=statuses)
        assert code == "bad_request" and "statuses" in message, message
    hub = served.gateway.hub
    assert not any(peer.all_auctions for peer in hub.everything)  # refused: nothing subscribed
    await watcher.close()


async def test_protocol_1_subscribe_all_is_unchanged(served: Served, open_conn: Opener) -> None:
    """Protocol 1 lists every visible auction, whatever the statuses, and ignores ``statuses``
    (a field it does not know)."""
    p = served.people
    admin = await open_conn(p.admin)
    ids = [await open_auction(admin, p), await open_auction(admin, p, start=None)]
    await admin.ok("cancel_auction", auction_id=ids[0])
    watcher = await open_conn(p.admin)
    assert watcher.welcome is not None and watcher.welcome["protocol"] == 1
    reply = await watcher.ok("subscribe_all", statuses=["bogus"])
    assert sorted(reply["auctions"]) == sorted(ids) and "count" not in reply
    views = {(u := await watcher.next_update())["auction_id"]: u["view"]["status"] for _ in ids}
    assert views == {ids[0]: "canceled", ids[1]: "draft"}


async def test_a_connection_lost_while_its_initial_updates_wait_is_forgotten(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path / "lost.db", TIGHT) as served:
        p, hub = served.people, served.gateway.hub
        admin = await Conn.open(served.url, p.admin.token)
        ids = []
        for _ in range(20):
            reply = await admin.ok(
                "create_auction", buyer=p.buyer.company_id, auction=spot(p, products=20)
            )
            ids.append(reply["auction_id"])
        reader = await small_reader(served.url, p.admin.token)
        await reader.send({"type": "subscribe_all", "id": 1})
        await until(lambda: any(peer.walking and _held(peer) for peer in hub.everything))
        (peer,) = hub.everything
        reader.ws.transport.abort()
        await until(lambda: not hub.everything)  # the walk gave up, the connection is dropped
        assert not peer.walking and not peer.subs
        assert all(hub.subscribed(a) == [] for a in ids)
        await admin.close()


async def test_the_server_stops_while_initial_updates_wait(tmp_path: Path) -> None:
    """A reader that reads nothing keeps its `subscribe_all` waiting (it is not cut off): the
    server's stop must not wait for it."""
    async with serving(tmp_path / "stop.db", TIGHT) as served:
        p, hub = served.people, served.gateway.hub
        admin = await Conn.open(served.url, p.admin.token)
        for _ in range(30):
            await admin.ok("create_auction", buyer=p.buyer.company_id, auction=spot(p, products=20))
        reader = await small_reader(served.url, p.admin.token)
        await reader.send({"type": "subscribe_all", "id": 1})
        await until(lambda: any(peer.walking and _held(peer) for peer in hub.everything))
        await asyncio.wait_for(served.gateway.stop(), WAIT_S)  # the reader is cut off
        assert not hub.everything


async def test_the_walk_folds_what_it_reads_in_pieces(
    served: Served, open_conn: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three auctions of 600 bids without snapshot, read from the store by one page of the walk
    (no actor loaded): at most `replay.FOLD_PIECE` events are applied in one turn of the event
    loop (before: the whole page, 1800 events, in one), and get_view at a past seq the same."""
    ids = [f"a-{i}" for i in range(3)]
    for auction_id in ids:
        await stored_auction(served, 600, auction_id)
    assert served.supervisor.cells() == []
    applied = [0]
    most = [0]
    evolve = replay.evolve

    def counted(state: Any, event: Any) -> Any:
        applied[0] += 1
        return evolve(state, event)

    async def turns() -> None:  # one turn of the event loop to the next
        n = 0
        while True:
            most[0] = max(most[0], applied[0])
            applied[0] = 0
            n += 1
            if n % 50:
                await asyncio.sleep(0)
            else:  # a spinning task holds the GIL: the store's thread (sqlite releases it per
                # row) would get it only at each forced switch. What is applied meanwhile (maybe
                # over several turns) is not counted.
                await asyncio.sleep(0.001)
                applied[0] = 0

    monkeypatch.setattr(replay, "evolve", counted)
    ticker = asyncio.get_running_loop().create_task(turns())
    try:
        watcher = await open_conn(served.people.admin)
        assert sorted((await watcher.ok("subscribe_all"))["auctions"]) == ids
        firsts = [await watcher.next_update() for _ in ids]
        assert sorted(u["auction_id"] for u in firsts) == ids
        assert {u["seq"] for u in firsts} == {602}
        assert (await watcher.ok("get_view", auction_id="a-0", at_seq=601))["seq"] == 601
    finally:
        ticker.cancel()
    assert 0 < most[0] <= 200, most[0]  # replay.FOLD_PIECE: about 2 ms

"""Live updates that wait while a subscription's first update is prepared (``_Sub.pending``):
bounded like the outbox (a connection that stops reading is cut off 1013, whichever path
buffers them), and neither lost nor read again from the store after a failed write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from auctionactors.errors import OutcomeUnknown
from auctionactors.gateway import everything
from auctionactors.gateway.peer import Peer

from .conftest import FAST, Conn, Served, bid, serving, spot
from .test_history import stored_auction
from .test_subscribe_all import TIGHT, _held, small_reader, until

# Outbox limits that a reader which stops reading reaches in a few updates: 8 frames, or
# (protocol 1's views carry every bid: about 300 KB each here) 1 MiB.
FRAMES = msgspec.structs.replace(FAST, outbox_size=8, outbox_bytes=1 << 30, socket_send_buffer=4096)
BYTES = msgspec.structs.replace(
    FAST, outbox_size=10_000, outbox_bytes=1 << 20, socket_send_buffer=4096
)


def buffered(served: Served, auction_id: str) -> list[int]:
    """How many live frames wait in each buffering subscription to the auction."""
    return [len(s.pending) for _, s in served.gateway.hub.subscribed(auction_id) if s.pending]


@pytest.mark.parametrize(("config", "protocol"), [(FRAMES, 2), (BYTES, 1)], ids=["frames", "bytes"])
async def test_a_catch_up_that_is_not_read_is_cut_off_by_live_updates(
    tmp_path: Path, config: msgspec.Struct, protocol: int
) -> None:
    """The buyer subscribes 5000 events behind and reads only the ok: its catch-up waits for it
    to read (forever), while live updates pile up behind it. They count as its outbox does
    (before: they piled up without limit, the connection open)."""
    assert isinstance(config, type(FAST))
    async with serving(tmp_path / "catch-up.db", config) as served:
        p, hub = served.people, served.gateway.hub
        seq = await stored_auction(served, 5_000)
        s1 = await Conn.open(served.url, p.s1.token)
        reader = await small_reader(served.url, p.buyer.token, protocol)
        assert (await reader.ok("subscribe", auction_id="a-long", since=0))["seq"] == seq
        reader.ws.transport.pause_reading()  # it reads nothing more: the catch-up waits
        (peer,) = [peer for peer, _ in hub.subscribed("a-long")]
        await until(lambda: _held(peer))  # with its first history frame on the way
        for i in range(20):
            await s1.ok("place_bids", auction_id="a-long", bids=[bid(amount=f"{1 + i * 0.25:.2f}")])
            if hub.stats.slow_closes:
                break
        assert hub.stats.slow_closes == 1, buffered(served, "a-long")
        reader.ws.transport.resume_reading()
        assert await reader.closed_with() == 1013
        await until(lambda: not hub.subscribed("a-long"))  # the catch-up gave up
        await s1.close()


async def test_a_walk_that_is_not_read_is_cut_off_by_live_updates(tmp_path: Path) -> None:
    """``subscribe_all`` over auctions read from the store (no actor loaded): the reader reads
    nothing, so the walk waits with a page of subscriptions registered; live updates of one
    of them wait in it, and count as the outbox does (8 frames)."""
    path = tmp_path / "walk.db"
    async with serving(path, TIGHT) as served:
        p = served.people
        admin = await Conn.open(served.url, p.admin.token)
        for _ in range(everything.PAGE):
            await admin.ok("create_auction", buyer=p.buyer.company_id, auction=spot(p, products=20))
        await admin.close()
    async with serving(path, TIGHT) as served:
        p, hub = served.people, served.gateway.hub
        s1 = await Conn.open(served.url, p.s1.token)
        reader = await small_reader(served.url, p.buyer.token)
        await reader.send({"type": "subscribe_all", "id": "all"})
        await until(lambda: any(peer.walking and _held(peer) for peer in hub.everything))
        reader.ws.transport.pause_reading()
        (peer,) = hub.everything
        waiting = [a for a, sub in peer.subs.items() if sub.pending is not None]
        assert waiting
        for i in range(20):
            amount = f"{5 + i * 0.25:.2f}"
            await s1.ok("place_bids", auction_id=waiting[-1], bids=[bid(amount=amount)])
            if hub.stats.slow_closes:
                break
        assert hub.stats.slow_closes == 1, buffered(served, waiting[-1])
        reader.ws.transport.resume_reading()
        assert await reader.closed_with() == 1013
        await s1.close()


async def _walk_waiting_for(served: Served, auction_id: str) -> tuple[Conn, Peer]:
    """A protocol 2 admin's ``subscribe_all`` over a restarted server, held by its reader (it
    reads nothing) with the auction registered, read from the store and not sent yet."""
    hub = served.gateway.hub
    assert served.supervisor.cells() == []
    reader = await small_reader(served.url, served.people.admin.token, 2)
    await reader.send({"type": "subscribe_all", "id": "all"})
    await until(lambda: any(peer.walking and _held(peer) for peer in hub.everything))
    reader.ws.transport.pause_reading()  # until `_updates_until`
    (peer,) = hub.everything
    sub = peer.subs.get(auction_id)
    assert sub is not None and sub.pending is not None and sub.last_seq == 0
    return reader, peer


async def _long_and_others(path: Path) -> int:
    """An auction of 3000 bids, ``a-0`` (the walk's last: the same creation time as the others,
    the lowest id), and ten auctions with big views: the seq of ``a-0``."""
    async with serving(path, TIGHT) as served:
        seq = await stored_auction(served, 3_000, auction_id="a-0")
        admin = await Conn.open(served.url, served.people.admin.token)
        for _ in range(10):
            await admin.ok(
                "create_auction",
                buyer=served.people.buyer.company_id,
                auction=spot(served.people, products=20),
            )
        await admin.close()
    return seq


async def _updates_until(reader: Conn, auction_id: str, seq: int) -> list[int]:
    """The seqs of the auction's updates the reader gets, until ``seq``."""
    reader.ws.transport.resume_reading()
    got: list[int] = []
    while not got or got[-1] < seq:
        update = await reader.next_update()
        if update["auction_id"] == auction_id:
            assert ("view" in update) == (not got), update  # the first carries the view
            got.append(update["seq"])
    return got


async def test_a_failed_write_does_not_read_again_what_a_walk_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write of an auction the walk has registered but not sent fails: the rebuilt actor's
    resync reads none of its events (before: all of them, from seq 1, into a frame thrown
    away), and the reader gets the auction once, then its next update."""
    path = tmp_path / "resync.db"
    seq = await _long_and_others(path)
    async with serving(path, TIGHT) as served:
        store = served.supervisor.store
        reader, peer = await _walk_waiting_for(served, "a-0")
        reads: list[tuple[int, int | None]] = []
        read_stream = store.read_stream

        async def spied(stream_id: str, **kwargs: Any) -> Any:
            if stream_id == "a-0":
                reads.append((kwargs.get("from_seq", 1), kwargs.get("to_seq")))
            return await read_stream(stream_id, **kwargs)

        monkeypatch.setattr(store, "read_stream", spied)
        s1 = await Conn.open(served.url, served.people.s1.token)
        await s1.ok("get_view", auction_id="a-0")  # loads its actor: nothing to deliver
        reads.clear()
        store.fail_next_append = OSError(28, "No space left on device")
        assert (await s1.error("place_bids", auction_id="a-0", bids=[bid(amount="0.75")]))[
            0
        ] == "unavailable"
        await served.supervisor.quiesce()
        assert [r for r in reads if r[1] is not None] == []  # the rebuild's own read only
        last = (await s1.ok("place_bids", auction_id="a-0", bids=[bid(amount="0.50")]))["seq"]
        assert last == seq + 1
        assert await _updates_until(reader, "a-0", last) == [seq, last]
        assert served.gateway.hub.stats.slow_closes == 0 and not peer.closed
        await s1.close()
        reader.ws.transport.abort()  # it has unread frames: a close would wait for them


async def test_a_write_stored_after_the_walk_read_is_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write's outcome is unknown (it was stored; the actor restarts, its delivery
    dropped) after the walk read the auction: the reader still gets it, at the stored seq."""
    path = tmp_path / "unknown.db"
    seq = await _long_and_others(path)
    async with serving(path, TIGHT) as served:
        store = served.supervisor.store
        reader, peer = await _walk_waiting_for(served, "a-0")
        append = store.append

        async def stored_then_unknown(*args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(store, "append", append)  # once
            await append(*args, **kwargs)
            raise OutcomeUnknown("the disk went away after the commit")

        monkeypatch.setattr(store, "append", stored_then_unknown)
        s1 = await Conn.open(served.url, served.people.s1.token)
        code, _ = await s1.error("place_bids", auction_id="a-0", bids=[bid(amount="1.00")])
        assert code == "timeout"
        await served.supervisor.quiesce()
        assert await _updates_until(reader, "a-0", seq + 1) == [seq + 1]
        assert served.gateway.hub.stats.slow_closes == 0 and not peer.closed
        await s1.close()
        reader.ws.transport.abort()  # it has unread frames: a close would wait for them

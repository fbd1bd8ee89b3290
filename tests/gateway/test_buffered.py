"""Live updates that wait while a subscription's first update is prepared (``_Sub.pending``):
bounded like the outbox (a connection that stops reading is cut off 1013, whichever path
buffers them), and neither lost nor read again from the store after a failed write."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from auctionactors.gateway import everything

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

"""The hub's finished-auction cache and `Hub.follows`, with actors that apply a batch before it
is stored: the cache never serves a change that is not stored, nor misses one that is; a
`subscribe_all` that starts while a creation is written still gets the auction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from auctionactors.domain.access import Viewer, can_see
from auctionactors.domain.commands import CancelAuction, InviteObserver
from auctionactors.domain.parties import Party
from auctionactors.errors import Unavailable
from auctionactors.gateway.hub import Hub
from auctionactors.gateway.peer import Peer
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import AppendResult, NewEvent, Principal
from auctionactors.store.memory import MemoryEventStore
from tests.runtime.conftest import ADMIN, BUYER, FAST, T0, settled, terms

from .conftest import Conn, Served, open_auction

OBS = Viewer("c-obs", "observer")


async def test_uninvited_observer_no_longer_sees_a_final_auction(served: Served) -> None:
    p = served.people
    admin = await Conn.open(served.url, p.admin.token)
    observer = await Conn.open(served.url, p.observer.token)
    aid = await open_auction(admin, p)
    await admin.ok("invite_observer", auction_id=aid, company_id=p.observer.company_id)
    await admin.ok("cancel_auction", auction_id=aid)
    await admin.ok("get_view", auction_id=aid)  # cached by the hub (final)
    await served.supervisor.quiesce()  # final and idle: passivated
    assert served.supervisor.cell(aid) is None
    await admin.ok("uninvite_observer", auction_id=aid, company_id=p.observer.company_id)
    await served.supervisor.quiesce()
    code, _ = await observer.error("get_view", auction_id=aid)
    assert code == "not_found"


async def test_a_failed_invite_is_not_seen_through_the_final_cache() -> None:
    store, clock = MemoryEventStore(), ManualClock(T0)
    sup = Supervisor(store, clock, config=FAST)
    hub = Hub(sup)
    sup.subscribers.append(hub)
    await sup.start()
    aid = str((await sup.create_auction(BUYER, terms(60, now=clock.now()))).fields["auction_id"])
    await sup.ask(aid, CancelAuction(by=ADMIN))
    await sup.quiesce()
    assert sup.cell(aid) is None  # final and idle: passivated
    store.fail_next_append = OSError(28, "No space left on device")
    # A read (cached by the hub: the actor's own state object) and an invite queued behind it.
    read = asyncio.ensure_future(hub.read_solved(aid, lambda s: s))
    invite = asyncio.ensure_future(
        sup.ask(aid, InviteObserver(by=ADMIN, observer=Party("c-obs", "Port Watch")))
    )
    await read
    try:
        await invite
    except Unavailable:
        pass
    else:
        raise AssertionError("the write was meant to fail")
    await sup.quiesce()
    stored = await sup.query(aid, lambda s: s)  # straight from the actor (rebuilt)
    assert stored is not None and "c-obs" not in stored.observers
    seen = await hub.read(aid, lambda s: s is not None and can_see(s, OBS))
    assert not seen, "the observer sees an auction its invitation to was never stored"
    await sup.stop()


class Gated(MemoryEventStore):
    """The real in-memory store; an append waits for ``gate`` (a slow fsync)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def append(
        self, stream_id: str, expected_seq: int, events: Sequence[NewEvent], **kw: Any
    ) -> AppendResult:
        self.entered.set()
        await self.gate.wait()
        return await super().append(stream_id, expected_seq, events, **kw)


async def test_subscribe_all_during_a_creation_write_gets_the_auction() -> None:
    store, clock = Gated(), ManualClock(T0)
    sup = Supervisor(store, clock, config=FAST)
    hub = Hub(sup)
    sup.subscribers.append(hub)
    await sup.start()
    create = asyncio.ensure_future(sup.create_auction(BUYER, terms(None, now=clock.now())))
    await store.entered.wait()  # decided and applied; its write in flight
    admin = Principal("u-adm", "Ada", "c-adm", "Platform", "admin")
    peer = Peer(admin, capacity=100)
    listed: list[list[str]] = []
    await hub.subscribe_all(peer, lambda ids: listed.append(ids) or b"ok")
    assert listed == [[]]  # the catalog read came before the write
    store.gate.set()
    aid = (await create).fields["auction_id"]
    await sup.quiesce()
    await settled(lambda: aid in peer.subs)  # sent to this connection too
    await sup.stop()

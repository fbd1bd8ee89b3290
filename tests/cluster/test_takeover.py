"""The runtime in cluster mode: a supervisor acts only on auctions its node owns, refuses the
others with the owner's id, and a takeover acts on the deadlines that passed meanwhile.

Two supervisors share one store (the in-memory one: the store's own cluster tests run on
PostgreSQL) and each has a real `Ownership` on a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from auctionactors.cluster import membership
from auctionactors.cluster.ownership import Ownership
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import NotOwner
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.runtime.takeover import Takeover
from auctionactors.store.memory import MemoryEventStore
from tests.cluster.holder import CONFIG
from tests.runtime.conftest import BUYER, FAST, T0, terms
from tests.runtime.test_lazy import bid

WAIT_S = 20.0


class Node:
    def __init__(self, pg_url: str, node_id: str, store: MemoryEventStore, clock: ManualClock):
        self.supervisor = Supervisor(store, clock, config=FAST)
        self.ownership = Ownership(pg_url, node_id, f"ws://127.0.0.1/{node_id}", config=CONFIG)
        self.takeover = Takeover(self.supervisor, self.ownership)

    async def start(self, share: int) -> None:
        await self.supervisor.start()
        await self.ownership.start()
        await self.until(lambda: len(self.ownership.held) == share)

    async def until(self, predicate: object) -> None:
        async with asyncio.timeout(WAIT_S):
            await self.ownership.until(predicate)  # type: ignore[arg-type]

    async def stop(self) -> None:
        await self.ownership.stop()
        await self.supervisor.stop()


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[Node, Node, MemoryEventStore, ManualClock]]:
    store, clock = MemoryEventStore(), ManualClock(T0)
    a, b = Node(pg_url, "a", store, clock), Node(pg_url, "b", store, clock)
    yield a, b, store, clock
    for node in (a, b):
        await node.stop()


async def test_only_the_owner_acts_and_the_other_names_it(
    pair: tuple[Node, Node, MemoryEventStore, ManualClock],
) -> None:
    a, b, _store, clock = pair
    await a.start(12)
    await b.start(6)
    await a.until(lambda: len(a.ownership.held) == 6)
    created = await a.supervisor.create_auction(BUYER, terms(60, now=clock.now()))
    auction_id = str(created.fields["auction_id"])
    assert a.ownership.owns(auction_id)  # created in a partition of its own
    await b.until(lambda: b.ownership.owner_of(auction_id) == "a")
    with pytest.raises(NotOwner) as refused:
        await b.supervisor.ask(auction_id, bid(300))
    assert refused.value.owner == "a"
    assert b.supervisor.cells() == []


async def test_a_takeover_acts_on_deadlines_passed_during_the_failover(
    pair: tuple[Node, Node, MemoryEventStore, ManualClock], pg_url: str
) -> None:
    a, b, store, clock = pair
    await a.start(12)
    created = await a.supervisor.create_auction(BUYER, terms(60, now=clock.now()))
    auction_id = str(created.fields["auction_id"])
    await a.supervisor.quiesce()
    await b.start(6)
    await a.until(lambda: len(a.ownership.held) == 6)
    # Make sure the auction is a's, then cut a off from PostgreSQL.
    if not a.ownership.owns(auction_id):
        a, b = b, a
    cut = await asyncpg.connect(pg_url)
    try:
        await cut.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            membership.application_name(a.ownership.node_id),
        )
    finally:
        await cut.close()
    await a.until(lambda: not a.ownership.owns(auction_id))
    assert a.supervisor.cell(auction_id) is None  # its actor stopped at once
    await a.ownership.stop()  # and it stays away (its rejoining is test_ownership's)
    clock.advance(60)  # the scheduled start falls during the failover
    await b.until(lambda: b.ownership.owns(auction_id))
    await b.supervisor.quiesce()
    state = await b.supervisor.query(auction_id, lambda s: s)
    assert state is not None and state.status == "open"
    assert state.started_at == T0 + 60 * SECOND  # acted on at its deadline, no extra time
    assert (await b.supervisor.ask(auction_id, bid(300))).seq == 3
    assert [e.seq for e in await store.read_stream(auction_id)] == [1, 2, 3]

"""Ownership against a real PostgreSQL: advisory locks, epochs, fair share, losing the lock
connection, fencing. Several nodes in one process, each with its own real connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
import pytest

from auctionactors.cluster import membership
from auctionactors.cluster.fence import PartitionFence
from auctionactors.cluster.ownership import Ownership, OwnershipConfig
from auctionactors.errors import Fenced
from tests.cluster.holder import eventually, stream_in

FAST = OwnershipConfig(lease_s=1.0, tick_s=0.1, partitions=12, retry_s=0.1)
WAIT_S = 20


class Listener:
    """An `OwnershipListener` that remembers what it was told."""

    def __init__(self) -> None:
        self.acquisitions: list[dict[int, int]] = []
        self.releases: list[frozenset[int]] = []
        self.losses: list[frozenset[int]] = []
        self.lost_event = asyncio.Event()

    async def acquired(self, epochs: dict[int, int]) -> None:
        self.acquisitions.append(epochs)

    async def releasing(self, partitions: frozenset[int]) -> None:
        self.releases.append(partitions)

    def lost(self, partitions: frozenset[int]) -> None:
        self.losses.append(partitions)
        self.lost_event.set()


@asynccontextmanager
async def ownership_nodes(
    pg_url: str, dress: Callable[[Ownership], None] | None = None
) -> AsyncIterator[Callable[[str], Ownership]]:
    """Makes nodes by id (each with a `Listener`, then ``dress``ed), all stopped on exit."""
    made: list[Ownership] = []

    def make(node_id: str) -> Ownership:
        node = Ownership(pg_url, node_id, f"ws://127.0.0.1/{node_id}", config=FAST)
        node.listener = Listener()
        if dress is not None:
            dress(node)
        made.append(node)
        return node

    try:
        yield make
    finally:
        for node in made:
            await node.stop()


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[Callable[[str], Ownership]]:
    async with ownership_nodes(pg_url) as make:
        yield make


async def until(node: Ownership, predicate: Callable[[], bool]) -> None:
    """Wait for ``predicate`` about ``node`` alone (it is checked on that node's changes)."""
    async with asyncio.timeout(WAIT_S):
        await node.until(predicate)


async def test_nodes_share_partitions_fairly_and_take_over_a_leaver(
    nodes: Callable[[str], Ownership],
) -> None:
    a, b, c = nodes("a"), nodes("b"), nodes("c")
    await a.start()
    await until(a, lambda: len(a.held) == 12)
    await b.start()
    await until(b, lambda: len(b.held) == 6)
    await until(a, lambda: len(a.held) == 6)
    await c.start()
    await until(c, lambda: len(c.held) == 4)
    await until(a, lambda: len(a.held) == 4)
    await until(b, lambda: len(b.held) == 4)
    assert set(a.held) | set(b.held) | set(c.held) == set(range(12))
    assert isinstance(a.listener, Listener) and a.listener.releases  # handed back gracefully
    await c.stop()
    await until(a, lambda: len(a.held) == 6)
    await until(b, lambda: len(b.held) == 6)
    assert set(a.held) | set(b.held) == set(range(12))


async def test_every_takeover_bumps_the_epoch(nodes: Callable[[str], Ownership]) -> None:
    a = nodes("a")
    await a.start()
    await until(a, lambda: len(a.held) == 12)
    first = dict(a.held)
    await a.stop()
    b = nodes("b")
    await b.start()
    await until(b, lambda: len(b.held) == 12)
    assert all(b.held[p] == first[p] + 1 for p in range(12))


async def test_a_node_cut_off_stops_at_once_and_rejoins(
    nodes: Callable[[str], Ownership], pg_url: str
) -> None:
    a = nodes("a")
    await a.start()
    await until(a, lambda: len(a.held) == 12)
    epochs = dict(a.held)
    fence = PartitionFence(a)
    admin = await asyncpg.connect(pg_url)
    try:
        assert isinstance(a.listener, Listener)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            membership.application_name("a"),
        )
        async with asyncio.timeout(WAIT_S):
            await a.listener.lost_event.wait()
        # From the moment the loss is seen, nothing passes the fence: not acknowledged.
        assert a.held == {}
        async with admin.transaction():
            with pytest.raises(Fenced):
                await fence.check(admin, [stream_in(0, 12)])
        await until(a, lambda: len(a.held) == 12 and a.joins == 2)
        assert all(a.held[p] == epochs[p] + 1 for p in range(12))
        async with admin.transaction():
            await fence.check(admin, [stream_in(p, 12) for p in range(12)])
    finally:
        await admin.close()


async def test_an_append_seeing_another_epoch_is_fenced_and_the_node_steps_down(
    nodes: Callable[[str], Ownership], pg_url: str
) -> None:
    a = nodes("a")
    await a.start()
    await until(a, lambda: len(a.held) == 12)
    joined = a.joins
    fence = PartitionFence(a)
    conn = await asyncpg.connect(pg_url)
    try:
        # Another node's takeover, as the database sees it: the epoch moved on.
        await conn.execute("UPDATE cluster_partitions SET epoch = epoch + 1 WHERE partition = 3")
        async with conn.transaction():
            await fence.check(conn, [stream_in(2, 12)])  # an untouched partition passes
        with pytest.raises(Fenced, match="taken over"):
            async with conn.transaction():
                await fence.check(conn, [stream_in(2, 12), stream_in(3, 12)])
        assert a.held == {}  # stepped down at once
        assert isinstance(a.listener, Listener) and a.listener.losses
        await until(a, lambda: a.joins > joined and len(a.held) == 12)
    finally:
        await conn.close()


async def test_a_takeover_waits_for_an_append_that_passed_the_fence(
    nodes: Callable[[str], Ownership], pg_url: str
) -> None:
    """The epoch bump of a takeover and an append that passed the fence are ordered: the bump
    waits for the append's commit, so the new owner's replay sees it."""
    a = nodes("a")
    await a.start()
    await until(a, lambda: len(a.held) == 12)
    fence = PartitionFence(a)
    append = await asyncpg.connect(pg_url)
    bump = await asyncpg.connect(pg_url)
    watcher = await asyncpg.connect(pg_url)
    try:
        tx = append.transaction()
        await tx.start()
        await fence.check(append, [stream_in(5, 12)])
        bumping = asyncio.ensure_future(
            bump.fetchval(
                "UPDATE cluster_partitions SET epoch = epoch + 1 WHERE partition = 5"
                " RETURNING epoch"
            )
        )

        # The bump waits on the append's FOR SHARE row lock (seen from a third session).
        async def waiting() -> bool:
            event = await watcher.fetchval(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                bump.get_server_pid(),
            )
            return bool(event == "Lock")

        async with asyncio.timeout(WAIT_S):
            await eventually(waiting)
        assert not bumping.done()
        await tx.commit()
        assert await bumping == a.held[5] + 1
    finally:
        for conn in (append, bump, watcher):
            await conn.close()

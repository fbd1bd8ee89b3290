"""Real ``serve`` processes on one PostgreSQL database: a cluster. Clients on any node; the
owner killed (SIGKILL) or paused past its lease (SIGSTOP, then SIGCONT): its auctions are owned
again, commands sent again with their keys are answered once, watchers on other nodes keep
following, and the log verifies clean."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack

import asyncpg
import pytest

from auctionactors.client import Client
from auctionactors.cluster import membership
from auctionactors.cluster.partitions import partition_of
from auctionactors.store.base import Damage
from auctionactors.store.postgres import PostgresEventStore
from tests.cluster.holder import eventually
from tests.faults.serving import Serving, Users, bid, create, instant_in, serving

WAIT_S = 30.0
NODES = ("n1", "n2", "n3")


async def pg_users(url: str) -> Users:
    async with await PostgresEventStore.open(url) as store:
        return Users(
            admin=await store.add_user("Platform", "admin", "Ada"),
            buyer=await store.add_user("Aegean Shipping", "buyer", "Bea"),
            s1=await store.add_user("Baltic Bunkers", "supplier", "Sam"),
            s2=await store.add_user("North Sea Fuels", "supplier", "Sue"),
        )


async def damage(url: str) -> list[Damage]:
    """What the store's check finds (gaps, forks, broken hash chains): what ``verify`` checks."""
    async with await PostgresEventStore.open(url, read_only=True) as store:
        return await store.check()


@pytest.fixture
def cluster(pg_url: str) -> Iterator[dict[str, Serving]]:
    with ExitStack() as stack:
        yield {
            n: stack.enter_context(serving(pg_url, "--node-id", n, "--lease", "2")) for n in NODES
        }


async def settled(pg_url: str, nodes: int) -> dict[str, list[int]]:
    """Wait until ``nodes`` nodes share every partition; their partitions by node."""
    conn = await asyncpg.connect(pg_url)
    shares: dict[str, list[int]] = {}
    try:

        async def shared() -> bool:
            rows = await membership.nodes(conn)
            shares.clear()
            shares.update({r.node_id: list(r.partitions) for r in rows})
            counts = [len(p) for p in shares.values()]
            return len(rows) == nodes and sum(counts) == 64 and max(counts) - min(counts) <= 1

        async with asyncio.timeout(WAIT_S):
            await eventually(shared, 0.1)
    finally:
        await conn.close()
    return shares


def owner_of(shares: dict[str, list[int]], auction_id: str) -> str:
    partition = partition_of(auction_id, 64)
    return next(n for n, parts in shares.items() if partition in parts)


async def test_a_killed_owner_is_taken_over_and_clients_carry_on(
    pg_url: str, cluster: dict[str, Serving]
) -> None:
    users = await pg_users(pg_url)
    shares = await settled(pg_url, 3)
    auction_id = await create(cluster["n1"].url, users, instant_in(0, _now_us()))
    owner = owner_of(shares, auction_id)
    others = [n for n in NODES if n != owner]
    async with (
        Client(cluster[others[0]].url, users.s1.token, reconnect=False) as s1,
        Client(cluster[others[1]].url, users.buyer.token, reconnect=False) as buyer,
    ):
        first = await s1.request("place_bids", **bid(auction_id, "2.00"), key="b-1")
        assert first["seq"] == 3  # forwarded to the owner and answered through others[0]
        assert await buyer.subscribe(auction_id) == 3
        cluster[owner].proc.send_signal(signal.SIGKILL)
        cluster[owner].proc.wait(timeout=10)
        second = await s1.request("place_bids", **bid(auction_id, "1.75"), key="b-2")
        assert second["seq"] == 4  # owned again by a survivor
        again = await s1.request("place_bids", **bid(auction_id, "1.75"), key="b-2")
        assert (again["seq"], again["bid_ids"]) == (second["seq"], second["bid_ids"])
        async with asyncio.timeout(WAIT_S):
            while (await buyer.next_update(WAIT_S))["seq"] < 4:
                pass
    await settled(pg_url, 2)
    assert await damage(pg_url) == []


async def test_a_paused_owner_is_fenced_out_and_rejoins(
    pg_url: str, cluster: dict[str, Serving]
) -> None:
    users = await pg_users(pg_url)
    shares = await settled(pg_url, 3)
    auction_id = await create(cluster["n2"].url, users, instant_in(0, _now_us()))
    owner = owner_of(shares, auction_id)
    other = next(n for n in NODES if n != owner)
    os.kill(cluster[owner].proc.pid, signal.SIGSTOP)
    try:
        after = await settled(pg_url, 2)  # evicted after its lease; partitions taken
        assert owner not in after
        async with Client(cluster[other].url, users.s1.token, reconnect=False) as s1:
            placed = await s1.request("place_bids", **bid(auction_id, "2.00"), key="p-1")
            assert placed["seq"] == 3
    finally:
        os.kill(cluster[owner].proc.pid, signal.SIGCONT)
    back = await settled(pg_url, 3)  # it stepped down and joined again on its own
    assert owner in back
    await asyncio.to_thread(cluster[owner].wait_for_log, "lost", "partitions")
    async with Client(cluster[owner].url, users.s1.token, reconnect=False) as s1:
        placed = await s1.request("place_bids", **bid(auction_id, "1.75"), key="p-2")
        assert placed["seq"] == 4
    assert await damage(pg_url) == []


def _now_us() -> int:
    return time.time_ns() // 1000


async def test_a_node_cut_off_from_postgres_stops_and_rejoins(
    pg_url: str, cluster: dict[str, Serving]
) -> None:
    users = await pg_users(pg_url)
    await settled(pg_url, 3)
    auction_id = await create(cluster["n1"].url, users, instant_in(0, _now_us()))
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            membership.application_name("n1"),
        )
    finally:
        await admin.close()
    await asyncio.to_thread(cluster["n1"].wait_for_log, "lost", "partitions")  # at once
    back = await settled(pg_url, 3)  # it joined again on its own
    assert back["n1"]
    async with Client(cluster["n1"].url, users.s1.token, reconnect=False) as s1:
        placed = await s1.request("place_bids", **bid(auction_id, "2.00"), key="c-1")
        assert placed["seq"] == 3
    assert await damage(pg_url) == []

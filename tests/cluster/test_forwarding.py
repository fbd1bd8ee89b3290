"""Forwarding: a command sent to a node that does not own its auction is answered by the owner
through a node link, and sent again (same key) when the owner changes.

Two real gateways on loopback ports over one store (SQLite: the PostgreSQL store's cluster
tests are elsewhere), each node with a real `Ownership` on a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from auctionactors.cluster import membership
from auctionactors.cluster.ownership import Ownership
from auctionactors.gateway.links import Links
from auctionactors.gateway.server import Gateway
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.runtime.takeover import Takeover
from auctionactors.store.sqlite import SqliteEventStore
from tests.cluster.holder import CONFIG
from tests.gateway.conftest import FAST, SUPERVISOR, T0, Conn, Directory, People, add_people, bid
from tests.gateway.conftest import open_auction as open_auction_on

WAIT_S = 20.0


@dataclass
class Node:
    supervisor: Supervisor
    ownership: Ownership
    links: Links
    gateway: Gateway

    @property
    def url(self) -> str:
        return self.gateway.url

    async def until(self, predicate: object) -> None:
        async with asyncio.timeout(WAIT_S):
            await self.ownership.until(predicate)  # type: ignore[arg-type]


@dataclass
class Cluster:
    a: Node
    b: Node
    people: People


async def start_node(
    pg_url: str, node_id: str, store: SqliteEventStore, directory: Directory, clock: ManualClock
) -> Node:
    supervisor = Supervisor(store, clock, config=SUPERVISOR)
    ownership = Ownership(pg_url, node_id, "", config=CONFIG)
    Takeover(supervisor, ownership)
    links = Links(supervisor, ownership)
    gateway = Gateway(supervisor, directory, FAST, links)
    await supervisor.start()
    await gateway.start()
    ownership.advertise = f"ws://127.0.0.1:{gateway.port}"
    await ownership.start()
    return Node(supervisor, ownership, links, gateway)


@pytest.fixture
async def cluster(pg_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    clock = ManualClock(T0)
    async with await SqliteEventStore.open(tmp_path / "shared.db") as store:
        directory = Directory(store)
        people = await add_people(directory)
        a = await start_node(pg_url, "a", store, directory, clock)
        await a.until(lambda: len(a.ownership.held) == 12)
        b = await start_node(pg_url, "b", store, directory, clock)
        await b.until(lambda: len(b.ownership.held) == 6)
        await a.until(lambda: len(a.ownership.held) == 6 and len(a.ownership.peers) == 2)
        try:
            yield Cluster(a, b, people)
        finally:
            for node in (a, b):
                await node.gateway.stop()
                await node.links.close()
                await node.ownership.stop()
                await node.supervisor.stop()


async def test_a_bid_on_a_non_owner_is_answered_by_the_owner(cluster: Cluster) -> None:
    a, b, people = cluster.a, cluster.b, cluster.people
    admin_b = await Conn.open(b.url, people.admin.token)
    s1_a = await Conn.open(a.url, people.s1.token)
    try:
        auction_id = await open_auction_on(admin_b, people)
        assert b.ownership.owns(auction_id)  # created in a partition of the node asked
        await a.until(lambda: a.ownership.owner_of(auction_id) == "b")
        placed = await s1_a.ok("place_bids", auction_id=auction_id, bids=[bid()])
        assert placed["seq"] == 3 and placed["bid_ids"]
        assert a.links.forwarded == 1
        admin_a = await Conn.open(a.url, people.admin.token)
        status = await admin_a.ok("operator_status")
        await admin_a.close()
        assert status["cluster"]["node_id"] == "a" and status["cluster"]["forwarded"] == 1
        assert status["cluster"]["nodes"] == ["a", "b"]
        assert sorted(status["cluster"]["partitions"]) == sorted(a.ownership.held)
        assert a.supervisor.cells() == []  # nothing of it loaded on the client's node
    finally:
        for conn in (admin_b, s1_a):
            await conn.close()


async def test_refusals_are_the_owners_and_keys_hold_across_nodes(cluster: Cluster) -> None:
    a, b, people = cluster.a, cluster.b, cluster.people
    admin_b = await Conn.open(b.url, people.admin.token)
    s1_a = await Conn.open(a.url, people.s1.token)
    s1_b = await Conn.open(b.url, people.s1.token)
    s3_a = await Conn.open(a.url, people.s3.token)
    s3_b = await Conn.open(b.url, people.s3.token)
    try:
        auction_id = await open_auction_on(admin_b, people)
        await a.until(lambda: a.ownership.owner_of(auction_id) == "b")
        far = await s3_a.error("place_bids", auction_id=auction_id, bids=[bid()])
        near = await s3_b.error("place_bids", auction_id=auction_id, bids=[bid()])
        assert far == near
        first = await s1_a.ok("place_bids", auction_id=auction_id, bids=[bid()], key="k-1")
        again = await s1_b.ok("place_bids", auction_id=auction_id, bids=[bid()], key="k-1")
        assert (again["seq"], again["bid_ids"]) == (first["seq"], first["bid_ids"])
    finally:
        for conn in (admin_b, s1_a, s1_b, s3_a, s3_b):
            await conn.close()


async def test_a_command_follows_its_auction_to_the_new_owner(
    cluster: Cluster, pg_url: str
) -> None:
    a, b, people = cluster.a, cluster.b, cluster.people
    admin_b = await Conn.open(b.url, people.admin.token)
    s1_a = await Conn.open(a.url, people.s1.token)
    try:
        auction_id = await open_auction_on(admin_b, people)
        await a.until(lambda: a.ownership.owner_of(auction_id) == "b")
        await b.ownership.stop()  # b leaves; its gateway stays up but owns nothing
        await a.until(lambda: a.ownership.owns(auction_id))
        placed = await s1_a.ok("place_bids", auction_id=auction_id, bids=[bid()], key="k-2")
        assert placed["seq"] == 3
        assert a.links.forwarded == 0  # answered here: a owns it now
    finally:
        for conn in (admin_b, s1_a):
            await conn.close()


async def test_a_node_link_needs_the_node_credential(cluster: Cluster) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"ws://127.0.0.1:{cluster.a.gateway.port}/cluster",
            additional_headers={"Authorization": "Bearer guessed"},
        )
    assert refused.value.response.status_code == 401


async def test_cut_off_owner_commands_go_to_the_taker(cluster: Cluster, pg_url: str) -> None:
    a, b, people = cluster.a, cluster.b, cluster.people
    admin_a = await Conn.open(a.url, people.admin.token)
    s1_b = await Conn.open(b.url, people.s1.token)
    try:
        auction_id = await open_auction_on(admin_a, people)
        await b.until(lambda: b.ownership.owner_of(auction_id) == "a")
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1",
                membership.application_name("a"),
            )
        finally:
            await admin.close()
        # Sent while a is cut off: refused there (moved), then a or b owns it again.
        placed = await s1_b.ok("place_bids", auction_id=auction_id, bids=[bid()], key="k-3")
        assert placed["seq"] == 3
    finally:
        for conn in (admin_a, s1_b):
            await conn.close()


async def test_a_watcher_on_a_non_owner_follows_and_resumes_with_since(
    cluster: Cluster,
) -> None:
    """The auction is b's; a renders its views from a follower that catches up whenever it
    is told of an append (`Supervisor.notice`: what a NOTIFY from the PostgreSQL store's
    appends triggers; this store is SQLite, so the test tells it)."""
    a, b, people = cluster.a, cluster.b, cluster.people
    admin_b = await Conn.open(b.url, people.admin.token)
    s1_b = await Conn.open(b.url, people.s1.token)
    buyer_a = await Conn.open(a.url, people.buyer.token)
    try:
        auction_id = await open_auction_on(admin_b, people)
        await a.until(lambda: a.ownership.owner_of(auction_id) == "b")
        assert (await buyer_a.ok("subscribe", auction_id=auction_id))["seq"] == 2
        assert (await buyer_a.next_update())["seq"] == 2
        for amount in ("2.00", "1.75"):
            await s1_b.ok("place_bids", auction_id=auction_id, bids=[bid(amount=amount)])
            a.supervisor.notice(auction_id)
        assert [(await buyer_a.next_update())["seq"] for _ in range(2)] == [3, 4]
        view_a = await buyer_a.ok("get_view", auction_id=auction_id)
        buyer_b = await Conn.open(b.url, people.buyer.token)
        view_b = await buyer_b.ok("get_view", auction_id=auction_id)
        await buyer_b.close()
        for view in (view_a, view_b):
            view.pop("server_time", None)
            view.pop("id", None)
        assert view_a == view_b  # rendered on a from its follower, as b renders it

        await buyer_a.close()
        await s1_b.ok("place_bids", auction_id=auction_id, bids=[bid(amount="1.50")])
        a.supervisor.notice(auction_id)
        back = await Conn.open(a.url, people.buyer.token)
        resumed = await back.ok("subscribe", auction_id=auction_id, since=4)
        first = await back.next_update()
        assert resumed["seq"] == first["seq"] == 5
        assert [e["seq"] for e in first["events"]] == [5]
        await back.close()
    finally:
        for conn in (admin_b, s1_b, buyer_a):
            await conn.close()

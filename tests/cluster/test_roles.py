"""Roles (cluster/roles.py: a reactor runs on one node at a time) against a real PostgreSQL:
one node leads, a node cut off loses its roles at once and another takes them with a new
epoch, and a role's writes (a reactor's records and checkpoint) are fenced by that epoch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from auctionactors.cluster import membership
from auctionactors.cluster.fence import PartitionFence
from auctionactors.cluster.ownership import Ownership
from auctionactors.errors import Fenced
from auctionactors.store.postgres import PostgresEventStore
from tests.cluster.test_ownership import ownership_nodes, until

ROLE = "webhook http://hook.example/"


class Roles:
    """A `RoleListener` that remembers what it was told."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, int]] = []
        self.lost_names: list[frozenset[str]] = []
        self.lost_event = asyncio.Event()

    async def led(self, name: str, epoch: int) -> None:
        self.taken.append((name, epoch))

    async def releasing(self, names: frozenset[str]) -> None:
        return None

    def lost(self, names: frozenset[str]) -> None:
        self.lost_names.append(names)
        self.lost_event.set()


def _with_role(node: Ownership) -> None:
    node.roles = [ROLE]
    node.role_listener = Roles()


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[Callable[[str], Ownership]]:
    async with ownership_nodes(pg_url, _with_role) as make:
        yield make


async def test_one_node_leads_and_another_takes_over_when_it_is_cut_off(
    nodes: Callable[[str], Ownership], pg_url: str
) -> None:
    a, b = nodes("a"), nodes("b")
    await a.start()
    await until(a, lambda: a.leads(ROLE))
    await b.start()
    await until(b, lambda: len(b.peers) == 2 and len(b.held) == 6)
    await until(a, lambda: len(a.held) == 6)
    assert not b.leads(ROLE)  # tried every round, refused: a holds the lock
    epoch = a.leading[ROLE]
    assert isinstance(a.role_listener, Roles) and isinstance(b.role_listener, Roles)
    assert a.role_listener.taken == [(ROLE, epoch)] and b.role_listener.taken == []
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            membership.application_name("a"),
        )
        async with asyncio.timeout(20):
            await a.role_listener.lost_event.wait()
        assert a.role_listener.lost_names == [frozenset({ROLE})] and not a.leads(ROLE)
        await until(b, lambda: b.leads(ROLE))
        assert b.leading[ROLE] == epoch + 1
        await until(a, lambda: a.joins == 2 and len(a.held) == 6)
        assert not a.leads(ROLE)  # back in the cluster, but b leads now
        row = await admin.fetchrow("SELECT owner, epoch FROM cluster_roles WHERE name = $1", ROLE)
        assert (row["owner"], row["epoch"]) == ("b", epoch + 1)
    finally:
        await admin.close()


async def test_a_role_s_writes_are_fenced_by_its_epoch(
    nodes: Callable[[str], Ownership], pg_url: str
) -> None:
    a = nodes("a")
    await a.start()
    await until(a, lambda: a.leads(ROLE) and len(a.held) == 12)
    async with await PostgresEventStore.open(pg_url, role_fence=PartitionFence(a)) as store:
        start = await store.start_reactor(ROLE)
        await store.check_reactor(ROLE)
        await store.record_deliveries(ROLE, accepted=[("e-1", start + 1)])
        with pytest.raises(Fenced):  # a role this node does not hold: nothing written
            await store.record_deliveries("mail", accepted=[("m-1", start + 1)])
        assert await store.accepted_effects("mail", ["m-1"]) == set()
        # Another node took the role over while this one still believes it leads (paused,
        # evicted, not yet aware): its next write sees the new epoch, fails, and it steps down.
        admin = await asyncpg.connect(pg_url)
        try:
            await admin.execute(
                "UPDATE cluster_roles SET epoch = epoch + 1, owner = 'b' WHERE name = $1", ROLE
            )
        finally:
            await admin.close()
        assert a.leads(ROLE)
        with pytest.raises(Fenced):
            await store.record_deliveries(ROLE, accepted=[("e-2", start + 2)])
        assert await store.accepted_effects(ROLE, ["e-1", "e-2"]) == {"e-1"}
        assert not a.leads(ROLE)
        with pytest.raises(Fenced):
            await store.advance_reactor(ROLE, start + 2)
        with pytest.raises(Fenced):
            await store.check_reactor(ROLE)
        assert (await store.reactor_positions())[ROLE] == start

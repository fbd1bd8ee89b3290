"""What the PostgreSQL store adds to the contract (tests/store/test_contract.py runs on it too):
group commit, the fence inside every append's transaction, numbered migrations, several stores
(nodes) on one database, a lost connection, the exclusive lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from auctionactors.errors import (
    ConcurrencyError,
    Fenced,
    StorageUnavailable,
    StoreError,
    StoreLocked,
)
from auctionactors.store.base import AppendResult, NewEvent, ParkedDelivery
from auctionactors.store.postgres import PostgresEventStore, is_postgres_url
from auctionactors.store.postgres_migrations import LATEST_VERSION, MIGRATIONS, migrate


def evs(*payloads: str) -> list[NewEvent]:
    return [NewEvent("happened", p.encode()) for p in payloads]


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresEventStore]:
    async with await PostgresEventStore.open(pg_url) as opened:
        yield opened


async def test_group_commit_batches_concurrent_appends(store: PostgresEventStore) -> None:
    store.write_gate = asyncio.Event()  # the first batch waits: all 200 queue behind it
    appends = [asyncio.ensure_future(store.append(f"s{i}", 0, evs("x"))) for i in range(200)]
    await asyncio.sleep(0)  # let every append queue (each queues at once, before awaiting)
    store.write_gate.set()
    results = await asyncio.gather(*appends)
    assert len({r.last_position for r in results}) == 200
    assert [r.last_position for r in results] == sorted(r.last_position for r in results)
    assert store.stats.appends == 200
    assert store.stats.commits == 1
    assert store.stats.max_batch == 200
    assert await store.check() == []


async def test_without_group_commit_each_append_commits(pg_url: str) -> None:
    async with await PostgresEventStore.open(pg_url, group_commit=False) as store:
        await asyncio.gather(*(store.append(f"s{i}", 0, evs("x")) for i in range(50)))
        assert store.stats.commits == 50
        assert store.stats.max_batch == 1


class Fence:
    """A fence that refuses the streams named in ``refused``, and records what it was asked and
    whether it was asked inside a transaction, on the connection that writes."""

    def __init__(self, refused: set[str]) -> None:
        self.refused = refused
        self.calls: list[tuple[list[str], bool]] = []

    async def check(self, conn: asyncpg.Connection, stream_ids: Sequence[str]) -> None:
        self.calls.append((list(stream_ids), conn.is_in_transaction()))
        fenced = sorted(self.refused.intersection(stream_ids))
        if fenced:
            raise Fenced(f"{', '.join(fenced)}: owned by a newer epoch")


async def test_the_fence_is_checked_inside_each_append_s_transaction(pg_url: str) -> None:
    fence = Fence({"b"})
    async with await PostgresEventStore.open(pg_url, fence=fence) as store:
        store.write_gate = asyncio.Event()
        appends = [asyncio.ensure_future(store.append(s, 0, evs(s))) for s in ("a", "b", "c")]
        await asyncio.sleep(0)
        store.write_gate.set()
        outcomes = await asyncio.gather(*appends, return_exceptions=True)
        assert isinstance(outcomes[0], AppendResult)
        assert isinstance(outcomes[1], Fenced)
        assert isinstance(outcomes[2], AppendResult)
        # the batch first, then each append alone, so that only the fenced one fails
        assert fence.calls == [(["a", "b", "c"], True), (["a"], True), (["b"], True), (["c"], True)]
        assert [s.stream_id for s in await store.streams()] == ["a", "c"]
        fence.refused.clear()  # a node that owns "b" again writes it
        assert (await store.append("b", 0, evs("b"))).last_seq == 1
        assert await store.check() == []


async def test_a_fence_reads_the_database_in_the_append_s_transaction(pg_url: str) -> None:
    """The seam cluster mode uses: the epoch is read on the writing connection, in the same
    transaction, so a takeover committed before the append fences it."""

    class EpochFence:
        def __init__(self, epoch: int) -> None:
            self.epoch = epoch

        async def check(self, conn: asyncpg.Connection, stream_ids: Sequence[str]) -> None:
            stored = await conn.fetchval("SELECT epoch FROM owner FOR SHARE")
            if stored != self.epoch:
                raise Fenced(f"epoch {self.epoch} superseded by {stored}")

    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute("CREATE TABLE owner (epoch BIGINT NOT NULL)")
        await admin.execute("INSERT INTO owner VALUES (1)")
        async with await PostgresEventStore.open(pg_url, fence=EpochFence(1)) as store:
            await store.append("s", 0, evs("1"))
            await admin.execute("UPDATE owner SET epoch = 2")  # another node took over
            with pytest.raises(Fenced):
                await store.append("s", 1, evs("2"))
            assert await store.highest_seq("s") == 1
    finally:
        await admin.close()


async def test_migrations_are_numbered_and_applied_once(pg_url: str) -> None:
    async with await PostgresEventStore.open(pg_url) as store:
        await store.append("s", 0, evs("1"))
    async with await PostgresEventStore.open(pg_url) as again:  # nothing to apply: data kept
        assert await again.highest_seq("s") == 1
        await again.append("s", 1, evs("2"))
        assert await again.check() == []
    conn = await asyncpg.connect(pg_url)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
        assert sorted(versions) == [v for v, _ in MIGRATIONS]  # 1-9 the store's, 10+ the cluster's
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", LATEST_VERSION + 1)
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="newer"):
        await PostgresEventStore.open(pg_url)
    with pytest.raises(StoreError, match="newer"):
        await PostgresEventStore.open(pg_url, read_only=True)


async def test_nodes_opening_at_once_migrate_once(pg_url: str) -> None:
    stores = await asyncio.gather(*(PostgresEventStore.open(pg_url) for _ in range(3)))
    try:
        await asyncio.gather(*(s.append(f"s{i}", 0, evs("x")) for i, s in enumerate(stores)))
        assert len(await stores[0].streams()) == 3
    finally:
        for s in stores:
            await s.close()


async def test_read_only_refuses_writes_and_an_unmigrated_database(pg_url: str) -> None:
    with pytest.raises(StoreError, match="needs migration"):
        await PostgresEventStore.open(pg_url, read_only=True)
    async with await PostgresEventStore.open(pg_url) as store:
        await store.append("s", 0, evs("1"))
    async with await PostgresEventStore.open(pg_url, read_only=True) as reader:
        assert await reader.highest_seq("s") == 1
        with pytest.raises(StoreError, match="read-only"):
            await reader.append("s", 1, evs("2"))
        with pytest.raises(StoreError, match="read-only"):
            await reader.add_user("Shipco", "buyer", "Bo")


async def test_two_nodes_on_one_database_stale_heads_fail_alone(pg_url: str) -> None:
    """Each node caches heads; when the other wrote the stream meanwhile the unique constraint
    refuses the stale append alone, and positions follow commit order across both."""
    async with (
        await PostgresEventStore.open(pg_url) as one,
        await PostgresEventStore.open(pg_url) as two,
    ):
        await one.append("s", 0, evs("1"))
        await two.append("s", 1, evs("2"))  # one's cached head of "s" is now stale
        one.write_gate = asyncio.Event()
        appends = [
            asyncio.ensure_future(one.append("a", 0, evs("a"))),
            asyncio.ensure_future(one.append("s", 1, evs("stale"))),
        ]
        await asyncio.sleep(0)
        one.write_gate.set()
        outcomes = await asyncio.gather(*appends, return_exceptions=True)
        assert isinstance(outcomes[0], AppendResult)
        assert isinstance(outcomes[1], ConcurrencyError)
        assert (await one.append("s", 2, evs("3"))).last_seq == 3
        everything = await two.read_all()
        assert [e.data for e in everything] == [b"1", b"2", b"a", b"3"]
        assert [e.position for e in everything] == sorted(e.position for e in everything)
        assert await two.check() == []


async def test_a_lost_connection_fails_the_batch_and_the_writer_reconnects(pg_url: str) -> None:
    async with await PostgresEventStore.open(pg_url) as store:
        await store.append("s", 0, evs("1"))
        admin = await asyncpg.connect(pg_url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert killed >= 2  # the writer and the pool's
        finally:
            await admin.close()
        try:  # fails (nothing written) if the writer learns of it only then, else reconnects
            await store.append("s", 1, evs("2"))
        except StorageUnavailable:
            assert (await store.append("s", 1, evs("2"))).last_seq == 2  # on a new connection
        try:  # the pool's connection was cut too
            read = await store.read_stream("s")
        except StorageUnavailable:
            read = await store.read_stream("s")
        assert [e.data for e in read] == [b"1", b"2"]
        assert await store.check() == []


async def test_an_exclusive_store_keeps_a_second_one_out(pg_url: str) -> None:
    async with await PostgresEventStore.open(pg_url, exclusive=True) as store:
        await store.append("s", 0, evs("1"))
        with pytest.raises(StoreLocked):
            await PostgresEventStore.open(pg_url, exclusive=True)
        async with await PostgresEventStore.open(pg_url, read_only=True) as reader:
            assert await reader.highest_seq("s") == 1
    async with await PostgresEventStore.open(pg_url, exclusive=True) as again:  # released
        assert await again.highest_seq("s") == 1


async def test_an_unreachable_server_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match="cannot open"):
        await PostgresEventStore.open("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2)


def test_postgres_urls_are_told_from_paths() -> None:
    assert is_postgres_url("postgresql://root@127.0.0.1:5432/test")
    assert is_postgres_url("postgres://root@db/test")
    assert not is_postgres_url("./auctionactors.db")
    assert not is_postgres_url("postgresql.db")


async def test_migration_6_keeps_the_users_and_adds_the_deliveries(pg_url: str) -> None:
    old = await user_at_version_5(pg_url)
    async with await PostgresEventStore.open(pg_url) as store:  # migrates 5 -> 6
        assert await store.user(old) is not None
        assert await store.recipients([c.company_id for c in await store.companies()]) == []
        new = await store.add_user("Shipco", "buyer", "Cy", email="cy@shipco.example")
        assert [r.user_name for r in await store.recipients([new.company_id])] == ["Cy"]
        await store.record_deliveries("hook", parked=[parked_delivery("d1")])
    async with await PostgresEventStore.open(pg_url, read_only=True) as reader:
        assert [p.effect_id for p in await reader.parked()] == ["d1"]  # `deliveries list`
        for write in (
            reader.redrive(),
            reader.start_reactor("mail"),
            reader.advance_reactor("m", 1),
        ):
            with pytest.raises(StoreError, match="read-only"):
                await write


async def test_a_missing_migration_below_the_highest_applied_is_applied(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        assert await migrate(conn, target=4) == 4
        async with conn.transaction():  # 6 applied before 5, as cluster mode's 10 may be
            for step in dict(MIGRATIONS)[6]:
                assert isinstance(step, str)
                await conn.execute(step)
            await conn.execute("INSERT INTO schema_version (version) VALUES (6)")
    finally:
        await conn.close()
    async with await PostgresEventStore.open(pg_url) as store:  # applies 5: the catalog
        await store.append("s", 0, evs("1"))
        assert await store.check() == []
        assert await store.catalog_entry("s") is None


async def user_at_version_5(pg_url: str) -> str:
    """A database at version 5 with a user, inserted as version 5's code did."""
    conn = await asyncpg.connect(pg_url)
    try:
        assert await migrate(conn, target=5) == 5
        await conn.execute(
            "INSERT INTO companies (id, name, role) VALUES ('c-old', 'Old', 'buyer')"
        )
        await conn.execute(
            "INSERT INTO users (id, company_id, name) VALUES ('u-old', 'c-old', 'Al')"
        )
    finally:
        await conn.close()
    return "u-old"


def parked_delivery(effect_id: str) -> ParkedDelivery:
    return ParkedDelivery(
        reactor="",
        effect_id=effect_id,
        position=1,
        recipient="http://hook.example/in",
        payload=b"{}",
        attempts=8,
        last_error="refused",
        parked_at=1,
    )


async def test_nodes_sharing_a_reactor_never_take_its_checkpoint_back(pg_url: str) -> None:
    a, b = await asyncio.gather(*(PostgresEventStore.open(pg_url) for _ in range(2)))
    try:
        await a.append("s", 0, evs("1", "2", "3"))
        started = await asyncio.gather(*(s.start_reactor("mail") for s in (a, b, a, b)))
        assert started == [3, 3, 3, 3]  # one row: the first start's, found by the others
        await a.advance_reactor("mail", 5)
        with pytest.raises(ValueError, match="go back"):
            await b.advance_reactor("mail", 4)
        assert await b.reactor_positions() == {"mail": 5}
    finally:
        await a.close()
        await b.close()

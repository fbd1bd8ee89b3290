"""What only the SQLite store has: a file that outlives the process, migrations, pragmas, group
commit, and other processes that may write to the same file."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from auctionactors.errors import (
    ConcurrencyError,
    CorruptionError,
    OutcomeUnknown,
    StorageUnavailable,
    StoreError,
)
from auctionactors.store import migrations
from auctionactors.store.base import (
    GENESIS_HASH,
    AppendResult,
    CatalogEntry,
    Damage,
    NewEvent,
    Snapshot,
    chain_hash,
)
from auctionactors.store.sqlite import SqliteEventStore
from auctionactors.store.sqlite_writer import BatchWriter


def evs(*payloads: str) -> list[NewEvent]:
    return [NewEvent("happened", p.encode()) for p in payloads]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteEventStore]:
    opened = await SqliteEventStore.open(db_path)
    try:
        yield opened
    finally:
        await opened.close()


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the same file, playing "another process" or "an attacker"."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def count_events(path: Path) -> int:
    with raw(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


# -- persistence and schema -----------------------------------------------------------------------


async def test_reopen_keeps_everything_and_continues_the_chain(db_path: Path) -> None:
    async with await SqliteEventStore.open(db_path) as first:
        await first.append("s", 0, evs("1", "2"))
        await first.append("t", 0, evs("x"))
        user = await first.add_user("Shipco", "buyer", "Bo")
        before = await first.read_all()
    async with await SqliteEventStore.open(db_path) as second:
        assert await second.read_all() == before
        assert await second.highest_seq("s") == 2
        with pytest.raises(ConcurrencyError):
            await second.append("s", 1, evs("stale"))
        result = await second.append("s", 2, evs("3"))
        assert result.last_seq == 3
        assert result.last_position > before[-1].position
        assert await second.check() == []
        principal = await second.authenticate(user.token)
        assert principal is not None
        assert principal.company_name == "Shipco"
        prev = GENESIS_HASH
        for event in await second.read_stream("s"):
            prev = chain_hash(prev, "s", event.seq, event.type, event.data)
            assert event.hash == prev


async def test_old_schema_is_migrated_on_open(db_path: Path) -> None:
    with raw(db_path) as conn:
        assert migrations.migrate(conn, target=1) == 1
        h = chain_hash(GENESIS_HASH, "s", 1, "happened", b"old")
        conn.execute(
            "INSERT INTO events (stream_id, seq, type, data, hash) VALUES (?, 1, ?, ?, ?)",
            ("s", "happened", b"old", h),
        )
        assert migrations.schema_version(conn) == 1
    async with await SqliteEventStore.open(db_path) as store:
        assert (await store.pragmas())["user_version"] == migrations.LATEST_VERSION
        assert [e.data for e in await store.read_stream("s")] == [b"old"]
        await store.append("s", 1, evs("new"))
        new = await store.add_user("Shipco", "buyer", "Bo")  # the tables of migration 2
        assert await store.authenticate(new.token) is not None
        assert await store.check() == []


async def test_a_version_3_database_gains_snapshots_and_keeps_its_events(db_path: Path) -> None:
    with raw(db_path) as conn:
        assert migrations.migrate(conn, target=3) == 3
        h = chain_hash(GENESIS_HASH, "s", 1, "happened", b"old")
        conn.execute(
            "INSERT INTO events (stream_id, seq, type, data, hash) VALUES (?, 1, ?, ?, ?)",
            ("s", "happened", b"old", h),
        )
    async with await SqliteEventStore.open(db_path) as store:
        assert (await store.pragmas())["user_version"] == migrations.LATEST_VERSION >= 4
        assert await store.latest_snapshot("s") is None
        await store.append("s", 1, evs("new"), snapshot=Snapshot(2, "v", b"state"))
    async with await SqliteEventStore.open(db_path, read_only=True) as store:
        assert [e.data for e in await store.read_stream("s")] == [b"old", b"new"]
        assert await store.latest_snapshot("s") == Snapshot(2, "v", b"state")
        assert await store.check() == []


async def test_newer_schema_is_refused(db_path: Path) -> None:
    with raw(db_path) as conn:
        migrations.migrate(conn)
        conn.execute(f"PRAGMA user_version = {migrations.LATEST_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        await SqliteEventStore.open(db_path)


def test_a_failing_migration_leaves_the_old_schema(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with raw(db_path) as conn:
        migrations.migrate(conn)
        broken = (
            migrations.LATEST_VERSION + 1,
            ("CREATE TABLE fine (x)", "CREATE TABLE events (x)"),
        )
        monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
        with pytest.raises(sqlite3.OperationalError):
            migrations.migrate(conn, target=broken[0])
        assert migrations.schema_version(conn) == migrations.LATEST_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "fine" not in tables


async def test_wal_and_durable_sync_are_set(store: SqliteEventStore, db_path: Path) -> None:
    pragmas = await store.pragmas()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["synchronous"] == 2  # FULL: the WAL is fsynced at every commit
    assert pragmas["busy_timeout"] == 5000
    async with await SqliteEventStore.open(db_path, durable=False) as fast:
        assert (await fast.pragmas())["synchronous"] == 1  # NORMAL


async def test_open_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        await SqliteEventStore.open(":memory:")
    with pytest.raises(StorageUnavailable):
        await SqliteEventStore.open(tmp_path / "no-such-dir" / "events.db")


@pytest.fixture
def garbage_file(db_path: Path) -> Path:
    db_path.write_bytes(b"this is not SQLite" * 1000)
    return db_path


async def test_a_file_that_is_not_a_database_is_corruption(garbage_file: Path) -> None:
    with pytest.raises(CorruptionError):
        await SqliteEventStore.open(garbage_file)


# -- read-only ------------------------------------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


async def written(path: Path) -> tuple[list[bytes], str]:
    """A database left by a normal store (closed, so checkpointed): its events and a token."""
    async with await SqliteEventStore.open(path) as store:
        await store.append("s", 0, evs("1", "2"))
        await store.append("t", 0, evs("x"))
        user = await store.add_user("Shipco", "buyer", "Bo")
        data = [e.data for e in await store.read_all()]
    return data, user.token


def v1_database(path: Path) -> None:
    """A database of schema version 1 (before accounts) holding one event."""
    with raw(path) as conn:
        assert migrations.migrate(conn, target=1) == 1
        conn.execute(
            "INSERT INTO events (stream_id, seq, type, data, hash) VALUES ('s', 1, ?, ?, ?)",
            ("happened", b"old", chain_hash(GENESIS_HASH, "s", 1, "happened", b"old")),
        )


async def test_read_only_store_reads_everything_and_changes_nothing(db_path: Path) -> None:
    data, token = await written(db_path)
    before = digest(db_path)
    async with await SqliteEventStore.open(db_path, read_only=True) as store:
        assert store.read_only
        assert [e.data for e in await store.read_all()] == data
        assert [e.data for e in await store.read_stream("s", from_seq=2)] == [b"2"]
        assert await store.highest_seq("s") == 2
        assert [(i.stream_id, i.highest_seq) for i in await store.streams()] == [("s", 2), ("t", 1)]
        assert await store.check() == []
        principal = await store.authenticate(token)
        assert principal is not None
        assert await store.company(principal.company_id) == (await store.companies())[0]
        assert (await store.pragmas())["journal_mode"] == "wal"
        with pytest.raises(StoreError, match=r"^the store is open read-only$"):
            await store.append("s", 2, evs("3"))
        with pytest.raises(StoreError, match="read-only"):
            await store.add_user("Shipco", "buyer", "Al")
        with pytest.raises(StoreError, match="read-only"):
            await store.revoke_token(token)
    await store.close()  # idempotent
    assert digest(db_path) == before
    # SQLite's read-only WAL reader may create the -wal (and -shm) file, but writes nothing to it.
    assert not wal(db_path).exists() or wal(db_path).stat().st_size == 0
    assert count_events(db_path) == 3
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1


async def test_read_only_connection_is_opened_read_only(db_path: Path) -> None:
    """Not only ``query_only`` (which a statement could switch off): the ``mode=ro`` URI. Running
    as root ignores file permissions, so the proof is that SQLite itself refuses the write."""
    await written(db_path)
    async with await SqliteEventStore.open(db_path, read_only=True) as store:

        def sneak_a_write(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA query_only = OFF")
            conn.execute("CREATE TABLE sneaky (x)")

        with pytest.raises(StorageUnavailable, match="readonly database"):
            await store._read(sneak_a_write)
    assert count_events(db_path) == 3


async def test_read_only_open_creates_no_database(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StorageUnavailable):
        await SqliteEventStore.open(path, read_only=True)
    assert names(tmp_path) == []


async def test_read_only_open_of_a_name_that_looks_like_a_uri(tmp_path: Path) -> None:
    path = tmp_path / "odd ?mode=rwc#x %41.db"
    await written(path)
    async with await SqliteEventStore.open(path, read_only=True) as store:
        assert await store.highest_seq("s") == 2
    assert [name for name in names(tmp_path) if not name.startswith(path.name)] == []


async def test_read_only_refuses_an_old_schema_and_does_not_migrate_it(db_path: Path) -> None:
    v1_database(db_path)
    before = digest(db_path)
    with pytest.raises(
        StoreError, match=r"schema version 1 needs migration; run `auctionactors serve` once"
    ):
        await SqliteEventStore.open(db_path, read_only=True)
    assert digest(db_path) == before
    with raw(db_path) as conn:
        assert migrations.schema_version(conn) == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "companies" not in tables


async def test_read_only_refuses_a_newer_schema(db_path: Path) -> None:
    with raw(db_path) as conn:
        migrations.migrate(conn)
        conn.execute(f"PRAGMA user_version = {migrations.LATEST_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this program"):
        await SqliteEventStore.open(db_path, read_only=True)


async def test_read_only_open_of_a_file_that_is_not_a_database(garbage_file: Path) -> None:
    with pytest.raises(CorruptionError):
        await SqliteEventStore.open(garbage_file, read_only=True)


async def test_read_only_store_opens_and_reads_while_another_writer_holds_the_lock(
    db_path: Path,
) -> None:
    await written(db_path)
    with raw(db_path) as other:
        other.execute("BEGIN IMMEDIATE")  # a `serve` daemon in the middle of a batch
        other.execute("DELETE FROM events")
        async with await SqliteEventStore.open(db_path, busy_timeout=0.05, read_only=True) as ro:
            assert await ro.highest_seq("s") == 2  # the last commit, not the open transaction
            assert await ro.check() == []
        other.execute("ROLLBACK")


async def test_read_only_store_sees_what_other_writers_commit_later(db_path: Path) -> None:
    """What ``events --follow`` relies on: every read is a new read transaction, so a reader
    opened on a quiet file (no -wal yet) sees the commits of a writer that comes afterwards."""
    await written(db_path)
    assert not wal(db_path).exists()
    async with await SqliteEventStore.open(db_path, read_only=True) as ro:
        assert await ro.highest_seq("s") == 2
        async with await SqliteEventStore.open(db_path) as writer:
            await writer.append("s", 2, evs("3"))
            assert await ro.highest_seq("s") == 3
            await writer.append("s", 3, evs("4"))
            await writer.append("u", 0, evs("new stream"))
            assert [e.data for e in await ro.read_stream("s", from_seq=3)] == [b"3", b"4"]
            assert [i.stream_id for i in await ro.streams()] == ["s", "t", "u"]
        with raw(db_path) as other:  # and after that writer is gone, a plain one
            prev = other.execute("SELECT hash FROM events WHERE stream_id = 'u'").fetchone()[0]
            other.execute(
                "INSERT INTO events (stream_id, seq, type, data, hash) VALUES ('u', 2, ?, ?, ?)",
                ("happened", b"more", chain_hash(prev, "u", 2, "happened", b"more")),
            )
        assert [e.data for e in await ro.read_all(from_position=6)] == [b"new stream", b"more"]
        assert await ro.check() == []


# -- tampering --------------------------------------------------------------------------------


async def test_check_finds_an_edited_event(store: SqliteEventStore, db_path: Path) -> None:
    await store.append("s", 0, evs("1", "2", "3", "4"))
    with raw(db_path) as conn:
        conn.execute("UPDATE events SET data = ? WHERE stream_id = 's' AND seq = 2", (b"20",))
    damage = await store.check()
    assert [(d.stream_id, d.seq) for d in damage] == [("s", 2)]
    assert "hash" in damage[0].problem


async def test_check_finds_a_deleted_event(store: SqliteEventStore, db_path: Path) -> None:
    await store.append("s", 0, evs("1", "2", "3", "4"))
    await store.append("other", 0, evs("fine"))
    with raw(db_path) as conn:
        conn.execute("DELETE FROM events WHERE stream_id = 's' AND seq = 3")
    damage = await store.check()
    assert Damage("s", 3, "gap: expected seq 3, found 4") in damage
    assert {d.stream_id for d in damage} == {"s"}


async def test_check_finds_swapped_events(store: SqliteEventStore, db_path: Path) -> None:
    await store.append("s", 0, evs("1", "2", "3", "4"))
    with raw(db_path) as conn:
        rows = dict(conn.execute("SELECT seq, data FROM events WHERE stream_id = 's'").fetchall())
        conn.execute("BEGIN")
        conn.execute("UPDATE events SET data = ? WHERE stream_id = 's' AND seq = 2", (rows[3],))
        conn.execute("UPDATE events SET data = ? WHERE stream_id = 's' AND seq = 3", (rows[2],))
        conn.execute("COMMIT")
    assert [(d.stream_id, d.seq) for d in await store.check()] == [("s", 2), ("s", 3)]


# -- group commit -----------------------------------------------------------------------------


async def test_group_commit_batches_concurrent_appends(store: SqliteEventStore) -> None:
    results = await asyncio.gather(*(store.append(f"s{i}", 0, evs("x")) for i in range(200)))
    assert len({r.last_position for r in results}) == 200
    assert store.stats.appends == 200
    assert store.stats.commits <= 5  # in practice 1: all 200 queue before the writer wakes
    assert store.stats.max_batch >= 40


async def test_without_group_commit_each_append_commits(db_path: Path) -> None:
    async with await SqliteEventStore.open(db_path, group_commit=False) as store:
        await asyncio.gather(*(store.append(f"s{i}", 0, evs("x")) for i in range(50)))
        assert store.stats.commits == 50
        assert store.stats.max_batch == 1


async def test_stale_append_in_a_batch_fails_alone(store: SqliteEventStore) -> None:
    await store.append("s", 0, evs("1"))
    outcomes = await asyncio.gather(
        store.append("a", 0, evs("a1")),
        store.append("s", 0, evs("stale")),
        store.append("s", 1, evs("2")),
        store.append("s", 2, evs("3")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ConcurrencyError)
    assert [o.last_seq for o in outcomes if isinstance(o, AppendResult)] == [1, 2, 3]
    assert [e.data for e in await store.read_stream("s")] == [b"1", b"2", b"3"]


async def test_close_finishes_pending_appends(db_path: Path) -> None:
    store = await SqliteEventStore.open(db_path)
    # gather starts the appends in order, so all of them are queued when close() begins
    *results, _ = await asyncio.gather(
        *(store.append(f"s{i}", 0, evs("x")) for i in range(20)), store.close()
    )
    assert all(isinstance(r, AppendResult) and r.last_seq == 1 for r in results)
    assert count_events(db_path) == 20


# -- failures and other writers -------------------------------------------------------------


async def test_injected_failure_fails_the_batch_and_writes_nothing(
    store: SqliteEventStore, db_path: Path
) -> None:
    await store.append("s", 0, evs("1"))
    store.fail_next_append = sqlite3.OperationalError("disk I/O error")
    outcomes = await asyncio.gather(
        store.append("s", 1, evs("2", "3")),
        *(store.append(f"t{i}", 0, evs("x")) for i in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(o, StorageUnavailable) for o in outcomes)
    assert count_events(db_path) == 1
    assert store.stats.failed_batches == 1
    assert (await store.append("s", 1, evs("2", "3"))).last_seq == 3
    assert (await store.append("t0", 0, evs("x"))).last_seq == 1
    assert await store.check() == []


async def test_locked_database_is_unavailable_then_recovers(db_path: Path) -> None:
    async with await SqliteEventStore.open(db_path, busy_timeout=0.05) as store:
        await store.append("s", 0, evs("1"))
        with raw(db_path) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            with pytest.raises(StorageUnavailable, match="locked"):
                await store.append("s", 1, evs("2"))
            other.execute("ROLLBACK")
        assert (await store.append("s", 1, evs("2"))).last_seq == 2
        assert count_events(db_path) == 2


async def test_a_batch_that_collides_is_retried_one_by_one(store: SqliteEventStore) -> None:
    store.fail_next_append = sqlite3.IntegrityError("UNIQUE constraint failed")
    results = await asyncio.gather(*(store.append(f"s{i}", 0, evs("x")) for i in range(5)))
    assert [r.last_seq for r in results] == [1] * 5
    assert store.stats.fallbacks == 1
    assert await store.check() == []


async def test_another_writer_makes_only_the_stale_append_fail(
    store: SqliteEventStore, db_path: Path
) -> None:
    await store.append("s", 0, evs("1"))  # the writer now caches the head of "s" at seq 1
    with raw(db_path) as other:
        prev = other.execute("SELECT hash FROM events WHERE stream_id = 's'").fetchone()[0]
        other.execute(
            "INSERT INTO events (stream_id, seq, type, data, hash) VALUES ('s', 2, ?, ?, ?)",
            ("happened", b"theirs", chain_hash(prev, "s", 2, "happened", b"theirs")),
        )
    stale, fresh = await asyncio.gather(
        store.append("s", 1, evs("ours")),
        store.append("t", 0, evs("t1")),
        return_exceptions=True,
    )
    assert isinstance(stale, ConcurrencyError)
    assert isinstance(fresh, AppendResult)
    assert fresh.last_seq == 1
    # the writer re-reads the head, so a caller who knows about the other write can continue
    assert (await store.append("s", 2, evs("3"))).last_seq == 3
    assert [e.data for e in await store.read_stream("s")] == [b"1", b"theirs", b"3"]
    assert await store.check() == []


def test_a_full_disk_fails_the_whole_batch_and_the_writer_recovers(db_path: Path) -> None:
    """A real SQLITE_FULL (the file may not grow) on the writer's own code, without the loop."""
    with raw(db_path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        migrations.migrate(conn)
        writer = BatchWriter()
        first = writer.write(conn, [("s", 0, evs("1"), (), None, None, None)])[0]
        assert isinstance(first, AppendResult)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        big = [NewEvent("blob", b"x" * 100_000)]
        outcomes = writer.write(
            conn, [("s", 1, big, (), None, None, None), ("t", 0, big, (), None, None, None)]
        )
        assert all(isinstance(o, StorageUnavailable) for o in outcomes)
        assert "full" in str(outcomes[0])
        assert not conn.in_transaction
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        assert writer.heads == {}  # forgotten: reloaded from the file next time
        conn.execute(f"PRAGMA max_page_count = {pages * 100}")
        outcomes = writer.write(
            conn, [("s", 1, big, (), None, None, None), ("t", 0, big, (), None, None, None)]
        )
        assert [o.last_seq for o in outcomes if isinstance(o, AppendResult)] == [2, 1]


class _FailingCommit(sqlite3.Connection):
    """A real connection whose COMMIT reports an I/O error, ``after`` running it (the commit
    may be on disk: outcome unknown) or ``before`` (nothing written)."""

    fail: str | None = None

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        if sql == "COMMIT" and self.fail == "before":
            raise sqlite3.OperationalError("database is locked")
        cursor = super().execute(sql, *args)  # type: ignore[arg-type]
        if sql == "COMMIT" and self.fail == "after":
            raise sqlite3.OperationalError("disk I/O error")
        return cursor


def test_a_failed_commit_is_unknown_unless_it_never_ran(db_path: Path) -> None:
    """An error from COMMIT once SQLite has ended the transaction is `OutcomeUnknown` (answered
    `timeout`), never `StorageUnavailable` (`unavailable`: not applied) (found in review)."""
    conn = sqlite3.connect(db_path, isolation_level=None, factory=_FailingCommit)
    with closing(conn):
        conn.execute("PRAGMA journal_mode = WAL")
        migrations.migrate(conn)
        writer = BatchWriter()
        conn.fail = "before"
        outcomes = writer.write(conn, [("s", 0, evs("1"), (), None, None, None)])
        assert isinstance(outcomes[0], StorageUnavailable)
        assert not isinstance(outcomes[0], OutcomeUnknown)
        assert not conn.in_transaction
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
        conn.fail = "after"
        outcomes = writer.write(
            conn,
            [("s", 0, evs("1"), (), None, None, None), ("t", 0, evs("2"), (), None, None, None)],
        )
        assert all(isinstance(o, OutcomeUnknown) for o in outcomes)
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2  # it was written
        assert writer.heads == {}  # reloaded from the file next time
        conn.fail = None
        outcomes = writer.write(conn, [("s", 0, evs("again"), (), None, None, None)])
        assert isinstance(outcomes[0], ConcurrencyError)  # the head was re-read: seq 1 is taken


def test_catalog_readers_are_rewritten_exactly_when_they_change(db_path: Path) -> None:
    """The writer remembers the readers it committed (no read back at every append), but never
    ones a failed batch did not store, nor after another writer appended to the stream."""

    def entry(seq: int, *readers: str) -> CatalogEntry:
        return CatalogEntry("s", seq, "open", 100, None, readers, b"row")

    def stored(conn: sqlite3.Connection) -> set[str]:
        return {r[0] for r in conn.execute("SELECT company_id FROM catalog_readers")}

    with raw(db_path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        migrations.migrate(conn)
        writer = BatchWriter()
        first = writer.write(conn, [("s", 0, evs("1"), (), None, entry(1, "a"), None)])
        assert isinstance(first[0], AppendResult)
        writer.write(conn, [("s", 1, evs("2"), (), None, entry(2, "a"), None)])
        assert stored(conn) == {"a"}
        # A batch that fails after writing the new readers leaves the old ones, remembered.
        failed = writer.write(
            conn,
            [("s", 2, evs("3"), (), None, entry(3, "a", "b"), None)],
            fault=RuntimeError("boom"),
        )
        assert isinstance(failed[0], StorageUnavailable)
        assert stored(conn) == {"a"}
        writer.write(conn, [("s", 2, evs("3"), (), None, entry(3, "a", "b"), None)])
        assert stored(conn) == {"a", "b"}
        # Another writer changes them; this one appends the readers it remembers: rewritten.
        other = BatchWriter()
        other.write(conn, [("s", 3, evs("4"), (), None, entry(4, "c"), None)])
        assert stored(conn) == {"c"}
        writer.write(conn, [("s", 4, evs("5"), (), None, entry(5, "a", "b"), None)])
        assert stored(conn) == {"a", "b"}


async def test_migration_6_keeps_users_and_gives_them_no_address(tmp_path: Path) -> None:
    """Users added before notifications existed keep their tokens and get no mail."""
    path = tmp_path / "v5.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert migrations.migrate(conn, target=5) == 5
        conn.execute("INSERT INTO companies (id, name, role) VALUES ('c-1', 'Shell', 'supplier')")
        conn.execute("INSERT INTO users (id, company_id, name) VALUES ('u-1', 'c-1', 'ann')")
    async with await SqliteEventStore.open(path) as store:
        assert (await store.pragmas())["user_version"] == migrations.LATEST_VERSION
        assert (await store.user("u-1")) is not None
        assert await store.recipients(["c-1"]) == []
        assert await store.start_reactor("mail") == 0

"""The `EventStore` and `Accounts` on PostgreSQL, through asyncpg: what cluster mode stands on.

Appends go to one writer connection per store (per node), batched by a `WriteQueue` (group
commit: one transaction per batch, see `postgres_writer`); reads and account changes use a small
pool. Positions are taken in commit order across nodes (`postgres_writer.POSITION_LOCK`), the
hash chain, keys, snapshots and catalog rows are written in the append's transaction, exactly as
in SQLite; the contract tests (tests/store) run on both.

``fence`` (cluster mode) is checked inside every append's transaction before anything is
inserted (see `postgres_writer.Fence`); ``role_fence`` inside a reactor's record and checkpoint
writes (`postgres_deliveries.RoleFence`). ``read_only=True`` runs no migration and refuses writes
(the inspecting commands). ``exclusive=True`` takes a session advisory lock held until `close`:
one single-node ``serve`` per database (`StoreLocked` for a second one).
This is the only module, with its `postgres_*` parts, that imports asyncpg.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from itertools import starmap
from typing import Any, Self

import asyncpg

from auctionactors.errors import StorageUnavailable, StoreError, StoreLocked
from auctionactors.store import postgres_accounts, postgres_catalog, postgres_deliveries
from auctionactors.store.base import (
    READ_ONLY_MESSAGE,
    AppendResult,
    CatalogEntry,
    Damage,
    KeyRecord,
    NewEvent,
    Snapshot,
    StoredEvent,
    StreamInfo,
    StreamTail,
    check_limit,
)
from auctionactors.store.batching import QueueHooks, WriteQueue, WriterStats, queued_append
from auctionactors.store.integrity import check_events
from auctionactors.store.postgres_deliveries import RoleFence
from auctionactors.store.postgres_migrations import Conn, check_version, migrate, schema_version
from auctionactors.store.postgres_writer import LOST, Fence, PostgresWriter

SCHEMES = ("postgresql://", "postgres://")
# pg_try_advisory_lock's key of an exclusive (single-node serve) store ("aa" "excl").
EXCLUSIVE_LOCK = 0x6161_6578_636C

EVENT_COLUMNS = "stream_id, seq, position, type, data, hash"
SELECT_STREAM = f"""SELECT {EVENT_COLUMNS} FROM events
    WHERE stream_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4"""
SELECT_ALL = f"SELECT {EVENT_COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"
SELECT_KEYS = """SELECT key, fingerprint, seq, result FROM command_keys
    WHERE scope = $1 AND user_id = $2 AND key = ANY($3::text[])"""
SELECT_SNAPSHOTS = """SELECT stream_id, seq, version, data FROM snapshots
    WHERE stream_id = ANY($1::text[])"""
SELECT_TAILS = f"""SELECT {", ".join("e." + c for c in EVENT_COLUMNS.split(", "))} FROM events e
    LEFT JOIN snapshots s ON s.stream_id = e.stream_id
    WHERE e.stream_id = ANY($1::text[]) AND e.seq >= COALESCE(s.seq, 1)
    ORDER BY e.stream_id, e.seq"""
SELECT_FOR_CHECK = f"""SELECT {EVENT_COLUMNS} FROM events
    WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, seq"""
CHECK_STREAMS_AT_ONCE = 500
MAX_INT64 = 2**63 - 1


def is_postgres_url(value: str) -> bool:
    """Whether ``--db`` names a PostgreSQL database rather than a SQLite file."""
    return value.startswith(SCHEMES)


class PostgresEventStore(
    QueueHooks,
    postgres_catalog.CatalogReads,
    postgres_accounts.AccountsStore,
    postgres_deliveries.DeliveriesStore,
):
    """Event streams, accounts and the reactors' deliveries in one PostgreSQL database; open with
    `open`.

    ``stats`` counts commits and batch sizes (group commit at work); ``fail_next_append`` and
    ``write_gate`` are the tests' fault injection (see `WriteQueue`).
    """

    def __init__(
        self,
        url: str,
        pool: asyncpg.Pool,
        writer: PostgresWriter | None,
        *,
        group_commit: bool,
        holder: asyncpg.Connection | None = None,
    ) -> None:
        """Use `open`; this only wires up an opened pool (no writer: read-only)."""
        self.url = url
        self.read_only = writer is None
        self._pool = pool
        self._writer = writer
        self._holder = holder  # the connection holding the exclusive lock, if any
        self._closed = False
        self._queue: WriteQueue | None = None
        if writer is not None:
            self._queue = WriteQueue(writer.write, group_commit=group_commit, name="pg-writer")

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        group_commit: bool = True,
        read_only: bool = False,
        exclusive: bool = False,
        fence: Fence | None = None,
        role_fence: RoleFence | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> Self:
        """Connect to ``url`` (``postgresql://USER@HOST:PORT/DB``) and migrate its schema
        (``read_only``: only check it). `StorageUnavailable` when PostgreSQL cannot be reached,
        `StoreError` for a schema this code does not match, `StoreLocked` (``exclusive``) when
        another exclusive store holds the database."""

        async def connect() -> asyncpg.Connection:
            return await asyncpg.connect(url, timeout=connect_timeout)

        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=pool_size, timeout=connect_timeout, command_timeout=None
            )
        except (*LOST, asyncpg.PostgresError, TimeoutError) as exc:
            raise StorageUnavailable(f"cannot open {safe_url(url)}: {exc}") from exc
        holder: asyncpg.Connection | None = None
        try:
            async with pool.acquire() as conn:
                if read_only:
                    check_version(await schema_version(conn))
                else:
                    await migrate(conn)
            if exclusive:
                holder = await connect()
                if not await holder.fetchval("SELECT pg_try_advisory_lock($1)", EXCLUSIVE_LOCK):
                    raise StoreLocked(f"another auctionactors serve is using {safe_url(url)}")
        except BaseException as exc:
            if holder is not None:
                await holder.close()
            await pool.close()
            if isinstance(exc, (*LOST, asyncpg.PostgresError)):
                raise StorageUnavailable(f"cannot open {safe_url(url)}: {exc}") from exc
            raise
        writer = None if read_only else PostgresWriter(connect, fence)
        store = cls(url, pool, writer, group_commit=group_commit, holder=holder)
        store.role_fence = role_fence
        return store

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def stats(self) -> WriterStats:
        return WriterStats() if self._writer is None else self._writer.stats

    # -- appends ---------------------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        expected_seq: int,
        events: Sequence[NewEvent],
        *,
        writer_token: int | None = None,
        keys: Sequence[KeyRecord] = (),
        snapshot: Snapshot | None = None,
        catalog: CatalogEntry | None = None,
    ) -> AppendResult:
        """See `EventStore.append`: queued to the writer task, answered after the commit.
        (``writer_token`` is ignored: cluster mode fences through ``fence``.)"""
        return await queued_append(
            self._queue, stream_id, expected_seq, events, keys, snapshot, catalog
        )

    # -- reads -----------------------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        check_limit(limit)
        if limit == 0:
            return []
        top = MAX_INT64 if to_seq is None else to_seq
        rows = await self._fetch(SELECT_STREAM, stream_id, from_seq, top, limit)
        return list(starmap(StoredEvent, rows))

    async def read_all(
        self, *, from_position: int = 1, limit: int | None = None
    ) -> list[StoredEvent]:
        """See `EventStore.read_all`: positions are in commit order across nodes."""
        check_limit(limit)
        if limit == 0:
            return []
        return list(starmap(StoredEvent, await self._fetch(SELECT_ALL, from_position, limit)))

    async def find_keys(
        self, scope: str, user_id: str, keys: Sequence[str]
    ) -> dict[str, KeyRecord]:
        rows = await self._fetch(SELECT_KEYS, scope, user_id, list(dict.fromkeys(keys)))
        return {r[0]: KeyRecord(scope, user_id, r[0], r[1], r[2], r[3]) for r in rows}

    async def latest_snapshot(self, stream_id: str) -> Snapshot | None:
        rows = await self._fetch(SELECT_SNAPSHOTS, [stream_id])
        return Snapshot(rows[0][1], rows[0][2], rows[0][3]) if rows else None

    async def tails(self, stream_ids: Sequence[str]) -> list[StreamTail]:
        """See `EventStore.tails`: two queries in one repeatable-read transaction, so the
        events read go with the snapshots read."""
        wanted = list(dict.fromkeys(stream_ids))
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read"):
            snapshots = {r[0]: Snapshot(r[1], r[2], r[3]) for r in await conn.fetch(
                SELECT_SNAPSHOTS, wanted)}  # fmt: skip
            events: dict[str, list[StoredEvent]] = {}
            for row in await conn.fetch(SELECT_TAILS, wanted):
                events.setdefault(row[0], []).append(StoredEvent(*row))
        return [StreamTail(s, snapshots.get(s), events.get(s, [])) for s in stream_ids]

    async def highest_seq(self, stream_id: str) -> int:
        rows = await self._fetch("SELECT MAX(seq) FROM events WHERE stream_id = $1", stream_id)
        return int(rows[0][0] or 0)

    async def streams(self) -> list[StreamInfo]:
        sql = "SELECT stream_id, MAX(seq) FROM events GROUP BY stream_id ORDER BY stream_id"
        return [StreamInfo(r[0], r[1]) for r in await self._fetch(sql)]

    async def check(self) -> list[Damage]:
        """See `EventStore.check`: `check_events` over a few hundred streams at a time, then the
        catalog's readers index."""
        names = [r[0] for r in await self._fetch("SELECT DISTINCT stream_id FROM events")]
        names.sort()
        damage: list[Damage] = []
        for start in range(0, len(names), CHECK_STREAMS_AT_ONCE):
            some = names[start : start + CHECK_STREAMS_AT_ONCE]
            rows = await self._fetch(SELECT_FOR_CHECK, some)
            damage += check_events(tuple(r) for r in rows)
        return damage + await self._catalog_damage()

    # -- lifecycle -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Finish every pending append, then close the connections. Idempotent."""
        if self._closed:
            return
        try:
            if self._queue is not None:
                await self._queue.close()
        finally:
            self._closed = True
            try:
                if self._writer is not None:
                    await self._writer.close()
            finally:
                try:
                    if self._holder is not None:
                        await self._holder.close()  # releases the exclusive lock
                finally:
                    await self._pool.close()

    # -- connections -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        """A pooled connection; PostgreSQL's failures as `StorageUnavailable`."""
        if self._closed:
            raise StoreError("event store is closed")
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except (*LOST, asyncpg.PostgresError, TimeoutError) as exc:
            raise StorageUnavailable(f"storage failed: {exc}") from exc

    def _writable_connection(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        if self.read_only:
            raise StoreError(READ_ONLY_MESSAGE)
        return self._connection()

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

    async def _in_transaction(self, sql: str, *args: Any) -> str:
        async with self._writable_connection() as conn, conn.transaction():
            status: str = await conn.execute(sql, *args)
            return status


def safe_url(url: str) -> str:
    """``url`` without a password, for messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{userinfo}{at}{host}"

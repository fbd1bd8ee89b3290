"""The PostgreSQL write path: a whole batch of appends in one transaction (group commit per node).

`PostgresWriter.write` is what the store's `WriteQueue` calls with everything that queued up
while the previous batch was being committed. One transaction, a handful of statements whatever
the batch's size (rows go in as arrays through ``unnest``), one commit.

Inside the transaction, in this order:

1. the **fence** (cluster mode), when the store has one: ``await fence.check(conn, stream_ids)``
   may raise `Fenced` (or any `StoreError`) to refuse appends this node may no longer make;
2. the idempotency keys (a stored one refuses its append alone: `DuplicateKey`);
3. each stream's head (cached; loaded in one query for the streams not cached or stale);
4. the transaction-level ``POSITION_LOCK``, so that positions are taken in commit order across
   every node (a reader tailing `read_all` never misses an event committed later with a smaller
   position), then the events, keys, snapshots, catalog rows and marks.

A head cached here can go stale only when another node wrote the stream (after a takeover):
then ``UNIQUE (stream_id, seq)`` refuses the batch, which is retried one append per transaction
with fresh heads, so only the truly stale appends fail. A fenced batch is retried the same way,
so only the fenced appends fail. The connection is opened again after it is lost.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import asyncpg

from auctionactors.errors import (
    DuplicateKey,
    Fenced,
    OutcomeUnknown,
    StorageUnavailable,
    StoreError,
)
from auctionactors.store import postgres_catalog
from auctionactors.store.base import GENESIS_HASH, AppendResult, storage_failure
from auctionactors.store.batching import (
    EventRow,
    Head,
    Outcome,
    Request,
    WriterStats,
    bounded_update,
    chain_onto,
    stale,
)

# pg_advisory_xact_lock's key that orders positions across nodes ("aa" "posn" in ASCII).
POSITION_LOCK = 0x6161_706F_736E

SELECT_KEYS = """SELECT k.scope, k.user_id, k.key FROM command_keys k
    JOIN unnest($1::text[], $2::text[], $3::text[]) AS u(scope, user_id, key)
    ON k.scope = u.scope AND k.user_id = u.user_id AND k.key = u.key"""
SELECT_HEADS = """SELECT DISTINCT ON (stream_id) stream_id, seq, hash FROM events
    WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, seq DESC"""
INSERT_EVENTS = """INSERT INTO events (stream_id, seq, type, data, hash)
    SELECT s, q, t, d, h FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[],
        $5::bytea[]) WITH ORDINALITY AS u(s, q, t, d, h, n) ORDER BY n
    RETURNING position"""
INSERT_KEYS = """INSERT INTO command_keys (scope, user_id, key, fingerprint, seq, result, stream_id)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[],
        $6::bytea[], $7::text[])"""
UPSERT_SNAPSHOTS = """INSERT INTO snapshots (stream_id, seq, version, data)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[])
    ON CONFLICT (stream_id) DO UPDATE
        SET seq = excluded.seq, version = excluded.version, data = excluded.data"""


class Fence(Protocol):
    """What cluster mode checks inside every append's transaction, before anything is inserted:
    raise `Fenced` (nothing is written) for streams this node may no longer write."""

    async def check(self, conn: asyncpg.Connection, stream_ids: Sequence[str]) -> None: ...


# Errors after which the connection cannot be trusted (lost, or broken mid-protocol).
LOST = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


class PostgresWriter:
    """Writes batches of appends on its own connection (opened by ``connect``, again after it
    is lost), with each stream's head, readers and catalogue mark cached as committed."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        fence: Fence | None = None,
        max_cached_streams: int = 200_000,
    ) -> None:
        self.fence = fence
        self.heads: dict[str, Head] = {}
        self.marks: dict[str, bool] = {}
        self.readers: dict[str, postgres_catalog.Readers] = {}
        self.max_cached_streams = max_cached_streams
        self.stats = WriterStats()
        self._connect = connect
        self._conn: asyncpg.Connection | None = None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def write(self, requests: list[Request], fault: BaseException | None) -> list[Outcome]:
        """One outcome per request, in order. Never raises for storage trouble."""
        try:
            conn = await self._connection()
        except Exception as exc:
            return [StorageUnavailable(f"cannot reach PostgreSQL: {exc}") for _ in requests]
        try:
            return await self._transaction(conn, requests, fault)
        except (asyncpg.UniqueViolationError, Fenced) as exc:
            self._forget(requests)
            self.stats.fallbacks += 1
            if len(requests) == 1:
                return [_refusal(requests[0], exc)]
            return [await self._alone(conn, request) for request in requests]

    async def _alone(self, conn: asyncpg.Connection, request: Request) -> Outcome:
        try:
            return (await self._transaction(conn, [request], None))[0]
        except (asyncpg.UniqueViolationError, Fenced) as exc:
            self._forget([request])
            return _refusal(request, exc)

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and self._conn.is_closed():
            self._conn = None
            self.heads.clear()  # written by others meanwhile, maybe
        if self._conn is None:
            self._conn = await self._connect()
        return self._conn

    async def _transaction(
        self, conn: asyncpg.Connection, requests: Sequence[Request], fault: BaseException | None
    ) -> list[Outcome]:
        """Stage, insert and commit ``requests``; re-raise only a unique violation or `Fenced`
        (rolled back)."""
        started = time.perf_counter()
        transaction = conn.transaction()
        try:
            await transaction.start()
            if self.fence is not None:
                await self.fence.check(conn, list(dict.fromkeys(r[0] for r in requests)))
            stored = await self._stored_keys(conn, requests)
            await self._load_heads(conn, requests)
            planned: list[StoreError | tuple[int, int]] = []
            staged: dict[str, Head] = {}
            rows: list[EventRow] = []
            for request in requests:
                planned.append(self._stage(request, stored, staged, rows))
            done = [(r, p) for r, p in zip(requests, planned, strict=True) if isinstance(p, tuple)]
            positions: list[int] = []
            if rows:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", POSITION_LOCK)
                columns = [list(c) for c in zip(*rows, strict=True)]
                positions = [r[0] for r in await conn.fetch(INSERT_EVENTS, *columns)]
            await _insert_keys(conn, [r for r, _ in done])
            await _upsert_snapshots(conn, [r for r, _ in done])
            rows_by_stream = {r[0]: r[5] for r, _ in done if r[5] is not None}
            readers = await postgres_catalog.upsert(conn, rows_by_stream.values(), self.readers)
            marks = await self._mark_catalogued(conn, [r for r, _ in done])
            if fault is not None:
                raise fault
        except (asyncpg.UniqueViolationError, Fenced):
            await _rollback(transaction)
            raise
        except Exception as exc:
            await _rollback(transaction)
            return self._failed(requests, storage_failure(exc))
        committing = time.perf_counter()
        try:
            await transaction.commit()
        except LOST as exc:  # the commit may or may not have reached the server
            unknown = OutcomeUnknown(f"connection lost while committing; outcome unknown: {exc}")
            return self._failed(requests, unknown)
        except Exception as exc:  # refused by the server: rolled back
            await _rollback(transaction)
            return self._failed(requests, storage_failure(exc))
        self.stats.committed(len(requests), started, committing, time.perf_counter())
        bounded_update(self.heads, staged, self.max_cached_streams)
        bounded_update(self.marks, marks, self.max_cached_streams)
        bounded_update(self.readers, readers, self.max_cached_streams)
        results: list[Outcome] = []
        for request, outcome in zip(requests, planned, strict=True):
            if isinstance(outcome, StoreError):
                results.append(outcome)
                continue
            end, last_seq = outcome  # a keys-only append has no position of its own: 0
            results.append(AppendResult(last_seq, positions[end - 1] if request[2] else 0))
            self.stats.appends += 1
            self.stats.events += len(request[2])
        return results

    def _failed(self, requests: Sequence[Request], error: StoreError) -> list[Outcome]:
        self._forget(requests)
        self.stats.failed_batches += 1
        return [error for _ in requests]

    async def _stored_keys(
        self, conn: asyncpg.Connection, requests: Sequence[Request]
    ) -> set[tuple[str, str, str]]:
        keys = [k for r in requests for k in r[3]]
        if not keys:
            return set()
        found = await conn.fetch(
            SELECT_KEYS, [k.scope for k in keys], [k.user_id for k in keys], [k.key for k in keys]
        )
        return {(row[0], row[1], row[2]) for row in found}

    async def _load_heads(self, conn: asyncpg.Connection, requests: Sequence[Request]) -> None:
        """Load, in one query, the heads of the streams not cached or cached at another seq
        than their first append of the batch expects (maybe stale: ask the database)."""
        first: dict[str, int] = {}
        for stream_id, expected_seq, *_ in requests:
            first.setdefault(stream_id, expected_seq)
        wanted = [s for s, seq in first.items() if self.heads.get(s, (None,))[0] != seq]
        if not wanted:
            return
        found = {row[0]: (row[1], row[2]) for row in await conn.fetch(SELECT_HEADS, wanted)}
        for stream_id in wanted:
            self.heads[stream_id] = found.get(stream_id, (0, GENESIS_HASH))
            self.readers.pop(stream_id, None)  # another writer may have changed them too

    def _stage(
        self,
        request: Request,
        stored: set[tuple[str, str, str]],
        staged: dict[str, Head],
        rows: list[EventRow],
    ) -> StoreError | tuple[int, int]:
        """Chain one request's events after its stream's head; the end index in ``rows`` and
        the stream's seq after them. Its keys are checked first."""
        stream_id, _, _, keys, *_ = request
        new_keys = [(k.scope, k.user_id, k.key) for k in keys]
        if len(set(new_keys)) != len(new_keys) or any(k in stored for k in new_keys):
            return DuplicateKey(f"an idempotency key of this append to {stream_id!r} is stored")
        head = staged.get(stream_id) or self.heads.get(stream_id, (0, GENESIS_HASH))
        chained = chain_onto(request, head, rows)
        if isinstance(chained, StoreError):
            return chained
        staged[stream_id] = chained
        stored.update(new_keys)  # a later append of the batch with one of them is refused
        return len(rows), chained[0]

    async def _mark_catalogued(
        self, conn: asyncpg.Connection, done: Sequence[Request]
    ) -> dict[str, bool]:
        """Mark the streams whose last append of the batch (with events) carried no catalog
        row, unmark those whose did; only where the mark changes. Returns the marks written."""
        last = {r[0]: r[5] is None for r in done if r[2]}
        changed = {sid: marked for sid, marked in last.items() if self.marks.get(sid) != marked}
        await postgres_catalog.mark(
            conn,
            caught_up=[sid for sid, marked in changed.items() if not marked],
            behind=[sid for sid, marked in changed.items() if marked],
        )
        return changed

    def _forget(self, requests: Sequence[Request]) -> None:
        for request in requests:
            self.heads.pop(request[0], None)
            self.marks.pop(request[0], None)
            self.readers.pop(request[0], None)


async def _insert_keys(conn: asyncpg.Connection, done: Sequence[Request]) -> None:
    keys = [(k, r[0]) for r in done for k in r[3]]
    if keys:
        columns = list(zip(*((k.scope, k.user_id, k.key, k.fingerprint, k.seq, k.result, sid)
                             for k, sid in keys), strict=True))  # fmt: skip
        await conn.execute(INSERT_KEYS, *(list(c) for c in columns))


async def _upsert_snapshots(conn: asyncpg.Connection, done: Sequence[Request]) -> None:
    latest = {r[0]: r[4] for r in done if r[4] is not None}  # one row per stream: the last
    if latest:
        await conn.execute(
            UPSERT_SNAPSHOTS,
            list(latest),
            [s.seq for s in latest.values()],
            [s.version for s in latest.values()],
            [s.data for s in latest.values()],
        )


def _refusal(request: Request, exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    if getattr(exc, "constraint_name", None) == "command_keys_pkey":
        return DuplicateKey(f"an idempotency key of this append to {request[0]!r} is stored")
    return stale(request, "another writer took its seq")


async def _rollback(transaction: asyncpg.transaction.Transaction) -> None:
    """Roll back if the connection still can (a lost one has rolled back on the server)."""
    with contextlib.suppress(Exception):
        await transaction.rollback()

"""The production `EventStore` and `Accounts`: one SQLite file in WAL mode, through aiosqlite.

Two connections, each with its own thread (aiosqlite's model): the *writer* takes every append,
batched by a single writer task (group commit, see `sqlite_writer`); the *reader* serves reads,
which WAL lets run while a batch is being committed, so a replay never waits for the disk.

``read_only=True`` opens only the reader, through a ``mode=ro`` URI: no migration, no writer task,
no write lock, so an inspecting command can run beside a ``serve`` daemon (or on a file it may
not write) and leaves the database as it found it. Each read is its own read transaction, so a
read-only store still sees what other processes commit later.

Durability: with ``durable=True`` (the default) the writer uses ``synchronous=FULL``, so the WAL is
fsynced at every commit and `append` returns only once its events survive a power cut. This is the
only module that imports aiosqlite.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Self, TypeVar, cast

import aiosqlite

from auctionactors.errors import (
    StorageUnavailable,
    StoreError,
)
from auctionactors.store import (
    lock,
    sqlite_accounts,
    sqlite_catalog,
    sqlite_deliveries,
    sqlite_reads,
)
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
from auctionactors.store.batching import (
    Outcome,
    QueueHooks,
    Request,
    WriteQueue,
    WriterStats,
    queued_append,
)
from auctionactors.store.sqlite_setup import (
    probe,
    read_only_uri,
    setup_reader,
    setup_writer,
    storage_error,
)
from auctionactors.store.sqlite_writer import BatchWriter

T = TypeVar("T")


async def _on_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn(raw_connection)`` on the connection's own thread, in one hop.

    A batch or a 100k-row read costs one round trip this way instead of one per statement.
    aiosqlite (0.22) has no public call for it; ``_execute`` is the internal that all its own
    methods use, and the raw connection may only be touched on that thread.
    """
    proxy = cast(Any, conn)
    result: T = await proxy._execute(lambda: fn(proxy._conn))
    return result


class SqliteEventStore(
    QueueHooks,
    sqlite_catalog.CatalogReads,
    sqlite_accounts.AccountsStore,
    sqlite_deliveries.DeliveriesStore,
):
    """Event streams and accounts in one SQLite file; open with `SqliteEventStore.open`.

    ``read_only`` is True when it was opened without a writer: appends and account changes then
    raise `StoreError`. ``stats`` counts commits and batch sizes (group commit at work);
    ``fail_next_append`` makes the next write batch fail inside its transaction, just before
    COMMIT, and ``write_gate`` (when set) holds every batch until the event is set: both for
    fault-injection tests (a slow disk, a failing one).
    """

    def __init__(
        self,
        path: str,
        writer: aiosqlite.Connection | None,
        reader: aiosqlite.Connection,
        *,
        durable: bool,
        group_commit: bool,
        lock_fd: int | None = None,
    ) -> None:
        """Use `open`; this only wires up already configured connections (no writer: read-only)."""
        self.path = path
        self.durable = durable
        self.group_commit = group_commit
        self.read_only = writer is None
        self._lock_fd = lock_fd
        self._writer = writer
        self._reader = reader
        self._batch_writer = BatchWriter()
        self._closed = False
        self._queue: WriteQueue | None = None
        if writer is not None:
            self._queue = WriteQueue(
                self._write, group_commit=group_commit, name=f"sqlite-writer {path}"
            )

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durable: bool = True,
        group_commit: bool = True,
        busy_timeout: float = 5.0,
        read_only: bool = False,
        exclusive: bool = False,
    ) -> Self:
        """Open (creating or migrating) the database at ``path``.

        ``read_only=True`` opens an existing database with one read-only connection and changes
        nothing: no file is created, no migration runs, and a schema older or newer than this
        code raises `StoreError` instead. ``durable=False`` (``synchronous=NORMAL``: a commit may
        be lost on power failure) and ``group_commit=False`` (one transaction per append) exist
        for benchmark comparisons.
        ``busy_timeout`` is how long a statement waits for another process's lock before the
        operation fails with `StorageUnavailable`.
        ``exclusive=True`` (what ``serve`` uses) makes this the only exclusive store of the file:
        it takes an advisory lock (``flock``) held until `close`, and raises `StoreLocked` if
        another process holds it. Other opens (read-only ones, ``user add``, ``backup``) are not
        held back: SQLite's own locks are POSIX locks, independent of ``flock`` on Linux.
        """
        path = os.fspath(path)
        if path in ("", ":memory:") or path.startswith("file:"):
            raise StoreError("SqliteEventStore needs a file path (its two connections share it)")
        busy_ms = max(0, int(busy_timeout * 1000))
        if read_only:
            reader = await _connect(read_only_uri(path), uri=True)
            try:
                await _on_thread(reader, partial(setup_reader, busy_ms=busy_ms, check_version=True))
            except BaseException:
                await reader.close()
                raise
            return cls(path, None, reader, durable=durable, group_commit=group_commit)
        lock_fd = lock.acquire(path) if exclusive else None
        try:
            writer = await _connect(path)
            try:
                await _on_thread(writer, partial(setup_writer, durable=durable, busy_ms=busy_ms))
                reader = await _connect(path)
            except BaseException:
                await writer.close()
                raise
            try:
                await _on_thread(reader, partial(setup_reader, busy_ms=busy_ms))
            except BaseException:
                await reader.close()
                await writer.close()
                raise
        except BaseException:
            lock.release(lock_fd)
            raise
        return cls(
            path, writer, reader, durable=durable, group_commit=group_commit, lock_fd=lock_fd
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def stats(self) -> WriterStats:
        return self._batch_writer.stats

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

        If the caller is cancelled while waiting, the append may still be committed.
        """
        return await queued_append(
            self._queue, stream_id, expected_seq, events, keys, snapshot, catalog
        )

    async def _write(self, batch: list[Request], fault: BaseException | None) -> list[Outcome]:
        try:
            return await _on_thread(
                self._writable(), partial(self._batch_writer.write, requests=batch, fault=fault)
            )
        except Exception as exc:  # the connection itself is gone, or a bug: fail, keep running
            return [storage_error(exc) for _ in batch]

    # -- reads -----------------------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """See `EventStore.read_stream`: one query and one hop to the reader thread; rows become
        `StoredEvent`s in C (`starmap`), so a 100k-event replay costs about 0.1 s here."""
        check_limit(limit)
        if limit == 0:
            return []
        read = partial(sqlite_reads.stream, stream_id=stream_id, from_seq=from_seq, to_seq=to_seq)
        return await self._read(partial(read, limit=limit))

    async def read_all(
        self, *, from_position: int = 1, limit: int | None = None
    ) -> list[StoredEvent]:
        """See `EventStore.read_all`.

        SQLite has one writer at a time and a position is taken inside the writing transaction,
        so positions are in commit order: a reader that tails from its last position + 1 never
        misses an event committed later with a smaller position (a PostgreSQL backend must
        take care of that itself).
        """
        check_limit(limit)
        if limit == 0:
            return []
        return await self._read(
            partial(sqlite_reads.all_events, from_position=from_position, limit=limit)
        )

    async def find_keys(
        self, scope: str, user_id: str, keys: Sequence[str]
    ) -> dict[str, KeyRecord]:
        """See `EventStore.find_keys`: one indexed lookup per key, in one hop."""
        wanted = list(dict.fromkeys(keys))
        read = partial(sqlite_reads.find_keys, scope=scope, user_id=user_id)
        return await self._read(partial(read, keys=wanted))

    async def latest_snapshot(self, stream_id: str) -> Snapshot | None:
        return await self._read(partial(sqlite_reads.snapshot, stream_id=stream_id))

    async def tails(self, stream_ids: Sequence[str]) -> list[StreamTail]:
        """See `EventStore.tails`: one hop to the reader thread for them all."""
        return await self._read(partial(sqlite_reads.tails, stream_ids=list(stream_ids)))

    async def highest_seq(self, stream_id: str) -> int:
        return await self._read(partial(sqlite_reads.highest_seq, stream_id=stream_id))

    async def streams(self) -> list[StreamInfo]:
        return await self._read(sqlite_reads.streams)

    async def check(self) -> list[Damage]:
        """See `EventStore.check`; streams the whole table through `check_events`."""
        return await self._read(sqlite_reads.check)

    async def pragmas(self) -> dict[str, object]:
        """The writer connection's settings that durability depends on, for tests and operators
        (the reader's, when the store is read-only)."""
        return await self._run(self._writer or self._reader, sqlite_reads.pragmas)

    # -- lifecycle -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Finish every pending append, then close both connections (a read-only store has only
        the reader). Idempotent."""
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
                    await self._reader.close()
                finally:  # only now: closing a descriptor of the file drops SQLite's locks
                    lock.release(self._lock_fd)
                    self._lock_fd = None

    async def backup(self, dest: str | os.PathLike[str]) -> None:
        """Write a consistent copy of the whole database (events and accounts) to ``dest``
        while the store stays in use: SQLite's online backup, taken in one step from the
        reader's snapshot, so appends committed meanwhile are either wholly in it or not."""
        await self._read(partial(sqlite_reads.backup, target_path=os.fspath(dest)))

    def _writable(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError(READ_ONLY_MESSAGE)
        return self._writer

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(self._reader, fn)

    async def _write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer's connection (queued with the appends' batches)."""
        return await self._run(self._writable(), fn)

    async def _run(self, conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("event store is closed")
        try:
            return await _on_thread(conn, fn)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc


async def _connect(path: str, *, uri: bool = False) -> aiosqlite.Connection:
    try:
        # Probe with plain sqlite3 first: when aiosqlite's own connect fails, it leaves its
        # thread to report to an event loop that may be closed by then (aiosqlite 0.22).
        await asyncio.to_thread(probe, path, uri)
        return await aiosqlite.connect(path, isolation_level=None, uri=uri)
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot open {path}: {exc}") from exc

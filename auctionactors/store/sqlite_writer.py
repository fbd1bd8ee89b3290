"""The SQLite write path: a whole batch of appends in one transaction, one commit, one fsync.

`BatchWriter` is plain synchronous `sqlite3` code. `SqliteEventStore` runs each `write` call on
the writer connection's own thread, in one hop, with everything that queued up while the previous
batch was being committed; so the cost of an fsync is shared by every append waiting for it
(group commit), and the event loop never blocks on the disk.

To avoid a SELECT per append, the writer caches each stream's head (highest seq, last hash). The
cache is only ever touched on the writer thread, one batch at a time. It can go stale only when
another process writes to the same file; then the stale append collides with the
``UNIQUE (stream_id, seq)`` constraint, and the batch is retried one append per transaction with
fresh heads, so only the truly stale appends fail.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import suppress

from auctionactors.errors import DuplicateKey, OutcomeUnknown, StoreError
from auctionactors.store import sqlite_catalog
from auctionactors.store.base import (
    GENESIS_HASH,
    AppendResult,
    storage_failure,
)
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

INSERT_EVENT = "INSERT INTO events (stream_id, seq, type, data, hash) VALUES (?, ?, ?, ?, ?)"
SELECT_HEAD = "SELECT seq, hash FROM events WHERE stream_id = ? ORDER BY seq DESC LIMIT 1"
SELECT_KEY = "SELECT 1 FROM command_keys WHERE scope = ? AND user_id = ? AND key = ?"
INSERT_KEY = """INSERT INTO command_keys (scope, user_id, key, fingerprint, seq, result, stream_id)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""
# The latest snapshot of a stream replaces the one before (one row per stream).
UPSERT_SNAPSHOT = (
    "INSERT OR REPLACE INTO snapshots (stream_id, seq, version, data) VALUES (?, ?, ?, ?)"
)

# Errors of COMMIT after which SQLite has rolled the transaction back (its documented automatic
# rollbacks, I/O errors aside): the append is certainly not written.
ROLLED_BACK = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
                         sqlite3.SQLITE_NOMEM})  # fmt: skip


class BatchWriter:
    """Writes batches of appends on the writer connection; every method runs on its thread."""

    def __init__(self, max_cached_streams: int = 200_000) -> None:
        self.heads: dict[str, Head] = {}
        # Whether each stream is marked `uncatalogued` (its last append carried no catalog row),
        # as this writer last wrote it: a mark is written only when it changes, not with every
        # append (a statement per stream per batch costs a quarter of the throughput).
        self.marks: dict[str, bool] = {}
        # Each stream's catalog readers as this writer last committed them: unchanged (nearly
        # always), they are not read back to compare at every append.
        self.readers: dict[str, sqlite_catalog.Readers] = {}
        self.max_cached_streams = max_cached_streams
        self.stats = WriterStats()

    def write(
        self,
        conn: sqlite3.Connection,
        requests: Sequence[Request],
        fault: BaseException | None = None,
    ) -> list[Outcome]:
        """One outcome per request, in order. Never raises for storage trouble.

        ``fault``, if given, is raised inside the transaction just before COMMIT, so that tests
        exercise the real rollback path (an `sqlite3.IntegrityError` exercises the fallback).
        """
        try:
            return self._transaction(conn, requests, fault)
        except sqlite3.IntegrityError:
            self._forget(requests)
            self.stats.fallbacks += 1
            if len(requests) == 1:
                return [stale(requests[0], "another writer took its seq")]
            return [self._alone(conn, request) for request in requests]

    def _alone(self, conn: sqlite3.Connection, request: Request) -> Outcome:
        try:
            return self._transaction(conn, [request], None)[0]
        except sqlite3.IntegrityError:
            self._forget([request])
            return stale(request, "another writer took its seq")

    def _transaction(
        self, conn: sqlite3.Connection, requests: Sequence[Request], fault: BaseException | None
    ) -> list[Outcome]:
        """Stage, insert and commit ``requests``; re-raise only an IntegrityError (rolled back)."""
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            planned: list[StoreError | tuple[int, int]] = []
            staged: dict[str, Head] = {}
            rows: list[EventRow] = []
            key_rows: list[tuple[str, str, str, bytes, int, bytes, str]] = []
            for request in requests:
                planned.append(self._stage(conn, request, staged, rows, key_rows))
            snapshot_rows = {  # of the appends staged; the latest per stream
                r[0]: (r[0], r[4].seq, r[4].version, r[4].data)
                for r, outcome in zip(requests, planned, strict=True)
                if r[4] is not None and not isinstance(outcome, StoreError)
            }
            catalog_rows = {  # likewise: the latest row per stream
                r[0]: r[5]
                for r, outcome in zip(requests, planned, strict=True)
                if r[5] is not None and not isinstance(outcome, StoreError)
            }
            last_position = 0
            if rows:
                conn.executemany(INSERT_EVENT, rows)
                last_position = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            if key_rows:
                conn.executemany(INSERT_KEY, key_rows)
            if snapshot_rows:
                conn.executemany(UPSERT_SNAPSHOT, snapshot_rows.values())
            readers: dict[str, sqlite_catalog.Readers] = {}
            if catalog_rows:
                readers = sqlite_catalog.upsert(conn, catalog_rows.values(), self.readers)
            marks = self._mark_catalogued(conn, requests, planned)
            if fault is not None:
                raise fault
        except sqlite3.IntegrityError:
            _rollback(conn)
            raise
        except Exception as exc:
            return self._failed(conn, requests, storage_failure(exc))
        committing = time.perf_counter()
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if conn.in_transaction or (code is not None and code & 0xFF in ROLLED_BACK):
                # COMMIT did not start (busy), or SQLite rolled it back (a full disk): nothing
                # was written.
                return self._failed(conn, requests, storage_failure(exc))
            # Another error while committing (an I/O error while syncing may leave the commit in
            # the WAL, to be recovered at the next open): written or not, unknown.
            unknown = OutcomeUnknown(f"storage failed while committing; outcome unknown: {exc}")
            return self._failed(conn, requests, unknown)
        self.stats.committed(len(requests), started, committing, time.perf_counter())
        self._remember(staged)
        bounded_update(self.marks, marks, self.max_cached_streams)
        bounded_update(self.readers, readers, self.max_cached_streams)
        first_position = last_position - len(rows) + 1
        results: list[Outcome] = []
        for (_, _, events, *_), outcome in zip(requests, planned, strict=True):
            if isinstance(outcome, StoreError):
                results.append(outcome)
                continue
            end, last_seq = outcome  # a keys-only append has no position of its own: 0
            results.append(AppendResult(last_seq, first_position + end - 1 if events else 0))
            self.stats.appends += 1
            self.stats.events += len(events)
        return results

    def _failed(
        self, conn: sqlite3.Connection, requests: Sequence[Request], error: StoreError
    ) -> list[Outcome]:
        """The batch failed as a whole (rolled back if still open): ``error`` for each."""
        _rollback(conn)
        self._forget(requests)
        self.stats.failed_batches += 1
        return [error for _ in requests]

    def _stage(
        self,
        conn: sqlite3.Connection,
        request: Request,
        staged: dict[str, Head],
        rows: list[EventRow],
        key_rows: list[tuple[str, str, str, bytes, int, bytes, str]],
    ) -> StoreError | tuple[int, int]:
        """Chain one request's events after its stream's head; the end index in ``rows`` and the
        stream's seq after them. Its keys are checked first (a stored one refuses the request
        alone: `DuplicateKey`)."""
        stream_id, expected_seq, _, keys, *_ = request
        new_keys = [(k.scope, k.user_id, k.key) for k in keys]
        staged_keys = {row[:3] for row in key_rows}
        if len(set(new_keys)) != len(new_keys) or any(
            k in staged_keys or conn.execute(SELECT_KEY, k).fetchone() is not None for k in new_keys
        ):
            return DuplicateKey(f"an idempotency key of this append to {stream_id!r} is stored")
        head = staged.get(stream_id)
        if head is None:
            head = self.heads.get(stream_id)
            if head is None or head[0] != expected_seq:
                # Unknown, or maybe stale because another process wrote: ask the database,
                # which we hold the write lock on, so the answer is authoritative.
                head = self._load_head(conn, stream_id)
        chained = chain_onto(request, head, rows)
        if isinstance(chained, StoreError):
            return chained
        staged[stream_id] = chained
        key_rows.extend(
            (k.scope, k.user_id, k.key, k.fingerprint, k.seq, k.result, stream_id) for k in keys
        )
        return len(rows), chained[0]

    def _load_head(self, conn: sqlite3.Connection, stream_id: str) -> Head:
        row = conn.execute(SELECT_HEAD, (stream_id,)).fetchone()
        head: Head = (0, GENESIS_HASH) if row is None else (row[0], row[1])
        self.heads[stream_id] = head
        self.readers.pop(stream_id, None)  # another writer may have changed them too
        return head

    def _remember(self, staged: dict[str, Head]) -> None:
        heads = self.heads
        heads.update(staged)
        while len(heads) > self.max_cached_streams:  # oldest first; a reload is one SELECT
            del heads[next(iter(heads))]

    def _forget(self, requests: Sequence[Request]) -> None:
        for request in requests:
            self.heads.pop(request[0], None)
            self.marks.pop(request[0], None)
            self.readers.pop(request[0], None)

    def _mark_catalogued(
        self, conn: sqlite3.Connection, requests: Sequence[Request], planned: Sequence[object]
    ) -> dict[str, bool]:
        """Mark the streams whose last append of the batch (with events) carried no catalog row,
        unmark those whose did; only where the mark changes. The marks written are returned."""
        last = {
            r[0]: r[5] is None
            for r, outcome in zip(requests, planned, strict=True)
            if r[2] and isinstance(outcome, tuple)
        }
        changed = {sid: marked for sid, marked in last.items() if self.marks.get(sid) != marked}
        sqlite_catalog.mark(
            conn,
            caught_up=[sid for sid, marked in changed.items() if not marked],
            behind=[sid for sid, marked in changed.items() if marked],
        )
        return changed


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; SQLite rolls back by itself on some I/O errors."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # if broken, the next BEGIN will tell its callers
            conn.execute("ROLLBACK")

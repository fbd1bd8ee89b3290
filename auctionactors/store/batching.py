"""Group commit, shared by the SQLite and the PostgreSQL store: appends queue up while the previous
batch is being committed, then one writer task writes them all in one transaction (one commit,
one fsync for them all) and answers each append with its own outcome.

`WriteQueue` is the queue and the writer task; each store gives it the function that writes one
batch (`WriteBatch`). The fault-injection hooks the tests use (``fail_next_append``,
``write_gate``) live here, once for both stores.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from auctionactors.errors import ConcurrencyError, OutcomeUnknown, StorageUnavailable, StoreError
from auctionactors.store.base import (
    AppendResult,
    CatalogEntry,
    KeyRecord,
    NewEvent,
    Snapshot,
    chain_hash,
    check_append,
)

T = TypeVar("T")

# What a writer needs of one queued append: (stream_id, expected_seq, events, keys, snapshot,
# catalog, ...); the rest of the tuple (the caller's future) belongs to the event loop and is not
# touched by the writers. Snapshot and catalog row were validated before they were queued.
Request = tuple[
    str, int, Sequence[NewEvent], Sequence[KeyRecord], Snapshot | None, CatalogEntry | None, object
]
Outcome = AppendResult | StoreError
# A stream's head: its last seq and that event's chain hash.
Head = tuple[int, bytes]
# One event as the writers insert it: (stream_id, seq, type, data, hash).
EventRow = tuple[str, int, str, bytes, bytes]
# Writes a batch (in one transaction); one outcome per request, in order. ``fault``, if given,
# is raised inside the transaction just before COMMIT (a test's failing disk).
WriteBatch = Callable[[list[Request], BaseException | None], Awaitable[list[Outcome]]]


@dataclass
class WriterStats:
    """What the writer did, for tests (does group commit batch?) and for operators."""

    commits: int = 0
    appends: int = 0
    events: int = 0
    failed_batches: int = 0
    fallbacks: int = 0
    max_batch: int = 0
    batch_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=1000))
    # Seconds from BEGIN to the end of COMMIT (the fsync included) of recent batches.
    commit_latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    # Called on the writer's thread after each commit with (appends in the batch, seconds from
    # BEGIN to the end of COMMIT, seconds of the COMMIT statement alone: the fsync), for
    # whoever exports histograms (`/metrics`); None: nobody.
    observe: Callable[[int, float, float], None] | None = None

    def committed(self, requests: int, started: float, committing: float, now: float) -> None:
        """A batch of ``requests`` appends committed: BEGIN at ``started``, COMMIT sent at
        ``committing``, done at ``now`` (``time.perf_counter`` instants)."""
        self.commits += 1
        self.commit_latencies_s.append(now - started)
        self.batch_sizes.append(requests)
        self.max_batch = max(self.max_batch, requests)
        if self.observe is not None:
            self.observe(requests, now - started, now - committing)


def bounded_update(cache: dict[str, T], new: dict[str, T], limit: int) -> None:
    """Update ``cache`` with ``new``, then drop its oldest entries beyond ``limit``."""
    cache.update(new)
    while len(cache) > limit:
        del cache[next(iter(cache))]


def stale(request: Request, why: str) -> ConcurrencyError:
    return ConcurrencyError(
        f"stale append to stream {request[0]!r} at expected seq {request[1]}: {why}"
    )


def chain_onto(request: Request, head: Head, rows: list[EventRow]) -> ConcurrencyError | Head:
    """Chain ``request``'s events after ``head``, its stream's head: their rows are appended to
    ``rows``; the stream's new head, or `stale` if the head is not at the expected seq."""
    stream_id, expected_seq, events, *_ = request
    seq, prev_hash = head
    if seq != expected_seq:
        return stale(request, f"it is at seq {seq}")
    for event in events:
        seq += 1
        prev_hash = chain_hash(prev_hash, stream_id, seq, event.type, event.data)
        rows.append((stream_id, seq, event.type, event.data, prev_hash))
    return seq, prev_hash


class WriteQueue:
    """The queue of appends and the one task that writes them, a batch at a time.

    ``group_commit=False`` writes one transaction per append (for benchmark comparisons).
    ``fail_next_append`` makes the next batch fail inside its transaction, just before COMMIT;
    ``write_gate`` (when set) holds every batch until the event is set: both for tests.
    """

    def __init__(self, write: WriteBatch, *, group_commit: bool, name: str) -> None:
        self.group_commit = group_commit
        self.fail_next_append: BaseException | None = None
        self.write_gate: asyncio.Event | None = None
        self._write = write
        self._pending: list[Request] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=name)

    async def submit(self, request: Request) -> AppendResult:
        """Queue ``request`` (its last item is ignored: replaced by a future of our own) and
        wait for its outcome. If the caller is cancelled, the append may still be committed."""
        if self._closing or self._task.done():
            raise StorageUnavailable("event store is closed")
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._pending.append((*request[:6], future))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Write everything queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if not self._task.cancelled():
            await self._task

    async def _run(self) -> None:
        batch: list[Request] = []
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                if self.write_gate is not None:
                    await self.write_gate.wait()
                batch, self._pending = self._pending, []
                fault, self.fail_next_append = self.fail_next_append, None
                if self.group_commit:
                    await self._answer(batch, fault)
                else:
                    for request in batch:
                        await self._answer([request], fault)
                        fault = None
                batch = []
        finally:  # cancelled (event loop shutting down): nobody may wait forever
            for request in [*batch, *self._pending]:
                settle(request, OutcomeUnknown("event store is closed; the append may be lost"))
            self._pending = []

    async def _answer(self, batch: list[Request], fault: BaseException | None) -> None:
        outcomes = await self._write(batch, fault)
        for request, outcome in zip(batch, outcomes, strict=True):
            settle(request, outcome)


async def queued_append(
    queue: WriteQueue | None,
    stream_id: str,
    expected_seq: int,
    events: Sequence[NewEvent],
    keys: Sequence[KeyRecord],
    snapshot: Snapshot | None,
    catalog: CatalogEntry | None,
) -> AppendResult:
    """`EventStore.append` of a store with a writer task: checked (`check_append`; no
    ``queue``: the store is read-only), queued to ``queue``, answered after the commit."""
    check_append(
        stream_id, expected_seq, events, keys, snapshot, catalog, writable=queue is not None
    )
    assert queue is not None
    return await queue.submit((stream_id, expected_seq, events, keys, snapshot, catalog, None))


def settle(request: Request, outcome: AppendResult | BaseException) -> None:
    future = cast("asyncio.Future[AppendResult]", request[6])
    if future.done():  # the caller was cancelled
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class QueueHooks:
    """A store's test hooks, forwarded to its `WriteQueue` (``_queue``; None when it has no
    writer, and then they do nothing)."""

    _queue: WriteQueue | None

    @property
    def fail_next_append(self) -> BaseException | None:
        return None if self._queue is None else self._queue.fail_next_append

    @fail_next_append.setter
    def fail_next_append(self, fault: BaseException | None) -> None:
        if self._queue is not None:
            self._queue.fail_next_append = fault

    @property
    def write_gate(self) -> asyncio.Event | None:
        return None if self._queue is None else self._queue.write_gate

    @write_gate.setter
    def write_gate(self, gate: asyncio.Event | None) -> None:
        if self._queue is not None:
            self._queue.write_gate = gate

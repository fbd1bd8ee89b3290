"""The central timer heap: the next deadline of every auction that has one, live or passivated.

An actor is loaded only when a message or a deadline needs it, so deadlines cannot live in the
actors' own timers: they live here, one entry per auction (its next stored deadline, or a retry
time after a storage failure), armed with a single clock timer for the earliest. At start-up
the supervisor fills it from the catalog (`EventStore.scheduled`); from then on each actor sets
its own auction's entry after every message. When an entry falls due it is removed and the
supervisor is asked to wake the auction (loading its actor if it is passivated), which acts on
the deadline and sets its next one.

Entries cost a dict slot and a heap tuple each (about 200 bytes): a passivated open auction
costs little more than that.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

from auctionactors.domain.timestamps import Instant
from auctionactors.runtime.clock import Clock, TimerHandle


class Scheduler:
    def __init__(self, clock: Clock, wake: Callable[[str], None]) -> None:
        self._clock = clock
        self._wake = wake
        self._at: dict[str, Instant] = {}
        # (at, auction_id); entries that no longer match ``_at`` are skipped (lazy deletion).
        self._heap: list[tuple[Instant, str]] = []
        self._timer: TimerHandle | None = None
        self._timer_at: Instant | None = None
        self._stopped = False

    def __len__(self) -> int:
        return len(self._at)

    def get(self, auction_id: str) -> Instant | None:
        return self._at.get(auction_id)

    def load(self, entries: Iterable[tuple[str, Instant]]) -> None:
        """Add many entries at once (start-up): one heapify, one timer. Entries already due
        (deadlines passed while the server was down) are woken now, before this returns."""
        for auction_id, at in entries:
            self._at[auction_id] = at
        self._heap = [(at, a) for a, at in self._at.items()]
        heapq.heapify(self._heap)
        self._fire()

    def set(self, auction_id: str, at: Instant | None) -> None:
        """The auction's next wake-up: ``at``, or none."""
        if self._at.get(auction_id) == at:
            return
        if at is None:
            del self._at[auction_id]
            self._compact()
            return
        self._at[auction_id] = at
        heapq.heappush(self._heap, (at, auction_id))
        self._compact()
        if self._timer_at is None or at < self._timer_at:
            self._arm()

    def drop(self, which: Callable[[str], bool]) -> None:
        """Forget the entries of the auctions ``which`` selects (cluster mode: partitions this
        node no longer owns; their new owner loads them)."""
        for auction_id in [a for a in self._at if which(a)]:
            del self._at[auction_id]
        self._compact()

    def stop(self) -> None:
        """Fire nothing more (shutdown)."""
        self._stopped = True
        self._cancel()

    def _compact(self) -> None:
        """Rebuild the heap when stale entries outnumber the live ones (a hot auction's soft
        close moves its deadline often), so its size stays proportional to the auctions."""
        if len(self._heap) > 2 * len(self._at) + 64:
            self._heap = [(at, a) for a, at in self._at.items()]
            heapq.heapify(self._heap)

    def _arm(self) -> None:
        self._cancel()
        while self._heap and self._at.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if self._heap and not self._stopped:
            self._timer_at = self._heap[0][0]
            self._timer = self._clock.call_at(self._timer_at, self._fire)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self._clock.now()
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            at, auction_id = heapq.heappop(self._heap)
            if self._at.get(auction_id) == at:
                del self._at[auction_id]
                due.append(auction_id)
        for auction_id in due:
            if not self._stopped:
                self._wake(auction_id)
        self._arm()

"""A deadline that falls while the storage fails is retried every `STORAGE_RETRY_S`, not in a
busy loop (found with a full disk under a real ``serve``: thousands of attempts and log lines a
second), and acted on once the storage works, with no extra time.

On the manual clock a timer armed for a past instant fires at the next `advance`, even
``advance(0)``: so each ``advance(0)`` below is a chance for the actor to spin, and must not
produce another attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.deadlines import STORAGE_RETRY_S
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import NewEvent
from auctionactors.store.memory import MemoryEventStore
from tests.runtime.conftest import BUYER, FAST, T0, terms


async def test_a_deadline_is_retried_calmly_while_storage_fails() -> None:
    store, clock = MemoryEventStore(), ManualClock(T0)
    sup = Supervisor(store, clock, config=FAST)
    await sup.start()
    try:
        reply = await sup.create_auction(BUYER, terms(60, duration_s=600))
        auction_id = reply.fields["auction_id"]
        attempts = 0
        failing = True

        def disk(stream_id: str, expected_seq: int, events: Sequence[NewEvent]) -> None:
            nonlocal attempts
            attempts += 1
            if failing:
                raise OSError(28, "No space left on device")

        store.before_append = disk
        clock.advance(60)  # the start falls due; writing it fails
        await sup.quiesce()
        assert attempts == 1
        for _ in range(5):
            clock.advance(0)
            await sup.quiesce()
        assert attempts == 1  # waiting for the retry, not spinning on the past deadline
        clock.advance(STORAGE_RETRY_S)
        await sup.quiesce()
        assert attempts == 2
        failing = False
        clock.advance(STORAGE_RETRY_S)
        await sup.quiesce()
        assert attempts == 3
        state = await sup.query(auction_id, lambda s: s)
        assert state is not None and state.status == "open"
        assert state.closes_at == T0 + 660 * SECOND  # from the stored start: no extra time
        assert sup.stats.storage_failures == 2 and sup.stats.restarts == 0
    finally:
        await sup.stop()

"""Runtime: actors, the supervisor, deadlines on the manual clock, crashes and quarantine.

Real tasks on a real event loop, the in-memory store (same contract as SQLite) and the manual
clock. Tests synchronise on replies and ``quiesce()``, never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import pytest

from auctionactors.domain.commands import (
    BidRequest,
    CancelAuction,
    PlaceBids,
    RevokeBid,
    SelectSolution,
)
from auctionactors.domain.events import AuctionEnded, BidPlaced
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import (
    ActorCrashed,
    CommandTimedOut,
    DomainError,
    StorageUnavailable,
    Unavailable,
)
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.publishing import Delivery, Update
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import (
    AppendResult,
    CatalogEntry,
    KeyRecord,
    NewEvent,
    Snapshot,
    StoredEvent,
)
from auctionactors.store.codec import decode_event
from auctionactors.store.memory import MemoryEventStore

from .conftest import ADMIN, BUYER, FAST, OUTSIDER, S1, S2, T0, terms


def bid(product: str, amount: int) -> PlaceBids:
    return PlaceBids(by=S1, bids=(BidRequest(product_id=product, amount=amount),))


def bid_as(caller_bids: PlaceBids, caller: object) -> PlaceBids:
    return PlaceBids(by=caller, bids=caller_bids.bids)  # type: ignore[arg-type]


async def open_auction(sup: Supervisor, clock: ManualClock, **kw: int) -> str:
    reply = await sup.create_auction(BUYER, terms(60, now=clock.now(), **kw))
    clock.advance(60)
    await sup.quiesce()
    return str(reply.fields["auction_id"])


async def state_of(sup: Supervisor, auction_id: str) -> AuctionState:
    state = await sup.query(auction_id, lambda s: s)
    assert state is not None
    return state


class CrashingStore(MemoryEventStore):
    """The real in-memory store, plus faults that are not storage errors (a bug, a crash)."""

    def __init__(self) -> None:
        super().__init__()
        self.crash_appends = 0
        self.crash_reads = 0

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
        if self.crash_appends:
            self.crash_appends -= 1
            raise RuntimeError("injected crash in append")
        return await super().append(
            stream_id,
            expected_seq,
            events,
            writer_token=writer_token,
            keys=keys,
            snapshot=snapshot,
            catalog=catalog,
        )

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        if self.crash_reads:
            self.crash_reads -= 1
            raise RuntimeError("injected crash in replay")
        return await super().read_stream(stream_id, from_seq=from_seq, to_seq=to_seq, limit=limit)


async def test_reply_only_after_events_are_durable(
    supervisor: Supervisor, store: MemoryEventStore, clock: ManualClock
) -> None:
    auction_id = await open_auction(supervisor, clock)
    reply = await supervisor.ask(auction_id, bid("p1", 200))
    stored = await store.read_stream(auction_id)
    assert stored[-1].seq == reply.seq
    placed = decode_event(stored[-1])
    assert isinstance(placed, BidPlaced)
    assert reply.fields == {"bid_ids": [placed.bid_id]}


async def test_clock_runs_an_untouched_auction_through_its_lifecycle(
    supervisor: Supervisor, clock: ManualClock
) -> None:
    reply = await supervisor.create_auction(BUYER, terms(60, duration_s=600))
    auction_id = reply.fields["auction_id"]
    assert (await state_of(supervisor, auction_id)).status == "pending"
    clock.advance(59)
    await supervisor.quiesce()
    assert (await state_of(supervisor, auction_id)).status == "pending"
    clock.advance(1)
    await supervisor.quiesce()
    state = await state_of(supervisor, auction_id)
    assert state.status == "open"
    assert state.closes_at == T0 + 660 * SECOND
    clock.advance(600)
    await supervisor.quiesce()
    state = await state_of(supervisor, auction_id)
    assert state.status == "decision"
    assert state.decision_closes_at == T0 + (660 + 900) * SECOND
    clock.advance(900)
    await supervisor.quiesce()
    assert supervisor.cell(auction_id) is None  # expired, final: passivated
    assert (await state_of(supervisor, auction_id)).status == "expired"


async def test_bid_after_closes_at_is_too_late_before_the_timer_fires(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    # Move the clock without firing timers, as if the timer were late.
    clock.set(T0 + 60 * SECOND + 600 * SECOND, fire_timers=False)
    with pytest.raises(DomainError) as refused:
        await sup.ask(auction_id, bid("p1", 200))
    assert refused.value.code == "too_late"
    assert refused.value.message == "auction moved to decision before the bid was received"
    state = await state_of(sup, auction_id)
    assert state.status == "decision"
    assert not state.bids
    await sup.stop()


async def test_subscribers_see_every_update_in_seq_order(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    seen: list[tuple[int, int, list[str]]] = []

    class Recorder:
        def prepare(self, update: Update) -> Delivery:
            seen.append((update.first_seq, update.seq, [type(e).__name__ for e in update.events]))
            return lambda: None

    sup = Supervisor(store, clock, config=FAST, subscribers=[Recorder()])
    auction_id = await open_auction(sup, clock)
    await sup.ask(auction_id, bid("p1", 200))
    await sup.ask(auction_id, bid_as(bid("p1", 175), S2))
    await sup.stop()
    assert [s[:2] for s in seen] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert seen[0][2] == ["AuctionCreated"]
    assert seen[1][2] == ["AuctionStarted"]
    assert seen[3][2] == ["BidPlaced"]


async def test_crash_restarts_by_replay_with_state_intact_and_queue_kept(
    clock: ManualClock,
) -> None:
    store = CrashingStore()
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    other_id = await open_auction(sup, clock)
    await sup.ask(auction_id, bid("p1", 300))
    before = await state_of(sup, auction_id)
    store.crash_appends = 1
    crashing = asyncio.ensure_future(sup.ask(auction_id, bid("p1", 250)))
    queued = asyncio.ensure_future(sup.ask(auction_id, bid_as(bid("p1", 275), S2)))
    with pytest.raises(ActorCrashed):
        await crashing
    after_queued = await queued  # handled by the restarted actor, not lost
    assert after_queued.seq == before.seq + 1
    state = await state_of(sup, auction_id)
    assert [b.amount for b in state.ranked("p1")] == [275, 300]
    assert sup.stats.restarts == 1
    # The other auction never noticed.
    await sup.ask(other_id, bid("p1", 100))
    assert sup.cell(other_id) is not None and sup.cell(other_id).restarts == 0  # type: ignore[union-attr]
    await sup.stop()


async def test_repeated_crashes_quarantine_then_revive(clock: ManualClock) -> None:
    store = CrashingStore()
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    healthy_id = await open_auction(sup, clock)
    store.crash_appends = 1
    store.crash_reads = FAST.max_restarts + 1  # every restart fails to replay
    with pytest.raises(ActorCrashed):
        await sup.ask(auction_id, bid("p1", 250))
    await sup.quiesce()
    info = sup.cell(auction_id)
    assert info is not None and info.status == "quarantined"
    assert info.last_error is not None and "injected crash in replay" in info.last_error
    with pytest.raises(Unavailable):
        await sup.ask(auction_id, bid("p1", 250))
    await sup.ask(healthy_id, bid("p1", 250))  # others keep running
    revived = sup.revive(auction_id)
    assert revived.status == "starting"
    reply = await sup.ask(auction_id, bid("p1", 225))
    assert reply.fields["bid_ids"]
    assert sup.cell(auction_id).status == "live"  # type: ignore[union-attr]
    with pytest.raises(DomainError):
        sup.revive(auction_id)  # not quarantined any more
    await sup.stop()


async def test_poison_event_quarantines_that_auction_only(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    poisoned = await open_auction(sup, clock)
    healthy = await open_auction(sup, clock)
    await sup.stop()
    seq = await store.highest_seq(poisoned)
    await store.append(poisoned, seq, [NewEvent("from_the_future", b'{"type":"from_the_future"}')])
    sup = Supervisor(store, clock, config=FAST)
    await sup.start()
    await sup.quiesce()
    info = sup.cell(poisoned)
    assert info is not None and info.status == "quarantined"
    assert info.restarts == 1  # deterministic: quarantined at once, no futile restarts
    assert f"seq {seq + 1}" in (info.last_error or "")
    await sup.ask(healthy, bid("p1", 200))
    await sup.stop()


async def test_storage_failure_leaves_state_unchanged_and_actor_carries_on(
    supervisor: Supervisor, store: MemoryEventStore, clock: ManualClock
) -> None:
    auction_id = await open_auction(supervisor, clock)
    before = await state_of(supervisor, auction_id)
    seq_before = before.seq
    store.fail_next_append = OSError(28, "No space left on device")
    with pytest.raises(Unavailable, match="storage unavailable"):
        await supervisor.ask(auction_id, bid("p1", 200))
    state = await state_of(supervisor, auction_id)
    assert state.seq == seq_before and not state.bids
    reply = await supervisor.ask(auction_id, bid("p1", 200))
    assert reply.seq == seq_before + 1
    assert supervisor.stats.restarts == 0


async def test_deadline_storage_failure_is_retried(
    supervisor: Supervisor, store: MemoryEventStore, clock: ManualClock
) -> None:
    reply = await supervisor.create_auction(BUYER, terms(60))
    auction_id = reply.fields["auction_id"]
    store.fail_next_append = StorageUnavailable("database is locked")
    clock.advance(60)
    await supervisor.quiesce()
    assert await store.highest_seq(auction_id) == 1  # nothing written; not asked again yet
    clock.advance(1)  # the retry timer
    await supervisor.quiesce()
    state = await state_of(supervisor, auction_id)
    assert state.status == "open"
    assert state.closes_at == T0 + 660 * SECOND  # from the stored start, not from the retry


async def test_restart_rearms_deadlines_and_gives_no_extra_time(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    passed = await open_auction(sup, clock)  # closes at T0 + 660 s
    later = (await sup.create_auction(BUYER, terms(3600))).fields["auction_id"]
    await sup.stop()
    # Down for 20 minutes: `passed` should have closed while nobody was running.
    clock.advance(20 * 60)
    sup = Supervisor(store, clock, config=FAST)
    assert await sup.start() == 2
    await sup.quiesce()
    state = await state_of(sup, passed)
    assert state.status == "decision"
    assert state.closes_at == T0 + 660 * SECOND
    assert state.decision_closes_at == T0 + (660 + 900) * SECOND
    ended = [
        decode_event(e)
        for e in await store.read_stream(passed)
        if isinstance(decode_event(e), AuctionEnded)
    ]
    assert len(ended) == 1 and ended[0].at == T0 + 21 * 60 * SECOND
    assert (await state_of(sup, later)).status == "pending"
    clock.set(T0 + 3600 * SECOND)  # the re-armed timer for the untouched auction fires
    await sup.quiesce()
    assert (await state_of(sup, later)).status == "open"
    await sup.stop()


async def test_unknown_and_invisible_auctions_are_not_found(supervisor: Supervisor) -> None:
    with pytest.raises(DomainError) as unknown:
        await supervisor.ask("a-nope", bid("p1", 200))
    assert unknown.value.code == "not_found"
    assert supervisor.cell("a-nope") is None
    draft = (await supervisor.create_auction(BUYER, terms(None))).fields["auction_id"]
    with pytest.raises(DomainError) as hidden:
        await supervisor.ask(draft, bid_as(bid("p1", 200), OUTSIDER))
    assert hidden.value.code == "not_found"


async def test_concurrent_commands_on_many_auctions_keep_gapless_streams(
    supervisor: Supervisor, store: MemoryEventStore, clock: ManualClock
) -> None:
    ids = [await open_auction(supervisor, clock) for _ in range(10)]

    async def bidder(auction_id: str, caller: object, start: int) -> None:
        for i in range(20):
            amount = (start - i) * 25
            await supervisor.ask(auction_id, bid_as(bid("p1", amount), caller))

    await asyncio.gather(*(bidder(a, c, 400 + k) for a in ids for k, c in enumerate((S1, S2))))
    for auction_id in ids:
        stored = await store.read_stream(auction_id)
        assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
        assert sum(e.type == "bid_placed" for e in stored) == 40
        live = await state_of(supervisor, auction_id)
        rebuilt = await rebuild(store, auction_id)
        assert rebuilt == live
    assert await store.check() == []


async def test_full_command_set_through_the_runtime(
    supervisor: Supervisor, clock: ManualClock
) -> None:
    auction_id = await open_auction(supervisor, clock, products=2)
    one = await supervisor.ask(auction_id, bid("p1", 300))
    await supervisor.ask(auction_id, bid("p2", 300))
    await supervisor.ask(auction_id, RevokeBid(by=S1, product_id="p2"))
    clock.advance(600)
    await supervisor.quiesce()
    with pytest.raises(DomainError) as refused:
        await supervisor.ask(
            auction_id, SelectSolution(by=S1, bid_ids=tuple(one.fields["bid_ids"]))
        )
    assert refused.value.code == "forbidden"
    await supervisor.ask(
        auction_id, SelectSolution(by=BUYER, bid_ids=tuple(one.fields["bid_ids"]), comment="ok")
    )
    await supervisor.quiesce()
    assert supervisor.cell(auction_id) is None  # closed: passivated
    state = await state_of(supervisor, auction_id)  # reloaded on demand
    assert state.status == "closed"
    assert state.winning_total == 300 * 1500
    with pytest.raises(DomainError) as final:
        await supervisor.ask(auction_id, CancelAuction(by=ADMIN))
    assert final.value.code == "wrong_status"


async def test_shutdown_drains_queued_commands(store: MemoryEventStore, clock: ManualClock) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    asks = [
        asyncio.ensure_future(sup.ask(auction_id, bid_as(bid("p1", 1000 - 25 * i), c)))
        for i in range(30)
        for c in (S1, S2)
    ]
    await asyncio.sleep(0)  # let them all reach the mailbox
    await sup.stop()
    replies = await asyncio.gather(*asks)
    assert sorted(r.seq for r in replies) == list(range(3, 63))
    with pytest.raises(Unavailable):
        await sup.ask(auction_id, bid("p1", 25))


class GatedStore(MemoryEventStore):
    """Appends wait for a gate the test opens: a storage stall."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

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
        await self.gate.wait()
        return await super().append(
            stream_id,
            expected_seq,
            events,
            writer_token=writer_token,
            keys=keys,
            snapshot=snapshot,
            catalog=catalog,
        )


async def test_ask_timeout_answers_timeout_if_taken_and_unavailable_if_queued(
    clock: ManualClock,
) -> None:
    store = GatedStore()
    sup = Supervisor(store, clock, config=msgspec.structs.replace(FAST, ask_timeout_s=0.05))
    auction_id = await open_auction(sup, clock)
    store.gate.clear()  # storage stalls
    stalled = asyncio.ensure_future(sup.ask(auction_id, bid("p1", 300)))
    queued = asyncio.ensure_future(sup.ask(auction_id, bid_as(bid("p1", 275), S2)))
    with pytest.raises(CommandTimedOut, match="did not answer in time"):
        await stalled  # taken: its append is in flight, the outcome is unknown
    with pytest.raises(Unavailable, match="did not answer in time"):
        await queued  # still queued: skipped, never applied
    store.gate.set()  # storage recovers: the stalled append completes, the queued one is skipped
    await sup.quiesce()
    state = await state_of(sup, auction_id)
    assert [b.supplier_id for b in state.ranked("p1")] == ["c-s1"]
    await sup.stop()

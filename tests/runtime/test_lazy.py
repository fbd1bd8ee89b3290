"""Runtime: lazy actors, passivation and the central timer heap (DESIGN.md, "Costs grow with
change, not with history"). `start` loads no actor: it arms the heap from the catalog; an actor
is loaded when a message or a deadline needs it and passivated when idle, while its deadlines
keep firing on time from the heap."""

from __future__ import annotations

import msgspec
import pytest

from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import Unavailable
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.scheduler import Scheduler
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import NewEvent
from auctionactors.store.memory import MemoryEventStore

from .conftest import BUYER, FAST, S1, T0, terms

EAGER = msgspec.structs.replace(FAST, passivate_after_s=0)  # passivate as soon as idle


def bid(amount: int) -> PlaceBids:
    return PlaceBids(by=S1, bids=(BidRequest(product_id="p1", amount=amount),))


async def create(sup: Supervisor, clock: ManualClock, start_in_s: int | None = 60) -> str:
    reply = await sup.create_auction(BUYER, terms(start_in_s, now=clock.now()))
    return str(reply.fields["auction_id"])


async def test_start_loads_no_actor_and_arms_the_heap_from_the_catalog(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    pending = [await create(sup, clock, 3600) for _ in range(3)]
    draft = await create(sup, clock, None)  # no deadline: not in the heap
    await sup.stop()
    sup = Supervisor(store, clock, config=FAST)
    assert await sup.start() == 4
    assert sup.cells() == []
    assert (await store.catalog_count(), len(sup.scheduler)) == (4, 3)
    assert {sup.scheduler.get(a) for a in pending} == {T0 + 3600 * SECOND}
    assert sup.scheduler.get(draft) is None
    clock.advance(3600)  # every start falls due: each auction is loaded, started, passivated?
    await sup.quiesce()
    states = [await sup.query(a, lambda s: s) for a in pending]
    assert all(s is not None and s.status == "open" for s in states)
    assert len(sup.scheduler) == 3  # now their closing times
    await sup.stop()


async def test_an_idle_open_auction_is_passivated_and_its_deadline_still_fires(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=EAGER)
    auction_id = await create(sup, clock)
    clock.advance(60)
    await sup.quiesce()
    assert sup.cell(auction_id) is None  # open, idle: passivated
    assert (sup.cells(), len(sup.scheduler)) == ([], 1)
    reply = await sup.ask(auction_id, bid(300))  # a message loads it back
    assert reply.seq == 3
    await sup.quiesce()
    assert sup.cell(auction_id) is None
    clock.advance(600)  # closes_at: from the heap, with no actor loaded
    await sup.quiesce()
    state = await sup.query(auction_id, lambda s: s)
    assert state is not None and state.status == "decision"
    assert state.ended_at == T0 + 660 * SECOND
    assert sup.stats.passivations >= 3
    await sup.stop()


async def test_nothing_fires_after_stop(store: MemoryEventStore, clock: ManualClock) -> None:
    sup = Supervisor(store, clock, config=EAGER)
    auction_id = await create(sup, clock)
    await sup.quiesce()
    await sup.stop()
    clock.advance(60)
    assert sup.cells() == []
    assert await store.highest_seq(auction_id) == 1


async def test_a_deadline_does_not_wake_a_quarantined_auction(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await create(sup, clock)
    await sup.stop()
    await store.append(auction_id, 1, [NewEvent("from_the_future", b'{"type":"x"}')])
    sup = Supervisor(store, clock, config=FAST)
    await sup.start()
    with pytest.raises(Unavailable, match="quarantined"):
        await sup.query(auction_id, lambda s: s)
    clock.advance(60)  # its start falls due: nothing to act on, and quiesce still returns
    await sup.quiesce()
    info = sup.cell(auction_id)
    assert info is not None and info.status == "quarantined" and info.mailbox == 0
    await sup.stop()


async def test_the_heap_alone_ends_a_passivated_auction(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    """Checked on the store, never through a read (a read loads the actor, which catches
    up on passed deadlines by itself: it would hide a heap that never fires)."""
    sup = Supervisor(store, clock, config=EAGER)
    reply = await sup.create_auction(BUYER, terms(60, now=clock.now()))
    aid = str(reply.fields["auction_id"])
    clock.advance(60)
    await sup.quiesce()
    assert sup.cell(aid) is None and await store.highest_seq(aid) == 2  # open, passivated
    clock.advance(600)
    await sup.quiesce()
    assert await store.highest_seq(aid) == 3  # auction_ended, stored with no read
    row = await store.catalog_entry(aid)
    assert row is not None and row.status == "decision"
    await sup.stop()


def test_the_heap_keeps_one_entry_per_auction_and_fires_in_order() -> None:
    clock = ManualClock(T0)
    woken: list[str] = []
    heap = Scheduler(clock, woken.append)
    heap.set("a", T0 + 30 * SECOND)
    heap.set("b", T0 + 10 * SECOND)
    heap.set("a", T0 + 20 * SECOND)  # moved: the old entry is dropped
    heap.set("c", T0 + 5 * SECOND)
    heap.set("c", None)  # removed
    assert len(heap) == 2
    clock.advance(15)
    assert woken == ["b"]
    clock.advance(100)
    assert woken == ["b", "a"]
    assert len(heap) == 0


def test_a_hot_auction_moving_its_deadline_does_not_grow_the_heap() -> None:
    clock = ManualClock(T0)
    heap = Scheduler(clock, lambda _: None)
    for i in range(10_000):  # a soft close extended ten thousand times
        heap.set("hot", T0 + i * SECOND)
    assert len(heap) == 1
    assert len(heap._heap) <= 2 * len(heap) + 65


def test_entries_already_due_at_load_are_woken_at_once() -> None:
    clock = ManualClock(T0)
    woken: list[str] = []
    heap = Scheduler(clock, woken.append)
    heap.load([("late", T0 - SECOND), ("later", T0 + SECOND), ("now", T0)])
    assert sorted(woken) == ["late", "now"]
    assert len(heap) == 1

"""The runtime under injected faults: a deadline that cannot be stored, a crash between append
and publish, a storage outage during rebuild, refused creations, a second start.

Real actor tasks on the real in-memory store with faults added, the manual clock; every wait is
on a reply, an event or ``quiesce()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import pytest

from auctionactors.domain.commands import ApproveBarge, SelectSolution, SubmitBarge
from auctionactors.domain.events import Barge
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import (
    ActorCrashed,
    ConcurrencyError,
    DomainError,
    StorageUnavailable,
    Unavailable,
)
from auctionactors.gateway.hub import Hub
from auctionactors.gateway.peer import Peer
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import (
    AppendResult,
    CatalogEntry,
    KeyRecord,
    NewEvent,
    Principal,
    Snapshot,
    StoredEvent,
)
from auctionactors.store.memory import MemoryEventStore

from .conftest import BUYER, FAST, S1, T0, terms
from .test_supervisor import bid, open_auction, state_of


class FaultyStore(MemoryEventStore):
    """The real in-memory store, plus injected faults: the next appends raise ``append_fault``
    (``after_write``: once the events are stored, as a crash between append and publish), and
    reads fail with `StorageUnavailable` while ``reads_down``."""

    def __init__(self) -> None:
        super().__init__()
        self.append_faults: list[BaseException] = []
        self.after_write = False
        self.reads_down = False
        self.failed_reads = 0
        self.many_failed_reads = asyncio.Event()

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
        if self.append_faults and not self.after_write:
            raise self.append_faults.pop(0)
        result = await super().append(
            stream_id,
            expected_seq,
            events,
            writer_token=writer_token,
            keys=keys,
            snapshot=snapshot,
            catalog=catalog,
        )
        if self.append_faults:
            raise self.append_faults.pop(0)
        return result

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        if self.reads_down:
            self.failed_reads += 1
            if self.failed_reads == 10:
                self.many_failed_reads.set()
            raise StorageUnavailable("injected: disk unreachable")
        return await super().read_stream(stream_id, from_seq=from_seq, to_seq=to_seq, limit=limit)


@pytest.fixture
def faulty() -> FaultyStore:
    return FaultyStore()


@pytest.mark.parametrize(
    "fault", [ConcurrencyError("injected: another writer"), RuntimeError("injected: a bug")]
)
async def test_a_deadline_that_fails_leaves_the_command_it_took_to_the_rebuilt_actor(
    faulty: FaultyStore, clock: ManualClock, fault: Exception
) -> None:
    sup = Supervisor(faulty, clock, config=msgspec.structs.replace(FAST, ask_timeout_s=30))
    auction_id = await open_auction(sup, clock)
    clock.set(T0 + 660 * SECOND, fire_timers=False)  # past closes_at; the timer is late
    faulty.append_faults.append(fault)
    # Never applied, so never answered with the deadline's failure: the rebuilt actor acts on
    # the deadline, then judges the bid (at once, not after the ask timeout).
    with pytest.raises(DomainError, match="before the bid was received"):
        await sup.ask(auction_id, bid("p1", 200))
    assert (await state_of(sup, auction_id)).status == "decision"  # restarted, deadline done
    await sup.stop()


async def test_a_crash_between_append_and_publish_is_resynced_to_the_hub(
    faulty: FaultyStore, clock: ManualClock
) -> None:
    sup = Supervisor(faulty, clock, config=FAST)
    hub = Hub(sup)
    sup.subscribers.append(hub)
    auction_id = await open_auction(sup, clock)
    await sup.ask(auction_id, bid("p1", 200))
    await sup.ask(auction_id, SubmitBarge(by=S1, barge=Barge("Bunker One", "9100001")))
    clock.advance(600)
    await sup.ask(auction_id, SelectSolution(by=BUYER, solution="best_overall"))
    await sup.quiesce()
    assert sup.cell(auction_id) is None  # closed: passivated, served from the hub's cache
    buyer = Peer(Principal("u-b", "Bea", "c-b", "Buyer Co", "buyer"), capacity=100)
    await hub.subscribe(buyer, auction_id, None, None)
    seen = len(buyer.outbox)
    faulty.after_write = True
    faulty.append_faults.append(RuntimeError("injected: crash before publish"))
    with pytest.raises(ActorCrashed):
        await sup.ask(auction_id, ApproveBarge(by=BUYER, imo="9100001", supplier_id="c-s1"))
    await sup.quiesce()

    def barge(state: AuctionState | None) -> str:
        assert state is not None
        return next(iter(state.barges.values())).status

    assert await hub.read(auction_id, barge) == "approved"
    missed = [msgspec.json.decode(f) for f in list(buyer.outbox)[seen:]]
    assert [[e["type"] for e in u["events"]] for u in missed] == [["barge_approved"]]
    assert missed[0]["seq"] == (await faulty.highest_seq(auction_id))
    await sup.stop()


async def test_a_storage_outage_during_rebuild_backs_off_and_never_quarantines(
    faulty: FaultyStore, clock: ManualClock
) -> None:
    config = msgspec.structs.replace(FAST, storage_backoff_base_s=0.001, storage_backoff_max_s=0.01)
    sup = Supervisor(faulty, clock, config=config)
    auction_id = await open_auction(sup, clock)
    faulty.append_faults.append(RuntimeError("injected: a crash"))
    faulty.reads_down = True
    with pytest.raises(ActorCrashed):
        await sup.ask(auction_id, bid("p1", 200))
    # Ten failed rebuilds (max_restarts is 3); bounded, as a quarantined cell stops trying.
    await asyncio.wait_for(faulty.many_failed_reads.wait(), 30)
    cell = sup.cell(auction_id)
    assert cell is not None
    assert (cell.status, cell.restarts, sup.stats.quarantines) == ("restarting", 1, 0)
    assert cell.last_error == "StorageUnavailable: injected: disk unreachable"
    faulty.reads_down = False
    reply = await sup.ask(auction_id, bid("p1", 175))
    assert reply.seq == 3  # the crashed bid was not stored
    cell = sup.cell(auction_id)
    assert cell is not None and cell.status == "live"
    await sup.stop()


async def test_refused_creations_leave_no_actor_behind(
    faulty: FaultyStore, clock: ManualClock
) -> None:
    sup = Supervisor(faulty, clock, config=FAST)
    await sup.start()
    await sup.quiesce()
    tasks = len(asyncio.all_tasks())
    for _ in range(100):  # a buyer may not schedule in the past: invalid
        with pytest.raises(DomainError):
            await sup.create_auction(BUYER, terms(-60))
    for _ in range(100):
        faulty.append_faults.append(StorageUnavailable("injected: disk full"))
        with pytest.raises(Unavailable):
            await sup.create_auction(BUYER, terms(60))
    await sup.quiesce()
    assert sup.cells() == []
    assert len(asyncio.all_tasks()) == tasks
    assert sup.stats.passivations == 0  # they never existed: not passivated auctions
    await sup.stop()


async def test_starting_twice_keeps_every_cell_and_its_queue(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    tasks = len(asyncio.all_tasks())
    cells = sup.cells()
    await sup.start()  # every stored auction again: the running cells are reused
    assert sup.cells() == cells
    assert len(asyncio.all_tasks()) == tasks
    assert (await sup.ask(auction_id, bid("p1", 200))).seq == 3
    await sup.stop()


async def test_a_creation_abandoned_during_an_outage_leaves_no_cell(
    faulty: FaultyStore, clock: ManualClock
) -> None:
    config = msgspec.structs.replace(FAST, ask_timeout_s=0.05, storage_backoff_base_s=0.01)
    sup = Supervisor(faulty, clock, config=config)
    faulty.reads_down = True  # a new actor cannot even read its (empty) stream
    with pytest.raises(Unavailable, match="did not answer in time"):
        await sup.create_auction(BUYER, terms(60))
    await sup.quiesce()  # the cell gives up at its next retry: nobody waits for it
    assert sup.cells() == []
    faulty.reads_down = False
    assert await faulty.streams() == []
    await sup.stop()

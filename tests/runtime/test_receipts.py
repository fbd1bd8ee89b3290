"""Receipt time (PROTOCOL.md 1.1): a command is judged at the time the server received it, and
everything received before a deadline is handled before that deadline's event, however late the
actor gets to it. Event times never go back.

Real actor tasks on a store whose appends are held up (the actor falls behind), the manual
clock, and receipts registered as the gateway does. Nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import pytest

from auctionactors.domain.commands import BidRequest, PlaceBids, SelectSolution
from auctionactors.domain.events import AuctionClosed, AuctionEnded, BidPlaced
from auctionactors.domain.parties import Caller
from auctionactors.domain.timestamps import SECOND, Instant
from auctionactors.errors import ConcurrencyError, DomainError, Unavailable
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.mailbox import Reply
from auctionactors.runtime.receipts import Receipt, Receipts
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import AppendResult, NewEvent
from auctionactors.store.codec import decode_events

from .conftest import BUYER, FAST, S1, S2, T0, settled, terms
from .test_supervisor import GatedStore, state_of

CLOSES_AT = T0 + 660 * SECOND
MS = SECOND // 1000


def bids(n: int) -> Iterator[PlaceBids]:
    for i in range(n):
        caller: Caller = (S1, S2)[i % 2]
        yield PlaceBids(by=caller, bids=(BidRequest(product_id="p1", amount=100_000 - 25 * i),))


async def open_auction(sup: Supervisor, clock: ManualClock, soft_close_s: int) -> str:
    auction = msgspec.structs.replace(terms(60), soft_close_s=soft_close_s)
    reply = await sup.create_auction(BUYER, auction)
    clock.advance(60)
    await sup.quiesce()
    return str(reply.fields["auction_id"])


async def gated_auction(
    clock: ManualClock, receipt_wait_s: float = 60, store: GatedStore | None = None
) -> tuple[Supervisor, str]:
    """A supervisor whose appends a test can hold (``store``, a `GatedStore` by default) and an
    auction of it, open, without soft close (so deadlines do not move)."""
    config = msgspec.structs.replace(FAST, ask_timeout_s=60, receipt_wait_s=receipt_wait_s)
    sup = Supervisor(store or GatedStore(), clock, config=config)
    return sup, await open_auction(sup, clock, soft_close_s=0)


def on_its_way(sup: Supervisor, auction_id: str, at: Instant) -> Receipt:
    """A command frame for ``auction_id`` received at ``at``, read but not yet queued."""
    receipt = sup.receipts.register(at)
    receipt.auction_id = auction_id
    return receipt


async def outcome(ask: asyncio.Future[Reply]) -> str:
    try:
        await ask
    except DomainError as refusal:
        return refusal.code
    return "ok"


async def test_everything_received_before_closes_at_is_judged_on_time_under_load(
    clock: ManualClock,
) -> None:
    store = GatedStore()
    sup, auction_id = await gated_auction(clock, store=store)
    clock.set(CLOSES_AT - SECOND)
    store.gate.clear()  # the store is slow: the actor falls behind its mailbox

    def send(command: PlaceBids, at: Instant) -> asyncio.Future[Reply]:
        return asyncio.ensure_future(sup.ask(auction_id, command, receipt=Receipt(at)))

    commands = list(bids(60))
    early = [send(c, CLOSES_AT - SECOND + i * MS) for i, c in enumerate(commands[:30])]
    early.append(send(commands[30], CLOSES_AT - 1))  # one microsecond before the deadline
    # Frames received before the deadline but still on their way (parsed, authorised...).
    on_the_way = [sup.receipts.register(CLOSES_AT - 10 * MS + i) for i in range(9)]
    await asyncio.sleep(0)
    clock.set(CLOSES_AT)  # the deadline's timer fires while 31 bids wait
    late = [send(c, CLOSES_AT + i * MS) for i, c in enumerate(commands[40:])]
    store.gate.set()
    assert [await outcome(a) for a in early] == ["ok"] * 31
    assert sup.receipts.waiting == 1  # the actor waits for the frames still on their way
    assert not any(a.done() for a in late)
    for receipt, command in zip(on_the_way, commands[31:40], strict=True):
        early.append(asyncio.ensure_future(sup.ask(auction_id, command, receipt=receipt)))
    assert [await outcome(a) for a in early[31:]] == ["ok"] * 9
    assert [await outcome(a) for a in late] == ["too_late"] * 20
    events = decode_events(await store.read_stream(auction_id))
    assert [type(e) for e in events[-41:]] == [BidPlaced] * 40 + [AuctionEnded]
    assert all(e.at < CLOSES_AT for e in events[-41:-1])
    assert events[-1].at == CLOSES_AT
    assert [e.at for e in events] == sorted(e.at for e in events)
    await sup.stop()


async def test_a_bid_received_just_before_closes_at_extends_the_auction(
    clock: ManualClock,
) -> None:
    store = GatedStore()
    sup = Supervisor(store, clock, config=msgspec.structs.replace(FAST, ask_timeout_s=60))
    auction_id = await open_auction(sup, clock, soft_close_s=180)
    first, second, third = bids(3)
    store.gate.clear()
    clock.set(CLOSES_AT - SECOND)
    busy = asyncio.ensure_future(sup.ask(auction_id, first, receipt=Receipt(clock.now())))
    last_moment = sup.ask(auction_id, second, receipt=Receipt(CLOSES_AT - MS))
    just_before = asyncio.ensure_future(last_moment)
    await asyncio.sleep(0)
    clock.advance(5)  # the timer fires; the bid received in time is still queued
    store.gate.set()
    await busy
    await just_before
    state = await state_of(sup, auction_id)
    assert state.status == "open"
    assert state.closes_at == CLOSES_AT - MS + 180 * SECOND
    # Received after the old deadline, but before the new one: on time.
    await sup.ask(auction_id, third, receipt=Receipt(clock.now()))
    await sup.stop()


class SteppingClock(ManualClock):
    """A clock that can be stepped back, as a wall clock can."""

    def step_back(self, seconds: float) -> None:
        self._now -= round(seconds * SECOND)


async def test_event_times_never_go_back_when_the_clock_does(clock: ManualClock) -> None:
    stepping = SteppingClock(T0)
    store = GatedStore()
    sup = Supervisor(store, stepping, config=FAST)
    auction_id = await open_auction(sup, stepping, soft_close_s=0)
    one, two = bids(2)
    await sup.ask(auction_id, one)
    stepping.step_back(2)  # the wall clock is stepped back: a later bid must not win the tie
    await sup.ask(auction_id, msgspec.structs.replace(two, bids=one.bids))
    await sup.stop()
    sup = Supervisor(store, stepping, config=FAST)  # and across a restart
    await sup.start()
    stepping.step_back(2)
    await sup.ask(auction_id, msgspec.structs.replace(two, bids=one.bids))
    events = decode_events(await store.read_stream(auction_id))
    assert [e.at for e in events] == sorted(e.at for e in events)
    state = await state_of(sup, auction_id)
    assert [b.supplier_id for b in state.ranked("p1")] == ["c-s1", "c-s2"]
    await sup.stop()


@pytest.mark.parametrize("step_s", [2.0, 3600.0])
def test_the_system_clock_never_goes_back(monkeypatch: pytest.MonkeyPatch, step_s: float) -> None:
    import time

    from auctionactors.runtime.clock import SystemClock

    clock = SystemClock()
    before = clock.now()
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() - round(step_s * 1e9))
    assert clock.now() >= before
    assert SystemClock().now() <= clock.now()  # a new clock anchors to the stepped wall clock


async def test_frames_for_other_auctions_do_not_hold_a_deadline(clock: ManualClock) -> None:
    config = msgspec.structs.replace(FAST, receipt_wait_s=60)
    sup = Supervisor(GatedStore(), clock, config=config)
    auction_id = await open_auction(sup, clock, soft_close_s=0)
    elsewhere = sup.receipts.register(CLOSES_AT - SECOND)
    elsewhere.auction_id = "a-other"  # parsed: a command on another auction
    clock.set(CLOSES_AT)
    await sup.quiesce()  # not held up: the deadline was acted on at once
    assert (await state_of(sup, auction_id)).status == "decision"
    elsewhere.release()
    await sup.stop()


class FailingOnceStore(GatedStore):
    """The next append, once armed, fails as if another writer had got there first."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    async def append(
        self,
        stream_id: str,
        expected_seq: int,
        events: Sequence[NewEvent],
        **options: Any,
    ) -> AppendResult:
        if self.fail_next:
            self.fail_next = False
            raise ConcurrencyError("another writer")
        return await super().append(stream_id, expected_seq, events, **options)


async def test_a_crash_before_a_deadline_loses_none_of_the_commands_received_before_it(
    clock: ManualClock,
) -> None:
    store = FailingOnceStore()
    sup, auction_id = await gated_auction(clock, store=store)
    clock.set(CLOSES_AT - SECOND)
    store.fail_next = True
    asks = [
        asyncio.ensure_future(sup.ask(auction_id, c, receipt=Receipt(CLOSES_AT - 10 + i)))
        for i, c in enumerate(bids(3))
    ]
    await asyncio.sleep(0)  # all three are queued
    clock.set(CLOSES_AT)  # the deadline falls due with the three in the mailbox
    await sup.quiesce()
    assert all(a.done() for a in asks)  # none waits out its ask timeout
    with pytest.raises(Unavailable, match="restarting"):
        await asks[0]
    assert [await outcome(a) for a in asks[1:]] == ["ok", "ok"]
    events = decode_events(await store.read_stream(auction_id))
    assert [type(e) for e in events[-3:]] == [BidPlaced, BidPlaced, AuctionEnded]
    assert all(e.at < CLOSES_AT for e in events[-3:-1])
    await sup.stop()


async def test_reads_queued_while_a_deadline_waits_are_served_and_the_bid_after_is_on_time(
    clock: ManualClock,
) -> None:
    sup, auction_id = await gated_auction(clock)
    # A connection reads the auction twice (a subscribe with since), then bids; the bid was
    # received before the deadline, so the deadline waits for it.
    on_the_way = on_its_way(sup, auction_id, CLOSES_AT - MS)
    clock.set(CLOSES_AT)
    await settled(lambda: sup.receipts.waiting == 1)
    for _ in range(2):
        read = asyncio.ensure_future(sup.query(auction_id, lambda s: s is not None and s.seq))
        await settled(read.done)  # served while the deadline still waits
        assert sup.receipts.waiting == 1
    (command,) = bids(1)
    bid = asyncio.ensure_future(sup.ask(auction_id, command, receipt=on_the_way))
    assert await outcome(bid) == "ok"
    events = decode_events(await sup.store.read_stream(auction_id))
    assert [type(e) for e in events[-2:]] == [BidPlaced, AuctionEnded]
    await sup.stop()


async def test_a_release_wakes_only_the_deadlines_it_could_hold() -> None:
    receipts = Receipts()
    elsewhere, after, ours = (receipts.register(at) for at in (T0, CLOSES_AT, T0))
    elsewhere.auction_id = "a-other"
    ours.auction_id = "a-ours"
    with receipts.released_before(CLOSES_AT, "a-ours") as released:
        assert receipts.waiting == 1
        elsewhere.release()  # another auction's: no rescan here
        after.release()  # received at the deadline: it never held it
        assert not released.done()
        ours.release()
        assert released.done()
    assert receipts.waiting == 0


async def test_a_read_never_makes_a_deadline_due_so_the_bid_behind_it_is_on_time(
    clock: ManualClock,
) -> None:
    # The wait is short: before the fix the read was held for all of it, then the bid refused.
    sup, auction_id = await gated_auction(clock, receipt_wait_s=0.3)
    # One connection: a read, then a bid received at D - 1 ms, waiting behind the read.
    on_the_way = on_its_way(sup, auction_id, CLOSES_AT - MS)
    clock.set(CLOSES_AT + MS, fire_timers=False)  # the deadline's timer runs a little late
    assert await sup.query(auction_id, lambda s: s.status) == "open"
    (command,) = bids(1)
    bid = asyncio.ensure_future(sup.ask(auction_id, command, receipt=on_the_way))
    assert await outcome(bid) == "ok"
    clock.advance(0)  # the late timer fires: the deadline is acted on after the bid
    await sup.quiesce()
    events = decode_events(await sup.store.read_stream(auction_id))
    assert [type(e) for e in events[-2:]] == [BidPlaced, AuctionEnded]
    await sup.stop()


async def test_a_command_queued_while_a_read_awaits_during_the_receipt_wait_wakes_the_actor(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auctionactors.runtime.actor import AuctionActor

    sup, auction_id = await gated_auction(clock)
    real, entered, gate = AuctionActor._solved, asyncio.Event(), asyncio.Event()

    async def slow(self: AuctionActor) -> object:  # a big state's first solve after a load
        entered.set()
        await gate.wait()
        return await real(self)

    monkeypatch.setattr(AuctionActor, "_solved", slow)
    on_the_way = on_its_way(sup, auction_id, CLOSES_AT - MS)
    read = asyncio.ensure_future(sup.query_solved(auction_id, lambda s: s.state.seq))
    clock.set(CLOSES_AT + MS)  # the timer fires: the deadline waits, serving the read
    await settled(entered.is_set)
    (command,) = bids(1)
    bid = asyncio.ensure_future(sup.ask(auction_id, command, receipt=on_the_way))
    await settled(lambda: len(sup.receipts) == 0)  # queued while the read awaits
    gate.set()
    await settled(bid.done)  # not after the whole receipt wait
    assert await outcome(bid) == "ok"
    assert read.done()
    await sup.stop()


async def test_the_message_that_made_a_deadline_due_outlives_a_crash_before_it(
    clock: ManualClock,
) -> None:
    store = FailingOnceStore()
    sup, auction_id = await gated_auction(clock, store=store)
    clock.set(CLOSES_AT - SECOND)
    store.gate.clear()
    mailbox = sup._cells[auction_id].mailbox
    first, early, late = bids(3)
    busy = asyncio.ensure_future(sup.ask(auction_id, first, receipt=Receipt(clock.now())))
    await asyncio.sleep(0)
    await settled(lambda: len(mailbox) == 0)  # taken: its append waits for the gate
    # Queued behind the busy one: a bid received after the deadline, then one received before
    # it (it was on its way longer); the early one crashes the actor.
    after = asyncio.ensure_future(sup.ask(auction_id, late, receipt=Receipt(CLOSES_AT + MS)))
    await asyncio.sleep(0)
    before = asyncio.ensure_future(sup.ask(auction_id, early, receipt=Receipt(CLOSES_AT - MS)))
    await asyncio.sleep(0)
    assert len(mailbox) == 2
    store.fail_next = True
    store.gate.set()
    assert await outcome(busy) == "ok"
    with pytest.raises(Unavailable, match="restarting"):
        await before
    assert await outcome(after) == "too_late"  # never applied: handled by the rebuilt actor
    await sup.stop()


async def test_after_an_outage_each_deadline_is_acted_on_after_what_was_received_before_it(
    clock: ManualClock,
) -> None:
    sup, auction_id = await gated_auction(clock)
    (command,) = bids(1)
    await sup.ask(auction_id, command)
    decision_closes_at = CLOSES_AT + 900 * SECOND
    # The buyer's choice, received before the decision deadline (after the close), on its way
    # when the actor comes back from a long outage past both deadlines.
    on_the_way = on_its_way(sup, auction_id, decision_closes_at - MS)
    clock.set(decision_closes_at + SECOND)
    await settled(lambda: sup.receipts.waiting == 1)  # the decision deadline's own wait
    choice = SelectSolution(by=BUYER, solution="best_overall")
    assert (
        await outcome(asyncio.ensure_future(sup.ask(auction_id, choice, receipt=on_the_way)))
        == "ok"
    )
    events = decode_events(await sup.store.read_stream(auction_id))
    ended = [e for e in events if isinstance(e, AuctionEnded)]
    assert [e.at for e in ended] == [CLOSES_AT]  # each deadline's event at its own time
    assert isinstance(events[-1], AuctionClosed)  # closed by the choice, never expired
    await sup.stop()

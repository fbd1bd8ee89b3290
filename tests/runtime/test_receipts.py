"""Receipt time (PROTOCOL.md 1.1): a command is judged at the time the server received it, and
everything received before a deadline is handled before that deadline's event, however late the
actor gets to it. Event times never go back.

Real actor tasks on a store whose appends are held up (the actor falls behind), the manual
clock, and receipts registered as the gateway does. Nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import msgspec
import pytest

from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.events import AuctionEnded, BidPlaced
from auctionactors.domain.parties import Caller
from auctionactors.domain.timestamps import SECOND, Instant
from auctionactors.errors import DomainError
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.mailbox import Reply
from auctionactors.runtime.receipts import Receipt
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.codec import decode_events

from .conftest import BUYER, FAST, S1, S2, T0, terms
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
    config = msgspec.structs.replace(FAST, ask_timeout_s=60, receipt_wait_s=60)
    sup = Supervisor(store, clock, config=config)
    auction_id = await open_auction(sup, clock, soft_close_s=0)
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

"""Runtime: a hot auction batches (DESIGN.md, "A hot auction batches"). Commands queued behind
each other are decided one after another against the evolving state, stored in one write, and
each answered on its own; a refused one changes nothing; a failed write answers every command
of the batch and leaves the state as the store has it.

Commands asked from tasks started together are all queued before the actor takes the first (the
loop runs ready tasks in order), so the batches here are deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.parties import Caller
from auctionactors.domain.state import AuctionState
from auctionactors.errors import DomainError, Unavailable
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.mailbox import CommandKey, Reply
from auctionactors.runtime.publishing import Delivery, Update
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.memory import MemoryEventStore

from .conftest import BUYER, FAST, S1, S2, Watching, terms


def bids(caller: Caller, amount: int, product: str = "p1") -> PlaceBids:
    return PlaceBids(by=caller, bids=(BidRequest(product_id=product, amount=amount),))


async def open_auction(sup: Supervisor, clock: ManualClock) -> str:
    reply = await sup.create_auction(BUYER, terms(60, now=clock.now()))
    clock.advance(60)
    await sup.quiesce()
    return str(reply.fields["auction_id"])


async def together(*calls: Callable[[], object]) -> list[Reply | BaseException]:
    tasks = [asyncio.ensure_future(call()) for call in calls]  # type: ignore[arg-type]
    return list(await asyncio.gather(*tasks, return_exceptions=True))


class Appends:
    """Counts the store's appends (the real in-memory store, its own hook)."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.count = 0
        store.before_append = self._seen

    def _seen(self, stream_id: str, expected_seq: int, events: object) -> None:
        self.count += 1


async def test_queued_commands_are_stored_in_one_write_and_answered_each(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    appends = Appends(store)
    amounts = [1000 - 25 * i for i in range(20)]
    replies = await together(
        *(
            lambda a=a, i=i: sup.ask(auction_id, bids(S1 if i % 2 else S2, a))
            for i, a in enumerate(amounts)
        )
    )
    assert appends.count == 1
    assert sup.stats.commits >= 1 and sup.stats.committed >= 20
    seqs = [r.seq for r in replies if isinstance(r, Reply)]
    assert len(seqs) == 20 and seqs == sorted(seqs) and len(set(seqs)) == 20
    stored = await store.read_stream(auction_id)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    live = await sup.query(auction_id, lambda s: s)
    assert live is not None
    assert live.ranked("p1")[0].amount == 525
    replayed = await rebuild(store, auction_id, use_snapshot=False)
    assert replayed is not None and replayed.seq == live.seq
    await sup.stop()


async def test_a_refused_command_in_a_batch_changes_nothing_and_the_rest_apply(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    appends = Appends(store)
    first, bad, third = await together(
        lambda: sup.ask(auction_id, bids(S1, 300)),
        lambda: sup.ask(auction_id, bids(S2, 301)),  # not a multiple of the tick
        lambda: sup.ask(auction_id, bids(S2, 275)),
    )
    assert isinstance(first, Reply) and isinstance(third, Reply)
    assert isinstance(bad, DomainError) and bad.code == "invalid"
    assert third.seq == first.seq + 1  # the refused one took no seq
    assert sup.stats.commands[("PlaceBids", "invalid")] == 1
    assert appends.count == 1
    await sup.stop()


async def test_each_command_of_a_batch_is_decided_on_the_state_its_predecessors_left(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    first, second = await together(
        lambda: sup.ask(auction_id, bids(S1, 300)),
        lambda: sup.ask(auction_id, bids(S1, 325)),  # replaces S1's own bid: allowed
    )
    assert isinstance(first, Reply) and isinstance(second, Reply)
    state = await sup.query(auction_id, lambda s: s)
    assert state is not None and [b.amount for b in state.ranked("p1")] == [325]
    await sup.stop()


async def test_a_failed_write_answers_the_whole_batch_unavailable_and_leaves_the_state(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    await sup.ask(auction_id, bids(S1, 400))
    before = await store.highest_seq(auction_id)
    store.fail_next_append = OSError(28, "No space left on device")
    results = await together(
        lambda: sup.ask(auction_id, bids(S1, 300)),
        lambda: sup.ask(auction_id, bids(S2, 301)),  # refused, but on a state never stored
        lambda: sup.ask(auction_id, bids(S2, 275)),
    )
    assert all(isinstance(r, Unavailable) for r in results), results
    assert sup.stats.commands[("PlaceBids", "unavailable")] == 3
    assert await store.highest_seq(auction_id) == before
    state = await sup.query(auction_id, lambda s: s)
    assert state is not None and state.seq == before
    assert [b.amount for b in state.ranked("p1")] == [400]
    reply = await sup.ask(auction_id, bids(S2, 275))  # and the actor carries on
    assert reply.seq == before + 1
    assert sup.stats.restarts == 0
    await sup.stop()


async def test_a_key_repeated_in_the_same_batch_is_applied_once(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    key = CommandKey("u-s1", "k-1", b"fp")
    first, repeat = await together(
        lambda: sup.ask(auction_id, bids(S1, 300), key=key),
        lambda: sup.ask(auction_id, bids(S1, 300), key=key),
    )
    assert isinstance(first, Reply) and first == repeat
    assert await store.highest_seq(auction_id) == first.seq
    await sup.stop()


async def test_updates_are_prepared_per_command_and_delivered_once_durable(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    prepared: list[tuple[int, int | None]] = []
    delivered: list[tuple[int, int]] = []

    class Recorder(Watching):
        def prepare(self, update: Update) -> Delivery | None:
            best = update.state.ranked("p1")
            prepared.append((update.seq, best[0].amount if best else None))
            seq = update.seq

            def deliver() -> None:
                stored = store._streams[update.auction_id]  # durable by now
                delivered.append((seq, len(stored)))

            return deliver

    sup = Supervisor(store, clock, config=FAST, subscribers=[Recorder()])
    auction_id = await open_auction(sup, clock)
    prepared.clear()
    delivered.clear()
    await together(
        lambda: sup.ask(auction_id, bids(S1, 300)),
        lambda: sup.ask(auction_id, bids(S2, 275)),
        lambda: sup.ask(auction_id, bids(S1, 250)),
    )
    # One update per command, each rendered from the state as that command left it.
    assert prepared == [(3, 300), (4, 275), (5, 250)]
    assert [seq for seq, _ in delivered] == [3, 4, 5]
    assert all(stored >= 5 for _, stored in delivered)
    await sup.stop()


async def test_nothing_is_delivered_when_the_write_fails(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    delivered: list[int] = []

    class Recorder(Watching):
        def prepare(self, update: Update) -> Delivery | None:
            return lambda: delivered.append(update.seq)

    sup = Supervisor(store, clock, config=FAST, subscribers=[Recorder()])
    auction_id = await open_auction(sup, clock)
    delivered.clear()
    store.fail_next_append = OSError(5, "I/O error")
    await together(
        lambda: sup.ask(auction_id, bids(S1, 300)), lambda: sup.ask(auction_id, bids(S2, 275))
    )
    assert delivered == []
    await sup.ask(auction_id, bids(S2, 275))
    assert delivered == [3]
    await sup.stop()


async def test_a_command_received_after_a_deadline_does_not_join_a_batch_before_it(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    state: AuctionState | None = await sup.query(auction_id, lambda s: s)
    assert state is not None and state.closes_at is not None
    closes_at = state.closes_at

    async def late_bid() -> Reply:
        clock.set(closes_at, fire_timers=False)  # the timer runs late
        return await sup.ask(auction_id, bids(S2, 275))

    on_time, late = await together(lambda: sup.ask(auction_id, bids(S1, 300)), late_bid)
    assert isinstance(on_time, Reply)
    assert isinstance(late, DomainError) and late.code == "too_late"
    ended = await sup.query(auction_id, lambda s: s)
    assert ended is not None and ended.status == "decision" and ended.seq == on_time.seq + 1
    await sup.stop()


async def test_a_repeat_of_an_applied_key_is_never_answered_unavailable(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    key = CommandKey("u-s1", "k-1", b"fp")
    first = await sup.ask(auction_id, bids(S1, 300), key=key)
    store.fail_next_append = OSError(28, "No space left on device")
    other, repeat = await together(
        lambda: sup.ask(auction_id, bids(S2, 275)),  # its write fails
        lambda: sup.ask(auction_id, bids(S1, 300), key=key),  # the retry of an applied command
    )
    assert isinstance(other, Unavailable)
    assert isinstance(repeat, Reply) and repeat == first, repeat
    await sup.stop()

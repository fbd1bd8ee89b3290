"""Idempotency keys in the runtime (PROTOCOL.md 1.1): a keyed command is applied once, and a
repeat is answered with the first reply (same seq, same ids), across restarts and replays.

Real actors on the in-memory store (same contract as SQLite) and the manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from auctionactors.domain.commands import GiveRsvp, PostComment
from auctionactors.domain.events import BidPlaced
from auctionactors.errors import DomainError, OutcomeUnknown
from auctionactors.runtime.clock import ManualClock
from auctionactors.runtime.mailbox import CommandKey
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import AppendResult, CatalogEntry, KeyRecord, NewEvent, Snapshot
from auctionactors.store.codec import decode_event
from auctionactors.store.memory import MemoryEventStore

from .conftest import BUYER, FAST, S1, S2, terms
from .test_supervisor import bid, bid_as, open_auction, state_of


def key(k: str, fingerprint: bytes = b"fp", user: str = "u-s1") -> CommandKey:
    return CommandKey(user, k, fingerprint)


async def test_a_repeated_key_is_answered_with_the_first_reply_and_applied_once(
    supervisor: Supervisor, store: MemoryEventStore, clock: ManualClock
) -> None:
    auction_id = await open_auction(supervisor, clock)
    first = await supervisor.ask(auction_id, bid("p1", 300), key=key("k1"))
    again = await supervisor.ask(auction_id, bid("p1", 300), key=key("k1"))
    assert again == first
    assert len((await state_of(supervisor, auction_id)).bids) == 1
    # The same key for another command is refused; another user's key k1 is another key.
    with pytest.raises(DomainError) as refused:
        await supervisor.ask(auction_id, bid("p1", 250), key=key("k1", b"other"))
    assert refused.value.code == "invalid"
    assert "was used for another command" in refused.value.message
    theirs = await supervisor.ask(
        auction_id, bid_as(bid("p1", 250), S2), key=key("k1", user="u-s2")
    )
    assert theirs.seq == first.seq + 1
    assert len(await store.read_stream(auction_id)) == theirs.seq


async def test_keys_survive_a_restart_and_win_over_a_refusal(
    store: MemoryEventStore, clock: ManualClock
) -> None:
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    first = await sup.ask(auction_id, PostComment(by=S1, text="hello"), key=key("c1"))
    await sup.stop()
    sup = Supervisor(store, clock, config=FAST)  # a new process: nothing cached
    await sup.start()
    clock.advance(600)  # bidding has closed since: a new bid would now be too late
    await sup.quiesce()
    assert (await state_of(sup, auction_id)).status == "decision"
    placed = await sup.ask(auction_id, PostComment(by=S1, text="hello"), key=key("c1"))
    assert placed == first
    comments = (await state_of(sup, auction_id)).comments
    assert [c.text for c in comments.values()] == ["hello"]
    await sup.stop()


async def test_a_command_that_changes_nothing_stores_its_key_alone(
    supervisor: Supervisor, store: MemoryEventStore, clock: ManualClock
) -> None:
    auction_id = await open_auction(supervisor, clock)
    first = await supervisor.ask(auction_id, GiveRsvp(by=S1, response="maybe"), key=key("r1"))
    same = await supervisor.ask(auction_id, GiveRsvp(by=S1, response="maybe"), key=key("r2"))
    assert same.seq == first.seq  # nothing happened: no event, but its key is kept
    assert await store.find_keys(auction_id, "u-s1", ["r1", "r2"]) == {
        "r1": KeyRecord(auction_id, "u-s1", "r1", b"fp", first.seq, b"{}"),
        "r2": KeyRecord(auction_id, "u-s1", "r2", b"fp", same.seq, b"{}"),
    }
    assert len(await store.read_stream(auction_id)) == first.seq
    moved = await supervisor.ask(auction_id, bid("p1", 300))
    assert moved.seq > same.seq
    # The repeat of the no-op gets its own first reply (same seq), not a judgement anew.
    assert await supervisor.ask(auction_id, GiveRsvp(by=S1, response="maybe"), key=key("r2")) == (
        same
    )


async def test_create_auction_keys_are_per_user_and_join_a_creation_in_flight(
    supervisor: Supervisor,
) -> None:
    creates = [
        supervisor.create_auction(BUYER, terms(60), key=key("new-1", user="u-b")) for _ in range(5)
    ]
    replies = await asyncio.gather(*creates)
    assert len({r.fields["auction_id"] for r in replies}) == 1
    assert len(supervisor.cells()) == 1
    again = await supervisor.create_auction(BUYER, terms(60), key=key("new-1", user="u-b"))
    assert again == replies[0]
    with pytest.raises(DomainError) as refused:
        await supervisor.create_auction(BUYER, terms(90), key=key("new-1", b"x", user="u-b"))
    assert refused.value.code == "invalid"
    other = await supervisor.create_auction(BUYER, terms(60), key=key("new-1", user="u-b2"))
    assert other.fields["auction_id"] != again.fields["auction_id"]
    await supervisor.quiesce()
    assert len(supervisor.cells()) == 2


class UnsureStore(MemoryEventStore):
    """The real in-memory store, whose next append is stored but then reported as of unknown
    outcome (the connection broke during COMMIT)."""

    unsure = 0

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
        result = await super().append(
            stream_id,
            expected_seq,
            events,
            writer_token=writer_token,
            keys=keys,
            snapshot=snapshot,
            catalog=catalog,
        )
        if self.unsure:
            self.unsure -= 1
            raise OutcomeUnknown("the connection broke during COMMIT")
        return result


async def test_an_unknown_outcome_is_timeout_and_the_retry_learns_it(clock: ManualClock) -> None:
    store = UnsureStore()
    sup = Supervisor(store, clock, config=FAST)
    auction_id = await open_auction(sup, clock)
    store.unsure = 1
    with pytest.raises(OutcomeUnknown) as unsure:
        await sup.ask(auction_id, bid("p1", 300), key=key("b1"))
    assert unsure.value.code == "timeout"
    retried = await sup.ask(auction_id, bid("p1", 300), key=key("b1"))  # a restarted actor
    stored = await store.read_stream(auction_id)
    assert retried.seq == stored[-1].seq == 3
    placed = decode_event(stored[-1])
    assert isinstance(placed, BidPlaced)
    assert retried.fields == {"bid_ids": [placed.bid_id]}
    assert sup.stats.restarts == 0  # a storage failure, not a crash
    await sup.stop()

"""What an actor hands its subscribers (the gateway's hub) after each durable append: the
`Update`, and the `Subscriber` protocol they implement (`Resyncing` too, to catch up after a
crash). Kept apart from the actor so that readers of updates need not know how actors run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from auctionactors.domain.events import Event
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.runtime.solver import Solved


class Update(msgspec.Struct, frozen=True):
    """What subscribers get after each durable append: the events with their seqs and the state
    after them, with its solutions (`solved`: a big problem's best overall was found off the
    loop before publishing; the rest is computed on first read, once for every subscriber).
    The state is the actor's own: read it during `Subscriber.publish`, never keep it (the next
    command changes it)."""

    auction_id: str
    seq: int
    events: Sequence[Event]
    state: AuctionState
    solved: Solved

    @property
    def first_seq(self) -> int:
        return self.seq - len(self.events) + 1

    @property
    def solutions(self) -> Solutions:
        return self.solved.solutions


class Subscriber(Protocol):
    def publish(self, update: Update) -> None:
        """Called synchronously by the actor after each durable append, in seq order. Must not
        block; an exception is logged and never reaches the actor."""
        ...


class Resyncing(Protocol):
    async def resync(self, auction_id: str, state: AuctionState) -> None:
        """Optional on a subscriber: called by the supervisor after it rebuilt a crashed actor,
        before the actor takes its next message. The state may be ahead of the last update
        published (a crash between append and publish): catch up from the store."""
        ...

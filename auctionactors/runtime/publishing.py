"""What an actor hands its subscribers (the gateway's hub) for each command's events: the
`Update`, and the `Subscriber` protocol they implement (`Resyncing` too, to catch up after a
crash). Kept apart from the actor so that readers of updates need not know how actors run.

Publishing has two phases because a hot auction batches: its actor applies the events of
several commands one after another, stores them all in one write, then replies to each. Each
command's update is *prepared* (rendered) right after its events were applied, while the state
is as that command left it, and *delivered* only once the whole batch is durable; if storing
fails, the prepared deliveries are dropped, the actor is rebuilt from the store, and `resync`
brings subscribers up to date."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from auctionactors.domain.events import Event
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.runtime.solver import Solved

log = logging.getLogger(__name__)


class Update(msgspec.Struct, frozen=True):
    """One command's events with their seqs and the state after them, with its solutions
    (`solved`: a big problem's best overall was found off the loop before; the rest is computed
    on first read, once for every subscriber). The state is the actor's own: read it during
    `Subscriber.prepare`, never later (the next command of the batch changes it)."""

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


Delivery = Callable[[], None]


class Subscriber(Protocol):
    def follows(self, auction_id: str) -> bool:
        """Whether an update of the auction would be rendered now (someone is subscribed to
        it, or to every auction): only then does the actor prepare one, with its solutions
        ready. Called synchronously, in the actor, before `prepare`."""
        ...

    def prepare(self, update: Update) -> Delivery | None:
        """Called synchronously by the actor right after the update's events were applied to
        its state, before they are durable, in seq order. Render from the state now (it changes
        after the call) and send nothing: the returned delivery (if any) is called once the
        events are durable, in seq order, or dropped if storing them failed. Must not block; an
        exception (here or in the delivery) is logged and never reaches the actor."""
        ...


class Resyncing(Protocol):
    async def resync(self, auction_id: str, state: AuctionState) -> None:
        """Optional on a subscriber: called by the supervisor after it rebuilt a crashed actor,
        before the actor takes its next message. The state may be ahead of the last update
        published (a crash between append and publish): catch up from the store."""
        ...


async def resync_all(
    subscribers: Sequence[Subscriber], auction_id: str, state: AuctionState
) -> None:
    """Call `Resyncing.resync` on each subscriber that has it (a failure is logged: the others
    still catch up)."""
    for subscriber in subscribers:
        resync = getattr(subscriber, "resync", None)
        if resync is None:
            continue
        try:
            await resync(auction_id, state)
        except Exception:
            log.exception(
                "%s: resync of %r failed",
                auction_id,
                subscriber,
                extra={"auction_id": auction_id, "seq": state.seq},
            )

"""A follower: the read-only copy of an auction another node owns (cluster mode).

A node with subscribers of an auction it does not own keeps its state here, in the auction's
cell in place of an actor, and renders the views locally: subscriptions, ``get_view`` and
``since`` resumes work as on the owner. It starts from the store (the latest snapshot and the
events after it), catches every subscriber up from there (`resync_all`: what they may have
missed while nobody followed it here), then folds the events the owner appends, read from the
store whenever it is told (a tick: the owner's append was announced through LISTEN/NOTIFY, or
the node joined again and may have missed announcements), and publishes them like an actor,
already durable. Commands are refused with `NotOwner` (the gateway forwards them). It leaves
once nobody here follows the auction any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import NotOwner
from auctionactors.runtime.mailbox import Answering, Ask, Mailbox, Query, resolve
from auctionactors.runtime.publishing import Subscriber, Update, resync_all
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.solver import Solved, solve
from auctionactors.store.base import EventStore
from auctionactors.store.codec import decode_events

log = logging.getLogger(__name__)

LINGER_S = 5.0  # how long a follower nobody follows stays (a subscription may be on its way)


class Follower(Answering):
    def __init__(
        self,
        auction_id: str,
        *,
        store: EventStore,
        mailbox: Mailbox,
        subscribers: Sequence[Subscriber],
        owner_of: Callable[[str], str | None],
    ) -> None:
        self.auction_id = auction_id
        self.state: AuctionState | None = None
        self.solved: Solved | None = None
        self._store = store
        self._mailbox = mailbox
        self._subscribers = subscribers
        self._owner_of = owner_of

    async def run(self) -> None:
        """Follow until nobody here follows the auction and nothing is queued."""
        self.state = await rebuild(self._store, self.auction_id)
        if self.state is not None:
            await resync_all(self._subscribers, self.auction_id, self.state)
        while True:
            if (
                not self._mailbox.has_work()
                and not self._followed()
                and not await self._mailbox.wait_idle(LINGER_S)
            ):
                return
            message = await self._mailbox.get()
            if message is None:
                await self.catch_up()
            elif isinstance(message, Ask):
                owner = self._owner_of(self.auction_id)
                resolve(message.future, error=NotOwner(self.auction_id, owner))
            elif isinstance(message, Query):
                await self._query(message)

    def _followed(self) -> bool:
        return any(s.follows(self.auction_id) for s in self._subscribers)

    async def catch_up(self) -> None:
        """Fold and publish the events stored after the state's seq."""
        seq = self.state.seq if self.state is not None else 0
        stored = await self._store.read_stream(self.auction_id, from_seq=seq + 1)
        if not stored:
            return
        events = decode_events(stored)
        state = self.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        self.state = state
        self.solved = await solve(state, self.solved)
        update = Update(self.auction_id, state.seq, events, state, self.solved)
        for subscriber in self._subscribers:
            try:
                if subscriber.follows(self.auction_id):
                    delivery = subscriber.prepare(update)
                    if delivery is not None:
                        delivery()
            except Exception:
                log.exception("%s: subscriber %r failed", self.auction_id, subscriber)

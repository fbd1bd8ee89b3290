"""The auction actor: the only writer of its auction's stream.

It takes one message at a time from its mailbox. For a command: ``decide`` (pure) → append the
events (durable) → ``evolve`` the state → publish to subscribers → reply. Before every message it
acts on any deadline that has passed, and after every message it arms one timer for the next
stored deadline, so a bid after ``closes_at`` is refused even if the timer has not fired yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from auctionactors.domain.commands import CheckDeadlines
from auctionactors.domain.decide import decide, result_of
from auctionactors.domain.events import Event
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import (
    ActorCrashed,
    ConcurrencyError,
    DomainError,
    StorageUnavailable,
    Unavailable,
)
from auctionactors.runtime.clock import Clock, TimerHandle
from auctionactors.runtime.mailbox import Ask, Mailbox, Query, Reply
from auctionactors.runtime.stats import RuntimeStats
from auctionactors.store.base import EventStore
from auctionactors.store.codec import encode_event

log = logging.getLogger(__name__)

STORAGE_RETRY_S = 1


class Update(msgspec.Struct, frozen=True):
    """What subscribers get after each durable append: the events with their seqs and the state
    after them. The state is the actor's own: read it during `Subscriber.publish`, never keep it
    (the next command changes it)."""

    auction_id: str
    seq: int
    events: Sequence[Event]
    state: AuctionState

    @property
    def first_seq(self) -> int:
        return self.seq - len(self.events) + 1


class Subscriber(Protocol):
    def publish(self, update: Update) -> None:
        """Called synchronously by the actor after each durable append, in seq order. Must not
        block; an exception is logged and never reaches the actor."""
        ...


def resolve(
    future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    """Answer a caller unless it has stopped waiting (timed out or cancelled)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class AuctionActor:
    def __init__(
        self,
        auction_id: str,
        state: AuctionState | None,
        *,
        store: EventStore,
        clock: Clock,
        mailbox: Mailbox,
        subscribers: Sequence[Subscriber],
        stats: RuntimeStats,
    ) -> None:
        self.auction_id = auction_id
        self.state = state
        self._store = store
        self._clock = clock
        self._mailbox = mailbox
        self._subscribers = subscribers
        self._stats = stats
        self._timer: TimerHandle | None = None
        self._timer_deadline: int | None = None

    async def run(self) -> None:
        """Serve the mailbox until cancelled, or until the auction is final and nothing is
        queued (it is then passivated: the supervisor reloads it on the next message)."""
        self._mailbox.put_tick()  # deadlines that passed while the actor was down: act now
        try:
            while True:
                message = await self._mailbox.get()
                await self._act_on_deadlines()
                if isinstance(message, Ask):
                    await self._handle(message)
                elif isinstance(message, Query):
                    self._query(message)
                if self.state is not None and self.state.is_final and not self._mailbox.has_work():
                    return
                self._arm_timer()
        finally:
            self._cancel_timer()

    async def _act_on_deadlines(self) -> None:
        state = self.state
        if state is None:
            return
        deadline = state.next_deadline()
        now = self._clock.now()
        if deadline is None or deadline > now:
            return
        events = decide(state, CheckDeadlines(), now)
        if not events:
            return
        try:
            await self._commit(events)
        except StorageUnavailable:
            log.warning("%s: storage unavailable for a deadline; retrying", self.auction_id)
            self._stats.storage_failures += 1
            # Retry in a while, not at once: the one timer now stands for this (past) deadline,
            # so `_arm_timer` leaves it alone instead of re-arming it for the deadline itself,
            # which would fire at once and spin while the storage is down.
            self._cancel_timer()
            self._timer = self._clock.call_at(now + STORAGE_RETRY_S * SECOND, self._on_timer)
            self._timer_deadline = deadline

    async def _handle(self, ask: Ask) -> None:
        if ask.future.done():  # the caller gave up while it was queued: do not act for it
            return
        command = ask.command
        name = type(command).__name__
        try:
            events = decide(self.state, command, self._clock.now())
        except DomainError as refusal:
            self._stats.count_command(name, refusal.code)
            resolve(ask.future, error=refusal)
            return
        except Exception as exc:
            self._stats.count_command(name, "internal")
            resolve(ask.future, error=ActorCrashed(f"{self.auction_id}: {exc!r}"))
            raise
        if not events:
            seq = self.state.seq if self.state is not None else 0
            self._stats.count_command(name, "ok")
            resolve(ask.future, Reply(seq, {}))
            return
        try:
            seq = await self._commit(events)
        except StorageUnavailable as exc:
            self._stats.count_command(name, "unavailable")
            self._stats.storage_failures += 1
            resolve(ask.future, error=Unavailable(f"storage unavailable: {exc}"))
            return
        except ConcurrencyError as exc:
            # Another writer appended to our stream: our state is stale. Restart by replay.
            self._stats.count_command(name, "unavailable")
            resolve(ask.future, error=Unavailable(f"{self.auction_id} is restarting: {exc}"))
            raise
        except BaseException as exc:
            self._stats.count_command(name, "internal")
            resolve(ask.future, error=ActorCrashed(f"{self.auction_id}: {exc!r}"))
            raise
        self._stats.count_command(name, "ok")
        resolve(ask.future, Reply(seq, result_of(command, events)))

    async def _commit(self, events: list[Event]) -> int:
        """Persist, then apply, then publish. Returns the seq after the events."""
        expected = self.state.seq if self.state is not None else 0
        await self._store.append(self.auction_id, expected, [encode_event(e) for e in events])
        state = self.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        self.state = state
        update = Update(self.auction_id, state.seq, events, state)
        for subscriber in self._subscribers:
            try:
                subscriber.publish(update)
            except Exception:
                log.exception("%s: subscriber %r failed", self.auction_id, subscriber)
        return state.seq

    def _query(self, query: Query) -> None:
        try:
            result = query.fn(self.state)
        except Exception as exc:
            resolve(query.future, error=exc)
        else:
            resolve(query.future, result)

    def _arm_timer(self) -> None:
        """One timer, for the next stored deadline; left alone while that deadline stands."""
        deadline = self.state.next_deadline() if self.state is not None else None
        if deadline == self._timer_deadline and self._timer is not None:
            return
        self._cancel_timer()
        if deadline is not None:
            self._timer = self._clock.call_at(deadline, self._on_timer)
            self._timer_deadline = deadline

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        self._mailbox.put_tick()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_deadline = None

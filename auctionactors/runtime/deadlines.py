"""The actor's deadlines and the receipt barrier (PROTOCOL.md 1.1), a part of `AuctionActor`
kept in its own module.

A deadline D falls due when the timer heap wakes the auction or a command received at or after
D is taken (never a read). Then, before acting on D, the actor handles every queued command
received before D, one at a time (a crash leaves the others, and the message that made D due,
queued for the rebuilt actor), and waits (bounded, for each deadline) for those still on their
way (`Receipts`), woken by a released receipt or new mail, serving the reads queued meanwhile;
only then does it store D's events (and then those of the next deadline due, if any), and
handle the message that made D due. Event times never go back: a command is decided at max(its
receipt time, the auction's last event time).
"""

from __future__ import annotations

import asyncio
import logging

from auctionactors.domain.commands import CheckDeadlines
from auctionactors.domain.decide import decide
from auctionactors.domain.events import Event
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime.batch import Batch
from auctionactors.runtime.clock import Clock
from auctionactors.runtime.mailbox import Ask, Mailbox, Message, Query, resolve
from auctionactors.runtime.receipts import Receipts
from auctionactors.runtime.scheduler import Scheduler

log = logging.getLogger(__name__)

STORAGE_RETRY_S = 1
RECEIPT_WAIT_S = 1.0  # how long a deadline waits for frames received before it


class Deadlines:
    """The deadline half of `AuctionActor` (which defines what is declared here)."""

    auction_id: str
    state: AuctionState | None
    _clock: Clock
    _mailbox: Mailbox
    _receipts: Receipts
    _receipt_wait_s: float
    _scheduler: Scheduler
    _retry_for: int | None

    async def _handle(self, first: Ask, *, alone: bool = False) -> None:
        raise NotImplementedError

    async def _query(self, query: Query) -> None:
        raise NotImplementedError

    async def _apply(self, events: list[Event], batch: Batch) -> None:
        raise NotImplementedError

    async def _commit(self, batch: Batch) -> bool:
        raise NotImplementedError

    def _failure(self, exc: BaseException) -> BaseException:
        raise NotImplementedError

    async def _deadlines_before(self, message: Message | None) -> None:
        """Act on every deadline due before a command (received at or after it) or a tick
        (passed on the clock), after the commands received before it; a read: none."""
        if isinstance(message, Query):
            return
        waits: dict[int, float] = {}  # each deadline's own bounded wait: until when
        loop = asyncio.get_running_loop()
        while self.state is not None:
            deadline = self.state.next_deadline()
            at = message.received_at if message is not None else self._clock.now()
            if deadline is None or at < deadline:
                return
            early = self._mailbox.take_received_before(deadline)
            if early is not None:
                try:
                    await self._handle(early, alone=True)
                except BaseException as exc:
                    resolve(early.future, error=self._failure(exc))  # if `_handle` did not
                    raise
                continue  # it may have moved the deadline (soft close)
            if self._receipts.pending_before(deadline, self.auction_id):
                until = waits.setdefault(deadline, loop.time() + self._receipt_wait_s)
                if loop.time() < until:
                    await self._mail_or_receipt(deadline, until)
                    continue
                log.warning(
                    "%s: frames received before a deadline are late",
                    self.auction_id,
                    extra={"auction_id": self.auction_id},
                )
            if not await self._act_on(deadline):
                return

    async def _mail_or_receipt(self, deadline: int, until: float) -> None:
        """Serve the queued reads (a connection may need one before it sends the command awaited),
        then wait for new mail, a receipt before ``deadline`` released, or the loop time ``until``;
        both wake-ups registered before the reads, which may await, so none is missed."""
        with self._receipts.released_before(deadline, self.auction_id) as released:
            mail = asyncio.ensure_future(self._mailbox.next_put())
            try:
                for query in self._mailbox.take_queries():
                    await self._query(query)
                timeout = max(0.0, until - asyncio.get_running_loop().time())
                await asyncio.wait(
                    (released, mail), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                mail.cancel()

    async def _act_on(self, deadline: int) -> bool:
        """Store the due deadline's events (if a later one is due too, at this one's time: the
        later waits its turn); False if none or storage failed (the scheduler retries, calmly)."""
        state = self.state
        assert state is not None
        now = max(self._clock.now(), state.last_at)
        events = decide(state, CheckDeadlines(), now)
        mine = decide(state, CheckDeadlines(), max(deadline, state.last_at))
        events = events if len(events) == len(mine) else mine
        if not events:
            return False
        batch = Batch(state.seq)
        await self._apply(events, batch)
        if await self._commit(batch):
            return True
        log.warning(
            "%s: storage unavailable for a deadline; retrying",
            self.auction_id,
            extra={"auction_id": self.auction_id},
        )
        # Retry in a while, not at once: the scheduler's entry now stands for this (past)
        # deadline, so `_arm_timer` leaves it alone instead of re-arming it for the deadline
        # itself, which would fire at once and spin while the storage is down.
        self._retry_for = deadline
        self._scheduler.set(self.auction_id, now + STORAGE_RETRY_S * SECOND)
        return False

    def _arm_timer(self) -> None:
        """The auction's entry in the scheduler: its next stored deadline (left alone while a
        storage retry stands for that deadline)."""
        deadline = self.state.next_deadline() if self.state is not None else None
        if deadline is not None and deadline == self._retry_for:
            return
        self._retry_for = None
        self._scheduler.set(self.auction_id, deadline)

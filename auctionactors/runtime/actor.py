"""The auction actor: the only writer of its auction's stream.

It takes one message at a time from its mailbox. For a command: ``decide`` (pure) at the time
the server received it → append the events (durable, with the command's idempotency key) →
``evolve`` the state → publish to subscribers → reply. After every message it arms one timer for
the next stored deadline.

Deadlines and receipt time (PROTOCOL.md 1.1): a deadline D falls due when the timer fires or a
command received at or after D is taken (never a read). Then, before acting on D, the actor
handles every queued command received before D, one at a time (a crash leaves the others, and
the message that made D due, queued for the rebuilt actor), and waits (bounded, for each
deadline) for those still on their way (`Receipts`), woken by a released receipt or new mail,
serving the reads queued meanwhile; only then does it store D's events (and then those of the
next deadline due, if any), and handle the message that made D due. Event times never go back:
a command is decided at max(its receipt time, the auction's last event time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from auctionactors.domain.commands import CheckDeadlines, CreateAuction, SelectSolution
from auctionactors.domain.decide import decide, result_of
from auctionactors.domain.events import AuctionCanceled, AuctionClosed, AuctionExpired, Event
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import (
    ActorCrashed,
    CommandTimedOut,
    ConcurrencyError,
    DomainError,
    DuplicateKey,
    OutcomeUnknown,
    StorageUnavailable,
    StoreError,
    Unavailable,
)
from auctionactors.runtime.clock import Clock, TimerHandle
from auctionactors.runtime.keys import KeyCache, record_of, replayed
from auctionactors.runtime.mailbox import Ask, Mailbox, Message, Query, Reply, resolve
from auctionactors.runtime.publishing import Subscriber, Update
from auctionactors.runtime.receipts import Receipts
from auctionactors.runtime.solver import Solved, solve
from auctionactors.runtime.stats import RuntimeStats
from auctionactors.store.base import CatalogEntry, EventStore, KeyRecord, Snapshot
from auctionactors.store.codec import (
    catalog_entry,
    decode_snapshot,
    encode_event,
    encode_snapshot,
)

log = logging.getLogger(__name__)

STORAGE_RETRY_S = 1
RECEIPT_WAIT_S = 1.0  # how long a deadline waits for frames received before it
SNAPSHOT_EVERY = 1000  # events between snapshots of a state (0: no snapshots)
FINALISING = (AuctionClosed, AuctionExpired, AuctionCanceled)
_NO_SOLUTIONS = "the best overall offer cannot be computed now; retry, or select bid_ids"


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
        receipts: Receipts | None = None,
        receipt_wait_s: float = RECEIPT_WAIT_S,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.auction_id = auction_id
        self.state = state
        # The state's solutions, found when first needed (not at load: most loaded auctions are
        # never viewed) and before each publish; a big problem off the loop (`solver`).
        self.solved: Solved | None = None
        self._store = store
        self._clock = clock
        self._mailbox = mailbox
        self._subscribers = subscribers
        self._stats = stats
        self._receipts = receipts if receipts is not None else Receipts()
        self._receipt_wait_s = receipt_wait_s
        self._keys = KeyCache(store, auction_id)
        self._timer: TimerHandle | None = None
        self._timer_deadline: int | None = None
        self._snapshot_every = snapshot_every
        # The seq of the latest snapshot written, as far as this actor knows: a loaded state
        # counts as one (the next comes ``snapshot_every`` events after it).
        self._snapshot_seq = state.seq if state is not None else 0

    async def run(self) -> None:
        """Serve the mailbox until cancelled, or until the auction is final and nothing is
        queued (it is then passivated: the supervisor reloads it on the next message). An
        auction that does not exist (a refused or abandoned creation) leaves as soon as nothing
        is queued."""
        if self.state is not None:
            self._mailbox.put_tick()  # deadlines that passed while the actor was down: act now
        try:
            while True:
                if self.state is None and not self._mailbox.has_work():
                    return
                message = await self._mailbox.get()
                try:
                    await self._deadlines_before(message)
                except BaseException:
                    if message is not None:  # taken, never applied: for the rebuilt actor
                        self._mailbox.put_back(message)
                    raise
                if isinstance(message, Ask):
                    await self._handle(message)
                elif isinstance(message, Query):
                    await self._query(message)
                if self.state is not None and self.state.is_final and not self._mailbox.has_work():
                    return
                self._arm_timer()
        finally:
            self._cancel_timer()

    def _failure(self, exc: BaseException) -> BaseException:
        """What the caller of a message that was not handled is told (nothing was applied)."""
        if isinstance(exc, StoreError | asyncio.CancelledError):
            return Unavailable(f"{self.auction_id} is restarting: {exc!r}")
        return ActorCrashed(f"{self.auction_id}: {exc!r}")

    # --- deadlines ------------------------------------------------------------------------------

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
                    await self._handle(early)
                except BaseException as exc:
                    resolve(early.future, error=self._failure(exc))  # if `_handle` did not
                    raise
                continue  # it may have moved the deadline (soft close)
            if self._receipts.pending_before(deadline, self.auction_id):
                until = waits.setdefault(deadline, loop.time() + self._receipt_wait_s)
                if loop.time() < until:
                    await self._mail_or_receipt(deadline, until)
                    continue
                log.warning("%s: frames received before a deadline are late", self.auction_id)
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
        later waits its turn); False if none or storage failed (a timer retries, calmly)."""
        state = self.state
        assert state is not None
        now = max(self._clock.now(), state.last_at)
        events = decide(state, CheckDeadlines(), now)
        mine = decide(state, CheckDeadlines(), max(deadline, state.last_at))
        events = events if len(events) == len(mine) else mine
        if not events:
            return False
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
            return False
        return True

    # --- commands -------------------------------------------------------------------------------

    async def _handle(self, ask: Ask) -> None:
        if ask.future.done():  # the caller gave up while it was queued: do not act for it
            return
        ask.taken = True
        command = ask.command
        name = type(command).__name__
        keys = self._keys if not isinstance(command, CreateAuction) else KeyCache(self._store, "")
        if ask.key is not None and (record := keys.cached(ask.key)) is not None:
            self._answer_repeat(ask, name, record)
            return
        state = self.state
        now = ask.received_at if state is None else max(ask.received_at, state.last_at)
        solutions = None
        if (
            isinstance(command, SelectSolution)
            and command.solution is not None
            and state is not None
        ):
            # Reading the solutions changes nothing: solutions that cannot be computed refuse
            # the command (`unavailable`), never restart the actor (each retry would crash it).
            try:
                solutions = (await self._solved()).solutions
            except Exception as exc:
                log.warning("%s: select_solution without solutions: %r", self.auction_id, exc)
                if not await self._repeated(ask, name, keys):
                    self._stats.count_command(name, "unavailable")
                    resolve(ask.future, error=Unavailable(_NO_SOLUTIONS))
                return
        try:
            events = decide(state, command, now, solutions)
        except DomainError as refusal:
            if not await self._repeated(ask, name, keys):
                self._stats.count_command(name, refusal.code)
                resolve(ask.future, error=refusal)
            return
        except Exception as exc:
            self._stats.count_command(name, "internal")
            resolve(ask.future, error=ActorCrashed(f"{self.auction_id}: {exc!r}"))
            raise
        if not events and ask.key is None:  # nothing changes (an identical repeat)
            self._stats.count_command(name, "ok")
            resolve(ask.future, Reply(state.seq if state is not None else 0, {}))
            return
        # A keyed command that changes nothing still stores its key (alone), so that a repeat
        # gets this very reply, same seq, even after the auction has moved on.
        seq = (state.seq if state is not None else 0) + len(events)
        reply = Reply(seq, result_of(command, events))
        records = [] if ask.key is None else [record_of(keys.scope, ask.key, reply)]
        try:
            await self._commit(events, records)
        except DuplicateKey:
            if not await self._repeated(ask, name, keys):  # pragma: no cover - a store bug
                self._stats.count_command(name, "internal")
                resolve(ask.future, error=ActorCrashed("a duplicate key that is not stored"))
            return
        except StorageUnavailable as exc:  # nothing was written
            self._stats.count_command(name, "unavailable")
            self._stats.storage_failures += 1
            resolve(ask.future, error=Unavailable(f"storage unavailable: {exc}"))
            return
        except OutcomeUnknown as exc:
            # Stored or not, we cannot tell: answer `timeout` and restart by replay, since our
            # state may be stale. A retry with the same key learns the outcome.
            self._stats.count_command(name, "timeout")
            self._stats.storage_failures += 1
            resolve(ask.future, error=exc)
            raise
        except ConcurrencyError as exc:
            # Another writer appended to our stream: our state is stale. Restart by replay.
            self._stats.count_command(name, "unavailable")
            resolve(ask.future, error=Unavailable(f"{self.auction_id} is restarting: {exc}"))
            raise
        except asyncio.CancelledError:  # shutting down: the append may still complete
            self._stats.count_command(name, "timeout")
            resolve(ask.future, error=CommandTimedOut("the server stopped; outcome unknown"))
            raise
        except BaseException as exc:
            self._stats.count_command(name, "internal")
            resolve(ask.future, error=ActorCrashed(f"{self.auction_id}: {exc!r}"))
            raise
        for record in records:
            keys.remember(record)
        self._stats.count_command(name, "ok")
        resolve(ask.future, reply)

    async def _repeated(self, ask: Ask, name: str, keys: KeyCache) -> bool:
        """Answer ``ask`` from its key's stored record if the key was applied; False if it has
        no key or the key is new."""
        if ask.key is None:
            return False
        try:
            record = await keys.find(ask.key)
        except StoreError as exc:  # the lookup failed: nothing was applied
            self._stats.count_command(name, exc.code)
            resolve(ask.future, error=Unavailable(f"storage unavailable: {exc}"))
            return True
        if record is None:
            return False
        self._answer_repeat(ask, name, record)
        return True

    def _answer_repeat(self, ask: Ask, name: str, record: KeyRecord) -> None:
        assert ask.key is not None
        try:
            reply = replayed(record, ask.key)
        except DomainError as refusal:
            self._stats.count_command(name, refusal.code)
            resolve(ask.future, error=refusal)
            return
        self._stats.count_command(name, "ok")
        resolve(ask.future, reply)

    async def _commit(self, events: list[Event], keys: Sequence[KeyRecord] = ()) -> int:
        """Persist (with ``keys``), then apply, then publish. Returns the seq after the events.
        With no events, only ``keys`` are stored (commands that changed nothing)."""
        expected = self.state.seq if self.state is not None else 0
        encoded = [encode_event(e) for e in events]
        snapshot = self._snapshot_for(events)
        catalog = self._catalog_for(events)
        await self._store.append(
            self.auction_id, expected, encoded, keys=keys, snapshot=snapshot, catalog=catalog
        )
        if snapshot is not None:
            self._snapshot_seq = snapshot.seq
        if not events:  # keys only: nothing to apply or publish
            return expected
        state = self.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        self.state = state
        self.solved = await solve(state, self.solved)
        update = Update(self.auction_id, state.seq, events, state, self.solved)
        for subscriber in self._subscribers:
            try:
                delivery = subscriber.prepare(update)
                if delivery is not None:
                    delivery()
            except Exception:
                log.exception("%s: subscriber %r failed", self.auction_id, subscriber)
        return state.seq

    def _snapshot_for(self, events: list[Event]) -> Snapshot | None:
        """The snapshot to store with ``events``, if one is due: of the state they make final
        (folded on a copy: the state changes only once they are durable, and it happens once
        per auction), or, every ``snapshot_every`` events, of the current state (durable
        already; one encoding, on the loop: about 25 ms for 100k bids)."""
        state = self.state
        if self._snapshot_every <= 0 or state is None or not events:
            return None
        if any(isinstance(e, FINALISING) for e in events):
            after: AuctionState = decode_snapshot(self.auction_id, encode_snapshot(state))
            for event in events:
                after = evolve(after, event)
            if after.is_final:
                return encode_snapshot(after)
        if state.seq - self._snapshot_seq >= self._snapshot_every:
            return encode_snapshot(state)
        return None

    def _catalog_for(self, events: list[Event]) -> CatalogEntry | None:
        """The catalog row after ``events`` (folded on a copy: the state changes only once they
        are durable). Interim, until the batching actor applies before it stores."""
        if not events:
            return None
        after = self.state
        if after is not None:
            after = decode_snapshot(self.auction_id, encode_snapshot(after))
        for event in events:
            after = evolve(after, event)
        assert after is not None
        return catalog_entry(after)

    async def _solved(self) -> Solved:
        """The current state's solutions, ready to read."""
        assert self.state is not None
        if self.solved is None or self.solved.state is not self.state:
            self.solved = Solved(self.state)
        return await self.solved.ready()

    async def _query(self, query: Query) -> None:
        try:
            if query.solved:
                solved = None if self.state is None else await self._solved()
                result = query.fn(solved)
            else:
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

"""The auction actor: the only writer of its auction's stream.

It takes messages from its mailbox. For a command: ``decide`` (pure) at the time the server
received it, against the state the commands before it left → ``evolve`` the state and let the
subscribers render the update (`Subscriber.prepare`) → append the events of every command
decided in that batch in one write (durable, with their idempotency keys, the catalog row and a
snapshot when due) → deliver the updates → reply to each. If the write fails, the state is
rebuilt from the store (`batch.py`). After every message it sets its auction's next deadline in
the central timer heap (`Scheduler`); deadlines and the receipt barrier are in `deadlines.py`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence

from auctionactors.domain.catalog import summary_of
from auctionactors.domain.commands import CreateAuction, SelectSolution
from auctionactors.domain.decide import decide, result_of
from auctionactors.domain.events import AuctionCanceled, AuctionClosed, AuctionExpired, Event
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.errors import (
    ActorCrashed,
    CommandTimedOut,
    ConcurrencyError,
    DomainError,
    DuplicateKey,
    Fenced,
    OutcomeUnknown,
    StorageUnavailable,
    StoreError,
    Unavailable,
)
from auctionactors.runtime.batch import BATCH_LIMIT, Answer, Batch, deliver
from auctionactors.runtime.cells import SNAPSHOT_EVERY
from auctionactors.runtime.clock import Clock
from auctionactors.runtime.deadlines import RECEIPT_WAIT_S, Deadlines
from auctionactors.runtime.keys import KeyCache, record_of, replayed
from auctionactors.runtime.mailbox import Answering, Ask, Mailbox, Query, Reply, resolve
from auctionactors.runtime.publishing import Delivery, Subscriber, Update, resync_all
from auctionactors.runtime.receipts import Receipts
from auctionactors.runtime.replay import rebuild
from auctionactors.runtime.scheduler import Scheduler
from auctionactors.runtime.solver import Solved, solve
from auctionactors.runtime.stats import RuntimeStats
from auctionactors.store.base import CatalogEntry, EventStore, KeyRecord, Snapshot
from auctionactors.store.codec import encode_event, encode_snapshot, encode_summary

log = logging.getLogger(__name__)

FINALISING = (AuctionClosed, AuctionExpired, AuctionCanceled)
_NO_SOLUTIONS = "the best overall offer cannot be computed now; retry, or select bid_ids"


class AuctionActor(Answering, Deadlines):
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
        scheduler: Scheduler,
        receipt_wait_s: float = RECEIPT_WAIT_S,
        snapshot_every: int = SNAPSHOT_EVERY,
        passivate_after_s: float | None = None,
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
        self._scheduler = scheduler
        self._retry_for: int | None = None  # the deadline a storage retry stands for
        self._passivate_after_s = passivate_after_s
        self._snapshot_every = snapshot_every
        # The seq of the latest snapshot written, as far as this actor knows: a loaded state
        # counts as one (the next comes ``snapshot_every`` events after it).
        self._snapshot_seq = state.seq if state is not None else 0

    async def run(self) -> None:
        """Serve the mailbox until cancelled, or until it is passivated: when the auction is
        final and nothing is queued, or when it has been idle for ``passivate_after_s`` (its
        next deadline stays in the scheduler, which reloads it). The supervisor reloads it on
        the next message too. An auction that does not exist (a refused or abandoned creation)
        leaves as soon as nothing is queued."""
        if self.state is not None:
            self._mailbox.put_tick()  # deadlines that passed while the actor was down: act now
        while True:
            if not self._mailbox.has_work():
                if self.state is None or self.state.is_final:
                    return
                idle = self._passivate_after_s
                if idle is not None and (idle <= 0 or not await self._mailbox.wait_idle(idle)):
                    return  # no await between this look at the mailbox and leaving
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
            self._arm_timer()

    def _failure(self, exc: BaseException) -> BaseException:
        """What the caller of a message that was not handled is told (nothing was applied)."""
        if isinstance(exc, StoreError | asyncio.CancelledError):
            return Unavailable(f"{self.auction_id} is restarting: {exc!r}")
        return ActorCrashed(f"{self.auction_id}: {exc!r}")

    # --- commands -------------------------------------------------------------------------------

    async def _handle(self, first: Ask, *, alone: bool = False) -> None:
        """Decide ``first`` and, unless ``alone``, the commands queued right behind it (a batch,
        see `batch.py`), then store all their events in one write, deliver and answer."""
        batch = Batch(self.state.seq if self.state is not None else 0)
        ask: Ask | None = first
        joins = functools.partial(self._batches_with, batch=batch)
        try:
            while ask is not None:
                await self._decide(ask, batch)
                ask = None
                if not alone and len(batch) < BATCH_LIMIT and self.state is not None:
                    ask = self._mailbox.take_next_ask(joins)
        except BaseException:
            self._put_back(batch)
            raise
        await self._commit(batch)

    def _batches_with(self, ask: Ask, batch: Batch) -> bool:
        """Whether a queued command may join the batch: not a creation, not a repeat of a key
        in it (it will be answered from the stored key), and received before the next deadline
        (a deadline due goes first)."""
        state = self.state
        if state is None or isinstance(ask.command, CreateAuction) or batch.holds_key(ask):
            return False
        deadline = state.next_deadline()
        return deadline is None or ask.received_at < deadline

    async def _decide(self, ask: Ask, batch: Batch) -> None:
        """Decide one command against the current state and apply its events to it (they are
        stored with the batch); its answer waits in the batch."""
        if ask.future.done():  # the caller gave up while it was queued: do not act for it
            return
        ask.taken = True
        command = ask.command
        name = type(command).__name__
        keys = self._keys if not isinstance(command, CreateAuction) else KeyCache(self._store, "")
        if ask.key is not None and (record := keys.cached(ask.key)) is not None:
            self._answer_now(self._repeat(ask, name, keys, record))  # durable: need not wait
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
                log.warning(
                    "%s: select_solution without solutions: %r",
                    self.auction_id,
                    exc,
                    extra={"auction_id": self.auction_id, "seq": state.seq},
                )
                await self._refuse(ask, name, keys, Unavailable(_NO_SOLUTIONS), batch)
                return
        try:
            events = decide(state, command, now, solutions)
        except DomainError as refusal:
            await self._refuse(ask, name, keys, refusal, batch)
            return
        except Exception as exc:
            self._stats.count_command(name, "internal")
            resolve(ask.future, error=ActorCrashed(f"{self.auction_id}: {exc!r}"))
            raise
        if not events and ask.key is None:  # nothing changes (an identical repeat)
            batch.add(Answer(ask, name, keys, Reply(state.seq if state is not None else 0, {})))
            return
        # A keyed command that changes nothing still stores its key (alone), so that a repeat
        # gets this very reply, same seq, even after the auction has moved on.
        seq = (state.seq if state is not None else 0) + len(events)
        reply = Reply(seq, result_of(command, events))
        record = None if ask.key is None else record_of(keys.scope, ask.key, reply)
        batch.add(Answer(ask, name, keys, reply, record=record))
        await self._apply(events, batch)

    async def _refuse(
        self, ask: Ask, name: str, keys: KeyCache, refusal: BaseException, batch: Batch
    ) -> None:
        """A refused command: answered from its key's stored record if the key was applied
        (a repeat), else with the refusal."""
        if ask.key is not None:
            try:
                record = await keys.find(ask.key)
            except StoreError as exc:  # the lookup failed: nothing was applied
                batch.add(Answer(ask, name, keys, error=Unavailable(f"storage unavailable: {exc}")))
                return
            if record is not None:
                self._answer_now(self._repeat(ask, name, keys, record))  # durable already
                return
        batch.add(Answer(ask, name, keys, error=refusal))

    def _repeat(self, ask: Ask, name: str, keys: KeyCache, record: KeyRecord) -> Answer:
        assert ask.key is not None
        try:
            return Answer(ask, name, keys, replayed(record, ask.key))
        except DomainError as refusal:
            return Answer(ask, name, keys, error=refusal)

    async def _apply(self, events: list[Event], batch: Batch) -> None:
        """Fold one command's events into the state (before they are durable: nothing reads
        the state meanwhile, and a failed write rebuilds it) and prepare its update."""
        state = self.state
        for event in events:
            state = evolve(state, event)
        assert state is not None
        self.state = state
        batch.events.extend(events)
        # Solutions only for subscribers that render this auction now (a hot auction nobody
        # watches needs none per command: the search would dominate its cost).
        followed = [s for s in self._subscribers if self._follows(s)]
        if len(followed) < len(self._subscribers):
            batch.unfollowed.update(id(s) for s in self._subscribers if s not in followed)
        if not followed:
            self.solved = None  # found when first read (`_solved`)
            return
        batch.deliveries += await self._prepare(followed, events)

    async def _prepare(self, subscribers: list[Subscriber], events: list[Event]) -> list[Delivery]:
        """The update of ``events`` (the current state after them, its solutions found first)
        as each of ``subscribers`` renders it: their deliveries."""
        state = self.state
        assert state is not None
        self.solved = await solve(state, self.solved)
        update = Update(self.auction_id, state.seq, events, state, self.solved)
        deliveries: list[Delivery] = []
        for subscriber in subscribers:
            try:
                delivery = subscriber.prepare(update)
            except Exception:
                log.exception(
                    "%s: subscriber %r failed",
                    self.auction_id,
                    subscriber,
                    extra={"auction_id": self.auction_id, "seq": update.seq},
                )
                continue
            if delivery is not None:
                deliveries.append(delivery)
        return deliveries

    def _follows(self, subscriber: Subscriber) -> bool:
        try:
            return subscriber.follows(self.auction_id)
        except Exception:  # it is asked to prepare, which fails the same way (and is logged)
            return True

    async def _commit(self, batch: Batch) -> bool:
        """Store the batch in one write (events, keys, snapshot, catalog row), then deliver its
        updates and answer its commands. If the write fails, nothing of it is stored: every
        command is told so, and a state that had the batch applied is rebuilt from the store."""
        records = batch.records
        if not batch.events and not records:  # refusals and repeats: nothing to store
            batch.answer(self._stats)
            return True
        state = self.state
        catalog = snapshot = None
        try:
            if batch.events:
                assert state is not None
                catalog = self._catalog_row(state)
                snapshot = self._snapshot_for(state, batch.events)
            encoded = [encode_event(e) for e in batch.events]
            await self._store.append(
                self.auction_id,
                batch.expected_seq,
                encoded,
                keys=records,
                snapshot=snapshot,
                catalog=catalog,
            )
        except DuplicateKey:  # a key stored by an earlier life of this actor (a lost reply)
            await self._after_duplicate(batch)
            return False
        except StorageUnavailable as exc:  # nothing was written
            self._stats.storage_failures += 1
            why = f"storage unavailable: {exc}"
            batch.fail(self._stats, "unavailable", lambda: Unavailable(why))
            await self._roll_back(batch)
            return False
        except OutcomeUnknown as exc:
            # Stored or not, we cannot tell: answer `timeout` and restart by replay. A retry
            # with the same key learns the outcome.
            self._stats.storage_failures += 1
            why = str(exc)
            batch.fail(self._stats, "timeout", lambda: OutcomeUnknown(why))
            raise
        except (ConcurrencyError, Fenced) as exc:
            # Another writer appended to our stream: our state is stale. Restart by replay. Or
            # (cluster mode) another node owns it now: the supervisor lets it go.
            why = f"{self.auction_id} is restarting: {exc}"
            batch.fail(self._stats, "unavailable", lambda: Unavailable(why))
            raise
        except asyncio.CancelledError:  # shutting down: the append may still complete
            batch.fail(
                self._stats,
                "timeout",
                lambda: CommandTimedOut("the server stopped; outcome unknown"),
            )
            raise
        except BaseException as exc:
            why = f"{self.auction_id}: {exc!r}"
            batch.fail(self._stats, "internal", lambda: ActorCrashed(why))
            raise
        if snapshot is not None:
            self._snapshot_seq = snapshot.seq
        self._stats.count_commit(len(batch))
        batch.deliver()
        await self._deliver_late(batch)
        batch.answer(self._stats)
        return True

    async def _deliver_late(self, batch: Batch) -> None:
        """A subscriber that followed nobody of this auction when a command of the batch was
        applied, and does now (a `subscribe_all` that began while the batch was written), gets
        the batch's update from the stored state: else it could miss the auction until its
        next change."""
        state = self.state
        if not batch.unfollowed or not batch.events or state is None:
            return
        late = [s for s in self._subscribers if id(s) in batch.unfollowed and self._follows(s)]
        if late:
            deliver(await self._prepare(late, batch.events))

    async def _after_duplicate(self, batch: Batch) -> None:
        """The write was refused for a key already stored: answer the commands whose keys were
        applied from their records; the others go back to the mailbox, in order, to be decided
        again on the rebuilt state (all that are left, if a lookup fails)."""
        pending = [a for a in batch.answers if not a.ask.future.done()]
        again: list[Ask] = []
        try:
            while pending:
                a = pending[0]
                record = None if a.ask.key is None else await a.keys.find(a.ask.key)
                pending.pop(0)
                if record is not None:
                    self._answer_now(self._repeat(a.ask, a.name, a.keys, record))
                else:
                    again.append(a.ask)
        finally:
            for ask in reversed(again + [a.ask for a in pending]):
                ask.taken = False
                self._mailbox.put_back(ask)
        await self._roll_back(batch)

    def _answer_now(self, answer: Answer) -> None:
        single = Batch(0)
        single.add(answer)
        single.answer(self._stats)

    def _put_back(self, batch: Batch) -> None:
        """A crash while deciding: the batch's undecided and unanswered commands go back to the
        mailbox (nothing of the batch was stored) for the rebuilt actor."""
        for a in reversed(batch.answers):
            if not a.ask.future.done():
                a.ask.taken = False
                self._mailbox.put_back(a.ask)

    async def _roll_back(self, batch: Batch) -> None:
        """Undo a batch that was applied but not stored: rebuild the state from the store (a
        failure here restarts the actor, which rebuilds it with a backoff)."""
        if not batch.events:
            return
        self.solved = None
        self.state = await rebuild(self._store, self.auction_id)
        if self.state is not None:  # what subscribers keep of it (a cache) is rebuilt too
            await resync_all(self._subscribers, self.auction_id, self.state)

    def _catalog_row(self, state: AuctionState) -> CatalogEntry:
        """The state's catalog row (`codec.catalog_entry`), its summary made again only when
        something it shows changed (`catalog.summary_of`: a bid changes only the seq, so a hot
        auction's rows are cheap)."""
        return encode_summary(summary_of(state))

    def _snapshot_for(self, state: AuctionState, events: list[Event]) -> Snapshot | None:
        """The snapshot to store with ``events`` (already applied to ``state``), if one is due:
        when they make the auction final (once per auction), or every ``snapshot_every`` events
        (one encoding, on the loop: the bids placed since the last one, the older ones copied)."""
        if self._snapshot_every <= 0:
            return None
        if state.is_final and any(isinstance(e, FINALISING) for e in events):
            return encode_snapshot(state)
        if state.seq - self._snapshot_seq >= self._snapshot_every:
            return encode_snapshot(state)
        return None

"""The supervisor: one actor task per live auction, restarted by replay when it crashes.

Each auction has a *cell* that outlives its actor: the mailbox (so commands queued behind a
crash are handled by the restarted actor), the restart history and the status operators see.
A cell whose actor crashes too often in a short time is **quarantined**: its commands are
answered `unavailable` until an operator revives it. A storage outage is not a crash: a rebuild
that fails with `StorageUnavailable` is retried with a capped exponential backoff (the cell is
"restarting"), never counted towards quarantine.

Actors are lazy: `start` loads none, it arms the central timer heap (`Scheduler`) from the
catalog, and an actor is loaded (its state rebuilt from the latest snapshot) only when a message
or a deadline needs it. A final auction's actor is passivated once idle, any other after
``passivate_after_s`` idle; its next deadline stays in the heap. An auction that does not exist
after its first command (a refused creation) leaves at once and its cell is removed.

Timeouts: an ask not answered in ``ask_timeout_s`` is answered `unavailable` if its actor has not
taken it yet (it is then skipped: never applied), and `timeout` (`CommandTimedOut`) if it was
taken (it may still take effect; a retry with the same key learns the outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from auctionactors.domain.commands import AnyCommand, CreateAuction
from auctionactors.domain.parties import Caller
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import AuctionTerms
from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import (
    CommandTimedOut,
    DomainError,
    Fenced,
    OutcomeUnknown,
    StorageUnavailable,
    Unavailable,
)
from auctionactors.runtime.actor import AuctionActor
from auctionactors.runtime.cells import Cell, CellInfo, SupervisorConfig
from auctionactors.runtime.clock import Clock
from auctionactors.runtime.ids import alias_salt
from auctionactors.runtime.keys import replayed
from auctionactors.runtime.mailbox import Ask, CommandKey, Query, Reply, resolve
from auctionactors.runtime.publishing import Subscriber, resync_all
from auctionactors.runtime.receipts import Receipt, Receipts
from auctionactors.runtime.remote import Remote
from auctionactors.runtime.replay import ReplayFailed, rebuild
from auctionactors.runtime.scheduler import Scheduler
from auctionactors.runtime.solver import Solved
from auctionactors.runtime.stats import RuntimeStats
from auctionactors.runtime.timeouts import AskTimeouts
from auctionactors.store.base import EventStore

log = logging.getLogger(__name__)

T = TypeVar("T")


def _time_out(message: Ask | Query, auction_id: str) -> None:
    if isinstance(message, Ask) and message.taken:
        error: Exception = CommandTimedOut(f"auction {auction_id} did not answer in time")
    else:
        error = Unavailable(f"auction {auction_id} did not answer in time")
    resolve(message.future, error=error)


class Supervisor(Remote):
    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        *,
        config: SupervisorConfig | None = None,
        subscribers: list[Subscriber] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config or SupervisorConfig()
        self.subscribers: list[Subscriber] = subscribers if subscribers is not None else []
        self.stats = RuntimeStats()
        self.receipts = Receipts()  # the gateway registers every frame's arrival here
        self._cells: dict[str, Cell] = {}
        self._creating: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._closing = False
        self._timeouts = AskTimeouts(_time_out)
        self.scheduler = Scheduler(clock, self._wake)
        self._alone()

    # --- life of the supervisor ---------------------------------------------------------------

    async def start(self) -> int:
        """Arm the timer heap with every stored auction's next deadline, from the catalog (a
        deadline passed while down falls due at once); no actor is loaded. Returns the number
        of auctions stored."""
        await self.load_deadlines(self.owns)
        return await self.store.catalog_count()

    def _wake(self, auction_id: str) -> None:
        """A deadline in the heap fell due: load the auction if it is passivated and tell its
        actor (a quarantined one acts on nothing until revived)."""
        if self._closing or not self.owns(auction_id):
            return
        cell = self._cells.get(auction_id) or self._spawn(auction_id, new=False)
        if cell.status != "quarantined":
            cell.mailbox.put_tick()

    async def quiesce(self) -> None:
        """Wait until every mailbox is empty and every actor waits for work: the point at which
        tests look at the results (never sleeps)."""
        while True:
            busy = [c for c in list(self._cells.values()) if not c.mailbox.idle.is_set()]
            if not busy:
                return
            await asyncio.gather(*(c.mailbox.idle.wait() for c in busy))

    async def stop(self) -> None:
        """Graceful shutdown: stop intake, let the actors drain their mailboxes, stop them."""
        self._closing = True
        self.scheduler.stop()
        try:
            await asyncio.wait_for(self.quiesce(), self.config.drain_timeout_s)
        except TimeoutError:
            log.warning("shutdown: mailboxes not drained in time")
        cells = list(self._cells.values())
        for cell in cells:
            if cell.task is not None:
                cell.task.cancel()
        for cell in cells:
            if cell.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await cell.task
            for message in cell.mailbox.drain():
                resolve(message.future, error=Unavailable("the server is shutting down"))
        self._cells.clear()

    # --- asking ---------------------------------------------------------------------------------

    async def create_auction(
        self,
        caller: Caller,
        terms: AuctionTerms,
        *,
        receipt: Receipt | None = None,
        key: CommandKey | None = None,
        admit: Callable[[], None] | None = None,
    ) -> Reply:
        """Create an auction under a fresh id (ids are made here, never in the domain).

        With a key (per user): a key already applied is answered with the stored reply (the
        same ``auction_id``), and a creation with the same user and key still in flight is
        waited for first, so one key never creates two auctions. ``admit`` is called just before
        a new auction is made, never for a repeat answered from its key (a quota raises there:
        a retry of a creation that was applied is never refused by it)."""
        if key is None:
            if admit is not None:
                admit()
            return await self._create(caller, terms, receipt, None)
        slot = (key.user_id, key.key)
        try:
            while (running := self._creating.get(slot)) is not None:
                await asyncio.wait([running])
        finally:
            if receipt is not None:
                receipt.release()  # its time is kept; do not hold deadlines back meanwhile
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._creating[slot] = done
        try:
            found = await self.store.find_keys("", key.user_id, [key.key])
            if key.key in found:
                return replayed(found[key.key], key)
            if admit is not None:
                admit()
            return await self._create(caller, terms, receipt, key)
        finally:
            del self._creating[slot]
            done.set_result(None)

    async def _create(
        self, caller: Caller, terms: AuctionTerms, receipt: Receipt | None, key: CommandKey | None
    ) -> Reply:
        auction_id = self._new_id()
        self._spawn(auction_id, new=True)
        command = CreateAuction(
            by=caller, auction_id=auction_id, terms=terms, alias_salt=alias_salt()
        )
        return await self.ask(auction_id, command, receipt=receipt, key=key)

    async def ask(
        self,
        auction_id: str,
        command: AnyCommand,
        *,
        receipt: Receipt | None = None,
        key: CommandKey | None = None,
    ) -> Reply:
        """Send a command and wait for its reply, which comes only once its events are durable.
        ``receipt`` is when the server received it (now by default): the command is decided at
        that time. Raises `DomainError` (a refusal), `Unavailable` (not applied),
        `CommandTimedOut` or `OutcomeUnknown` (``timeout``: may have been applied) or
        `ActorCrashed`."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        received_at = receipt.at if receipt is not None else self.clock.now()
        message = Ask(command, future, received_at, key)
        return await self._send(auction_id, message, future, receipt)

    async def query(self, auction_id: str, fn: Callable[[AuctionState | None], T]) -> T:
        """Run ``fn`` on the auction's state inside its actor, between two commands."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return await self._send(auction_id, Query(fn, future), future)

    async def query_solved(self, auction_id: str, fn: Callable[[Solved | None], T]) -> T:
        """`query` with the state's solutions: ``fn`` gets the state and its solutions, ready to
        read (a big problem's best overall is found off the event loop first)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return await self._send(auction_id, Query(fn, future, solved=True), future)

    async def _send(
        self,
        auction_id: str,
        message: Ask | Query,
        future: asyncio.Future[T],
        receipt: Receipt | None = None,
    ) -> T:
        try:
            if self._closing:
                raise Unavailable("the server is shutting down")
            cell = self._cell_for(auction_id, message)
            if cell.status == "quarantined":
                raise Unavailable(f"auction {auction_id} is quarantined: {cell.last_error}")
            cell.mailbox.put(message)
        finally:
            if receipt is not None:
                receipt.release()  # queued (or refused): the receipt barrier need not wait
        # Not wait_for + shield, nor a timer per ask: this is the hot path of every command
        # (`AskTimeouts`). At the deadline, the future is answered `unavailable` if the message
        # is still queued (the actor then skips it), `timeout` if the actor has taken it (see
        # `_time_out`).
        self._timeouts.add(message, auction_id, self.config.ask_timeout_s)
        return await future

    # --- operators ------------------------------------------------------------------------------

    def cells(self) -> list[CellInfo]:
        return [c.info() for c in self._cells.values()]

    def cell(self, auction_id: str) -> CellInfo | None:
        cell = self._cells.get(auction_id)
        return cell.info() if cell is not None else None

    def revive(self, auction_id: str) -> CellInfo:
        """Restart a quarantined auction by replaying its events."""
        cell = self._cells.get(auction_id)
        if cell is None or cell.status != "quarantined":
            raise DomainError("invalid", f"auction {auction_id} is not quarantined")
        cell.crash_times.clear()
        cell.status = "starting"
        cell.mailbox.idle.clear()
        cell.task = asyncio.get_running_loop().create_task(self._run(cell))
        return cell.info()

    # --- the cells ------------------------------------------------------------------------------

    def _spawn(self, auction_id: str, *, new: bool, follower: bool = False) -> Cell:
        """The auction's cell with its actor task: never a second one beside a running cell (an
        existing cell is reused; a new auction under an id in use is refused)."""
        existing = self._cells.get(auction_id)
        if existing is not None:
            if new:
                raise Unavailable(f"auction id {auction_id} is in use; retry")
            return existing
        cell = Cell(auction_id, self.config.mailbox_capacity, new=new)
        self._cells[auction_id] = cell
        self._after_following(cell)
        run = self._follow(cell) if follower else self._run(cell)
        cell.task = asyncio.get_running_loop().create_task(run, name=f"auction-{auction_id}")
        return cell

    async def _run(self, cell: Cell) -> None:
        while True:
            try:
                state = await rebuild(self.store, cell.auction_id)
                cell.outages = 0
                if state is None and not cell.new:
                    self._forget(cell, DomainError("not_found", "auction not found"))
                    return
                if cell.crashed and state is not None:
                    await resync_all(self.subscribers, cell.auction_id, state)
                cell.crashed = False
                cell.new = False
                cell.status = "live"
                if state is not None:
                    log.info(
                        "%s loaded at seq %d",
                        cell.auction_id,
                        state.seq,
                        extra={"auction_id": cell.auction_id, "seq": state.seq},
                    )
                cell.actor = AuctionActor(
                    cell.auction_id,
                    state,
                    store=self.store,
                    clock=self.clock,
                    mailbox=cell.mailbox,
                    subscribers=self.subscribers,
                    stats=self.stats,
                    receipts=self.receipts,
                    scheduler=self.scheduler,
                    receipt_wait_s=self.config.receipt_wait_s,
                    snapshot_every=self.config.snapshot_every,
                    passivate_after_s=self.config.passivate_after_s,
                )
                await cell.actor.run()
                # Passivated (final and idle, or idle long enough), or never created: leave. No
                # await between the actor's last look at its mailbox and leaving the registry, so
                # no message can slip in between.
                if cell.actor.state is not None:
                    self.stats.passivations += 1
                    seq = cell.actor.state.seq
                    log.info(
                        "%s passivated at seq %d",
                        cell.auction_id,
                        seq,
                        extra={"auction_id": cell.auction_id, "seq": seq},
                    )
                self._forget(cell, None)
                return
            except asyncio.CancelledError:
                raise
            except Fenced as exc:  # another node owns it now: leave, never restart here
                self._forget(cell, exc)
                return
            except Exception as exc:
                if not await self._after_crash(cell, exc):
                    return

    async def _after_crash(self, cell: Cell, exc: Exception) -> bool:
        """Record a crash; back off and return True to restart, or quarantine and return False.
        A storage failure is not a crash: it backs off (capped) and retries for as long as it
        lasts, never counting towards quarantine."""
        cell.last_error = f"{type(exc).__name__}: {exc}"
        cell.crashed = True
        cell.status = "restarting"
        if isinstance(exc, StorageUnavailable | OutcomeUnknown):
            if cell.new and not cell.mailbox.awaited():  # a creation nobody waits for now
                self._forget(cell, None)
                return False
            cell.outages += 1
            self.stats.storage_failures += 1
            if cell.outages & (cell.outages - 1) == 0:  # the 1st, 2nd, 4th, 8th...: no flood
                log.warning(
                    "%s: storage unavailable (%s); retrying (%d)",
                    cell.auction_id,
                    exc,
                    cell.outages,
                    extra={"auction_id": cell.auction_id},
                )
            base, cap = self.config.storage_backoff_base_s, self.config.storage_backoff_max_s
            await asyncio.sleep(min(cap, base * 2 ** min(cell.outages - 1, 30)))
            return True
        now = self.clock.now()
        cell.restarts += 1
        self.stats.restarts += 1
        cell.crash_times.append(now)
        window = round(self.config.restart_window_s * SECOND)
        while cell.crash_times and cell.crash_times[0] < now - window:
            cell.crash_times.popleft()
        # A poisoned stream (an event that cannot be decoded or applied) fails the same way on
        # every replay: quarantine it at once instead of backing off through futile restarts.
        poisoned = isinstance(exc, ReplayFailed)
        if poisoned or len(cell.crash_times) > self.config.max_restarts:
            log.error(
                "%s quarantined after %d crashes: %s",
                cell.auction_id,
                cell.restarts,
                exc,
                extra=_where(cell.auction_id, exc),
            )
            cell.status = "quarantined"
            self.stats.quarantines += 1
            for message in cell.mailbox.drain():
                resolve(message.future, error=Unavailable(f"quarantined: {cell.last_error}"))
            cell.mailbox.idle.set()
            return False
        log.warning(
            "%s crashed (%s); restarting by replay",
            cell.auction_id,
            cell.last_error,
            extra=_where(cell.auction_id, exc),
        )
        n = len(cell.crash_times)
        delay = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (n - 1))
        await asyncio.sleep(delay)
        return True

    def _forget(self, cell: Cell, error: BaseException | None) -> None:
        if self._cells.get(cell.auction_id) is cell:
            del self._cells[cell.auction_id]
        # A passivating actor leaves only with an empty mailbox, so ``error`` is None only when
        # there is nothing to answer; never leave a caller waiting all the same.
        left = error or Unavailable(f"auction {cell.auction_id} was passivated; retry")
        for message in cell.mailbox.drain():
            resolve(message.future, error=left)
        cell.mailbox.idle.set()


def _where(auction_id: str, exc: BaseException) -> dict[str, object]:
    """The log's ``extra`` for a crash: the auction, and the seq that poisoned it if known."""
    seq = getattr(exc, "seq", None)
    return {"auction_id": auction_id} if seq is None else {"auction_id": auction_id, "seq": seq}

"""Cluster mode's part of the supervisor: auctions of partitions handed back or lost, and the
followers of auctions owned elsewhere (`follower.Follower`). A mixin of `Supervisor`, kept
apart so that the single-node supervisor reads on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable

from auctionactors.errors import NotOwner, Unavailable
from auctionactors.runtime.cells import Cell, SupervisorConfig
from auctionactors.runtime.follower import Follower
from auctionactors.runtime.mailbox import Ask, Query
from auctionactors.runtime.publishing import Subscriber
from auctionactors.runtime.scheduler import Scheduler
from auctionactors.store.base import EventStore

log = logging.getLogger(__name__)


class Remote:
    """What `Supervisor` has that these methods use."""

    store: EventStore
    config: SupervisorConfig
    subscribers: list[Subscriber]
    scheduler: Scheduler
    owns: Callable[[str], bool]
    owner_of: Callable[[str], str | None]
    follow_remote: bool
    _cells: dict[str, Cell]
    _followed: set[str]
    _closing: bool

    def _spawn(self, auction_id: str, *, new: bool, follower: bool = False) -> Cell:
        raise NotImplementedError

    def _alone(self) -> None:
        """Single node: this node owns every auction. Cluster mode (`takeover.Takeover`)
        replaces ``owns`` (whether this node owns an auction) and ``owner_of`` (the node that
        does when not), and sets ``follow_remote`` (reads of auctions owned elsewhere go to a
        `Follower`)."""
        self.owns = lambda _auction_id: True
        self.owner_of = lambda _auction_id: None
        self.follow_remote = False
        self._followed = set()  # followers dropped: the actor taking over resyncs

    async def load_deadlines(self, which: Callable[[str], bool]) -> None:
        """Arm the timer heap with the stored next deadline of every auction ``which`` selects
        (those passed fall due at once: acted on without extra time)."""
        self.scheduler.load([(a, at) for a, at in await self.store.scheduled() if which(a)])

    def _new_id(self) -> str:
        """A fresh auction id, in a partition this node owns (cluster mode: a few tries)."""
        for _ in range(10_000):
            auction_id = f"a-{secrets.token_hex(6)}"
            if self.owns(auction_id):
                return auction_id
        raise Unavailable("this node owns no partition yet; retry")

    def _cell_for(self, auction_id: str, message: Ask | Query) -> Cell:
        """The cell a message goes to: the auction's actor (loaded if passivated) where this
        node owns it, else its follower (`_following`)."""
        if not self.owns(auction_id):
            return self._following(auction_id, message)
        return self._cells.get(auction_id) or self._spawn(auction_id, new=False)

    def _after_following(self, cell: Cell) -> None:
        """A new cell of an auction followed here before: its subscribers catch up first."""
        if cell.auction_id in self._followed:
            self._followed.discard(cell.auction_id)
            cell.crashed = True

    def _forget(self, cell: Cell, error: BaseException | None) -> None:
        raise NotImplementedError

    async def release(self, which: Callable[[str], bool]) -> None:
        """Let the actors of the auctions ``which`` selects handle what is queued (bounded by
        ``drain_timeout_s``), then `drop` them (cluster mode: partitions handed back)."""
        cells = [c for c in self._cells.values() if which(c.auction_id)]
        if cells:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(c.mailbox.idle.wait() for c in cells)),
                    self.config.drain_timeout_s,
                )
        self.drop(which)

    def drop(self, which: Callable[[str], bool]) -> None:
        """Stop the actors of the auctions ``which`` selects at once and forget their deadlines
        (cluster mode: partitions lost). Queued messages are answered `NotOwner`; an append
        under way is cancelled (answered ``timeout``: outcome unknown)."""
        self.scheduler.drop(which)
        for cell in [c for c in self._cells.values() if which(c.auction_id)]:
            if cell.follower is not None:
                self._followed.add(cell.auction_id)
            if cell.task is not None:
                cell.task.cancel()
            self._forget(cell, NotOwner(cell.auction_id, None))

    def _following(self, auction_id: str, message: Ask | Query) -> Cell:
        """The follower cell of an auction owned elsewhere, for a read; `NotOwner` for a
        command (or without ``follow_remote``)."""
        cell = self._cells.get(auction_id)
        if (
            isinstance(message, Query)
            and self.follow_remote
            and (cell is None or cell.follower is not None)
        ):
            return cell or self._spawn(auction_id, new=False, follower=True)
        raise NotOwner(auction_id, self.owner_of(auction_id))

    def notice(self, auction_id: str) -> None:
        """Cluster mode: another node appended to the auction. Its follower here catches up;
        a followed auction without one gets one (it starts from the store)."""
        if self._closing or self.owns(auction_id):
            return
        cell = self._cells.get(auction_id)
        if cell is None:
            if any(s.follows(auction_id) for s in self.subscribers):
                self._spawn(auction_id, new=False, follower=True)
        elif cell.follower is not None:
            cell.mailbox.put_tick()

    def notice_all(self) -> None:
        """Every follower catches up (announcements may have been missed meanwhile)."""
        for cell in list(self._cells.values()):
            if cell.follower is not None:
                cell.mailbox.put_tick()

    async def _follow(self, cell: Cell) -> None:
        cell.follower = Follower(
            cell.auction_id,
            store=self.store,
            mailbox=cell.mailbox,
            subscribers=self.subscribers,
            owner_of=self.owner_of,
        )
        cell.status = "live"
        try:
            await cell.follower.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: following failed: %r", cell.auction_id, exc)
            self._forget(cell, Unavailable(f"auction {cell.auction_id}: following failed"))
            return
        self._forget(cell, None)

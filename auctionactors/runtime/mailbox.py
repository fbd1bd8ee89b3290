"""The bounded mailbox of one auction: commands and queries in arrival order, plus a wake-up
flag for the deadline timer that never counts against the bound (a deadline is never dropped)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from auctionactors.domain.commands import AnyCommand
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import Instant
from auctionactors.errors import Unavailable
from auctionactors.runtime.solver import Solved


class Reply(msgspec.Struct, frozen=True):
    """A command's answer once its events are durable: the auction's seq after them and the
    command-specific fields (``bid_ids``, ``auction_id``, …)."""

    seq: int
    fields: dict[str, Any]


class CommandKey(msgspec.Struct, frozen=True):
    """A command's idempotency key (PROTOCOL.md 1.1) as the runtime sees it: the authenticated
    user who sent it (never ``as_user``), the client's key and the request's fingerprint."""

    user_id: str
    key: str
    fingerprint: bytes


class Ask(msgspec.Struct):
    """A command, the time the server received it, and its key if it has one. ``taken`` is set
    when the actor takes it: from then on its outcome is unknown until it is answered (an ask
    timing out then answers ``timeout``, not ``unavailable``)."""

    command: AnyCommand
    future: asyncio.Future[Reply]
    received_at: Instant
    key: CommandKey | None = None
    taken: bool = False


class Query(msgspec.Struct):
    """Run ``fn`` on the state inside the actor, between two commands: a read consistent with
    ``seq`` (used e.g. to register a subscriber without a gap or a duplicate). With ``solved``,
    ``fn`` gets the state with its solutions (`runtime.solver.Solved`) instead."""

    fn: Callable[[Any], Any]
    future: asyncio.Future[Any]
    solved: bool = False


Message = Ask | Query


class Mailbox:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[Message] = deque()
        self._tick = False
        self._wakeup = asyncio.Event()
        # Set exactly while the owner waits on an empty mailbox: what `quiesce()` waits for.
        self.idle = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Message) -> None:
        if len(self._items) >= self.capacity:
            raise Unavailable("the auction is overloaded; retry later")
        self._items.append(message)
        self.idle.clear()
        self._wakeup.set()

    def put_back(self, message: Message) -> None:
        """Return a message taken but never handled to the front (its actor crashed before it:
        the rebuilt actor handles it first); never refused for the bound, as it held a place."""
        self._items.appendleft(message)
        self.idle.clear()
        self._wakeup.set()

    def put_tick(self) -> None:
        self._tick = True
        self.idle.clear()
        self._wakeup.set()

    async def get(self) -> Message | None:
        """The next message, or None for a deadline tick. Ticks go first: deadlines are acted on
        before the commands behind them."""
        while not self._items and not self._tick:
            self._wakeup.clear()
            self.idle.set()
            await self._wakeup.wait()
        self.idle.clear()
        if self._tick:
            self._tick = False
            return None
        return self._items.popleft()

    async def wait_idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (real time) for work; False if none came (the owner may then
        passivate: it is idle for `quiesce` meanwhile)."""
        if self.has_work():
            return True
        self._wakeup.clear()
        self.idle.set()
        # A timer that sets the wake-up flag, not `wait_for` (a task per idle actor).
        timer = asyncio.get_running_loop().call_later(seconds, self._wakeup.set)
        try:
            await self._wakeup.wait()
        finally:
            timer.cancel()
        return self.has_work()

    def take_next_ask(self, accept: Callable[[Ask], bool]) -> Ask | None:
        """Take the first queued message if it is a command ``accept``s and no tick is due
        (a batch grows only in arrival order, and stops at a read or a deadline)."""
        if self._tick or not self._items:
            return None
        first = self._items[0]
        if not isinstance(first, Ask) or not accept(first):
            return None
        self._items.popleft()
        return first

    def take_received_before(self, t: Instant) -> Ask | None:
        """Take the first queued command received before ``t`` (the receipt barrier: it is
        handled before the deadline ``t``), or None; the rest stay queued. One at a time, so
        that a crash while handling it leaves the others in the mailbox for the rebuilt actor."""
        for i, message in enumerate(self._items):
            if isinstance(message, Ask) and message.received_at < t:
                del self._items[i]
                return message
        return None

    def take_queries(self) -> list[Query]:
        """Take the queued queries, in order (reads answered while a deadline waits)."""
        queries = [m for m in self._items if isinstance(m, Query)]
        if queries:
            self._items = deque(m for m in self._items if not isinstance(m, Query))
        return queries

    def next_put(self) -> Coroutine[Any, Any, bool]:
        """Something to await until a message (or a tick) is put from now on: the owner, while
        it waits for something else (the receipt barrier), is woken by new mail too. The wake-up
        flag is cleared here, at the call, so no put between the call and the await is missed."""
        self._wakeup.clear()
        return self._wakeup.wait()

    def awaited(self) -> bool:
        """Whether a caller still waits for a queued message (others are skipped anyway)."""
        return any(not m.future.done() for m in self._items)

    def has_work(self) -> bool:
        return bool(self._items) or self._tick

    def drain(self) -> list[Message]:
        """Take every queued message (to answer them all when the actor cannot)."""
        items = list(self._items)
        self._items.clear()
        self._tick = False
        return items


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


class Answering:
    """The queries of an auction's actor or follower (a mixin): run on its current state, the
    ``solved`` ones with the state's solutions, found once per state (kept in ``solved``)."""

    state: AuctionState | None
    solved: Solved | None

    async def _solved(self) -> Solved:
        """The current state's solutions, ready to read."""
        assert self.state is not None
        if self.solved is None or self.solved.state is not self.state:
            self.solved = Solved(self.state)
        return await self.solved.ready()

    async def _query(self, query: Query) -> None:
        """Run ``query`` and answer its caller with the result or the error."""
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

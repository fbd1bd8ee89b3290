"""The supervisor's ask timeouts: one loop timer for every ask waiting, not one per ask.

Every ask of a supervisor waits the same ``ask_timeout_s``, so their deadlines come in the order
the asks were sent: they wait in a queue, oldest first, and a single timer is armed for the
oldest one still unanswered. An ask answered in time is not looked for: its entry is dropped
when it comes to the head (at the next ask, or when the timer fires), so the queue holds the
asks sent since the oldest one still waiting. A timer per ask cost a timer handle, a push on
the loop's heap and a cancel (the heap then filtered) on the hot path of every command.

If the timeout shrinks while asks wait (a new config), a later ask could have an earlier
deadline than those before it: it is then timed alone, on a timer of its own, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from auctionactors.runtime.mailbox import Ask, Query

# How early the loop may run a timer (asyncio runs those due within its clock's resolution).
_EARLY = time.get_clock_info("monotonic").resolution

Expire = Callable[[Ask | Query, str], None]


class AskTimeouts:
    """Calls ``expire(message, auction_id)`` for each ask still unanswered at its deadline."""

    def __init__(self, expire: Expire) -> None:
        self._expire = expire
        self._queue: deque[tuple[float, Ask | Query, str]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, message: Ask | Query, auction_id: str, timeout_s: float) -> None:
        """Time ``message`` out after ``timeout_s`` unless its future is done by then."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        while queue and queue[0][1].future.done():
            queue.popleft()
        deadline = loop.time() + timeout_s
        if queue and deadline < queue[-1][0]:  # out of order: on a timer of its own
            loop.call_at(deadline, self._alone, message, auction_id)
            return
        queue.append((deadline, message, auction_id))
        if self._timer is None or self._loop is not loop:  # none armed on this loop
            self._arm(loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timer = loop.call_at(self._queue[0][0], self._fire) if self._queue else None

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time() + _EARLY
        queue = self._queue
        while queue and (queue[0][1].future.done() or queue[0][0] <= now):
            _, message, auction_id = queue.popleft()
            self._alone(message, auction_id)
        self._arm(loop)

    def _alone(self, message: Ask | Query, auction_id: str) -> None:
        if not message.future.done():
            self._expire(message, auction_id)

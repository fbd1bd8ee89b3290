"""Time for the runtime: a `Clock` protocol, the system clock, and a manual clock for tests.

The domain never reads a clock; the actor asks this one for ``now`` and arms its deadline timer
on it. Tests use `ManualClock` and move time by hand, so nothing waits on a real sleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

from auctionactors.domain.timestamps import SECOND, Instant


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> Instant:
        """Microseconds since the Unix epoch, UTC."""
        ...

    def call_at(self, when: Instant, callback: Callable[[], None]) -> TimerHandle:
        """Call ``callback`` (from the event loop) once ``now() >= when``."""
        ...


class SystemClock:
    """Wall-clock time that never goes back: read once from the wall clock at start, then
    advanced by the monotonic clock, so a stepped system clock (NTP, an operator) moves neither
    event times nor deadlines. Timers run on the event loop, whose clock is monotonic too."""

    def __init__(self) -> None:
        self._wall = time.time_ns() // 1000
        self._start = time.monotonic_ns()

    def now(self) -> Instant:
        return self._wall + (time.monotonic_ns() - self._start) // 1000

    def call_at(self, when: Instant, callback: Callable[[], None]) -> TimerHandle:
        delay = max(0.0, (when - self.now()) / SECOND)
        return asyncio.get_running_loop().call_later(delay, callback)


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: Instant, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to. `advance` fires every timer that falls due, in
    deadline order, synchronously; tests then wait with ``supervisor.quiesce()``."""

    def __init__(self, start: Instant) -> None:
        self._now = start
        self._timers: list[tuple[Instant, int, _ManualTimer]] = []
        self._counter = itertools.count()

    def now(self) -> Instant:
        return self._now

    def call_at(self, when: Instant, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._counter), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and fire what fell due."""
        self.set(self._now + round(seconds * SECOND))

    def set(self, t: Instant, *, fire_timers: bool = True) -> None:
        """Move time to ``t``. ``fire_timers=False`` leaves due timers pending, as when a
        timer runs late: the next `set`/`advance` fires them."""
        if t < self._now:
            raise ValueError("a manual clock never goes back")
        self._now = t
        while fire_timers and self._timers and self._timers[0][0] <= t:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()

    @property
    def pending_timers(self) -> int:
        return sum(1 for _, _, t in self._timers if not t.cancelled)

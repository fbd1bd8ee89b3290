"""The closes the server starts on its own (a revoked token, a reader too slow), each in a task
of its own: the caller (the token recheck, or an actor publishing an update) must not wait. A
close that the peer does not answer in time (it reads nothing, not even the close frame) aborts
the connection. Typed by what a connection looks like, so that only `server` imports websockets.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Closable(Protocol):
    """What `Closings` uses of a websockets connection."""

    async def close(self, code: int, reason: str) -> None: ...

    @property
    def transport(self) -> asyncio.Transport: ...


class Closings:
    """The close tasks in flight (kept until done: the event loop holds tasks weakly)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, ws: Closable, code: int, reason: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._close(ws, code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel(self) -> None:
        """The server is stopping: give up on the closes still waiting."""
        for task in list(self._tasks):
            task.cancel()

    async def _close(self, ws: Closable, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await ws.close(code, reason)
        except TimeoutError:  # the peer reads nothing, not even the close frame
            ws.transport.abort()

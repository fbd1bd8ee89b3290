"""Coalesced writes: the frames handed to websockets during one turn of the event loop reach
each socket in one write. Apart from `server` so that the server module stays short; it needs
only what a connection looks like (`Connection`), not websockets itself.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class _Outgoing(Protocol):
    def data_to_send(self) -> list[bytes]: ...


class Connection(Protocol):
    """What `Batch` uses of a websockets connection: its sans-I/O protocol's pending bytes and
    its transport."""

    @property
    def protocol(self) -> _Outgoing: ...

    @property
    def transport(self) -> asyncio.Transport: ...


class Batch:
    """Connections with frames handed to websockets but not yet to the socket: flushed once,
    with one write each, so that a burst of updates costs a system call per connection rather
    than one per frame (what dominates a large fan-out).

    The flush comes at the end of the loop's turn *after* the one the first frame was handed
    over in (`TURNS`): the tasks that turn woke run first. An actor delivers a batch's updates
    and then answers its commands, whose ``ok`` frames their connections' tasks send in the next
    turn: so each bidder gets its update and its ``ok`` in one write, not two."""

    TURNS = 2  # how many turns of the loop after the first frame its connection is written

    def __init__(self) -> None:
        self._dirty: dict[Connection, None] = {}  # an ordered set
        self._scheduled = False

    def add(self, ws: Connection) -> None:
        self._dirty[ws] = None
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, {}
        for ws in dirty:
            chunks = ws.protocol.data_to_send()  # empty if websockets has written them meanwhile
            if ws.transport.is_closing() or not chunks:
                continue
            if all(chunks):
                ws.transport.write(b"".join(chunks))
            else:  # an end-of-stream marker after a close frame: websockets' own way
                for chunk in chunks:
                    if chunk:
                        ws.transport.write(chunk)
                    elif ws.transport.can_write_eof():
                        ws.transport.write_eof()
                    else:
                        ws.transport.close()

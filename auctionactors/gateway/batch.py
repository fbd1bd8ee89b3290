"""Coalesced writes: the frames handed to websockets during one turn of the event loop reach
each socket in one write, and a frame that goes to many connections is encoded once. Apart from
`server` so that the server module stays short; it needs only what a connection looks like
(`Connection`), not websockets itself.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Protocol

# The header of an unmasked, uncompressed text frame with FIN set (RFC 6455 5.2), by payload
# length: one byte of length below 126, else 126 or 127 and 2 or 8 bytes of it.
_SHORT = [bytes((0x81, n)) for n in range(126)]
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """``payload`` as a text frame on the wire, as the server sends it: no mask (a server's
    frames are not masked) and no compression (`serve` with ``compression=None``). The same
    bytes as websockets' ``send_text`` appends."""
    n = len(payload)
    if n < 126:
        return _SHORT[n] + payload
    if n < 65536:
        return _MEDIUM.pack(0x81, 126, n) + payload
    return _LONG.pack(0x81, 127, n) + payload


class _Outgoing(Protocol):
    writes: list[bytes]  # what websockets' `data_to_send` hands over next, in order

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
        # The frames encoded since the last flush (`text_frame`), by the id of their payload,
        # with that payload (kept alive, so that its id is not reused meanwhile).
        self._encoded: dict[int, tuple[bytes, bytes]] = {}

    def send_text(self, ws: Connection, payload: bytes) -> None:
        """Hand ``payload`` to ``ws`` as a text frame, after whatever websockets holds for it
        (its sans-I/O protocol's ``writes``: pings, pongs, a close), as its ``send_text``
        does; written at the flush. The caller checks that the connection is open. A payload
        fanned out to many connections (the same object) is encoded once, its bytes shared."""
        encoded = self._encoded.get(id(payload))
        if encoded is None:
            encoded = self._encoded[id(payload)] = (payload, text_frame(payload))
        ws.protocol.writes.append(encoded[1])
        self._dirty[ws] = None  # `add`, once per frame: inlined
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

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
        self._encoded.clear()
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

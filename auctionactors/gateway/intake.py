"""A connection's intake: frames read ahead of the request being served, each stamped and
parsed on arrival (PROTOCOL.md 1.1: a command's time is when the server received it).

Kept apart from `server` (which owns websockets): this needs of a connection only ``recv``.

A receipt tagged with an auction holds that auction's deadlines (for at most the runtime's
``receipt_wait_s``) until its command is queued, and a connection can keep one unqueued by
pipelining it behind a slow request of its own. So only a command that the sender's role may
send at all (the static role table of `dispatch`) is tagged; any other frame's receipt is
released at once. What remains: a user whose role may send the command, e.g. any supplier for
``place_bids``, can hold any auction's deadline that long, once per deadline (and again after
each soft-close extension); whether they are invited to that auction is known only to its actor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from auctionactors.domain.parties import Caller
from auctionactors.errors import DomainError
from auctionactors.gateway.dispatch import check_role
from auctionactors.gateway.messages import AuctionCommand
from auctionactors.gateway.protocol import Received, RequestReceived, Session
from auctionactors.runtime.receipts import Receipt
from auctionactors.runtime.supervisor import Supervisor
from auctionactors.store.base import Principal

# Frames read (and stamped) ahead of the request being served, and their bytes at most.
READ_AHEAD = 256
READ_AHEAD_BYTES = 256 * 1024


class Connection(Protocol):
    async def recv(self) -> str | bytes:
        """The next frame; raises when the connection is closed."""
        ...


class ReadAhead:
    """A connection's frames, each stamped and parsed when it is read (PROTOCOL.md 1.1: a
    command's time is when the server received it). A command's stamp stays registered with the
    supervisor's receipt barrier, tagged with its auction, until the dispatcher has queued it
    (if the sender's role may send it at all); any other frame's is released at once. Frames
    are read ahead of the request being served, up to ``READ_AHEAD`` frames and
    ``READ_AHEAD_BYTES``, so a frame waiting behind its connection's previous requests is
    stamped on arrival all the same."""

    def __init__(self, ws: Connection, session: Session, supervisor: Supervisor) -> None:
        self._queue: deque[tuple[Received, Receipt, int]] = deque()
        self._bytes = 0
        self._done = False
        self._changed = asyncio.Event()  # a frame was queued or taken, or the reading ended
        self._task = asyncio.create_task(self._read(ws, session, supervisor))
        self._task.add_done_callback(_retrieve)

    async def _read(self, ws: Connection, session: Session, supervisor: Supervisor) -> None:
        clock, receipts, loop = supervisor.clock, supervisor.receipts, asyncio.get_running_loop()
        try:
            while True:
                while len(self._queue) >= READ_AHEAD or self._bytes >= READ_AHEAD_BYTES:
                    self._changed.clear()
                    await self._changed.wait()
                data = await ws.recv()
                receipt = receipts.register(clock.now())
                try:
                    received = session.receive(data, loop.time())
                    request = received.request if isinstance(received, RequestReceived) else None
                    if isinstance(request, AuctionCommand) and _may_send(
                        session.principal, request
                    ):
                        receipt.auction_id = request.auction_id
                    else:
                        receipt.release()  # no deadline waits for it (its time is kept)
                    self._queue.append((received, receipt, len(data)))
                except BaseException:
                    receipt.release()  # never queued: no deadline may wait for it
                    raise
                self._bytes += len(data)
                self._changed.set()
        finally:
            self._done = True
            self._changed.set()

    def __aiter__(self) -> ReadAhead:
        return self

    async def __anext__(self) -> tuple[Received, Receipt]:
        while not self._queue:
            if self._done:
                await self._task  # raises ConnectionClosed (or returns: the connection ended)
                raise StopAsyncIteration
            self._changed.clear()
            await self._changed.wait()
        received, receipt, size = self._queue.popleft()
        self._bytes -= size
        self._changed.set()
        return received, receipt

    def close(self) -> None:
        """Stop reading; release the receipts of frames that will not be served."""
        self._task.cancel()
        for _, receipt, _ in self._queue:
            receipt.release()
        self._queue.clear()


def _may_send(principal: Principal | None, request: AuctionCommand) -> bool:
    """Whether the sender's role may send ``request`` at all (else it is refused ``forbidden``
    without reaching an actor). An admin acting as a user is checked later, as that user."""
    if principal is None:
        return False
    if principal.role == "admin" and request.as_user is not None:
        return True
    try:
        check_role(Caller(principal.user_id, principal.company_id, principal.role), request)
    except DomainError:
        return False
    return True


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a reader's end as seen (a closed connection is no error to log)."""
    if not task.cancelled():
        task.exception()

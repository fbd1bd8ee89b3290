"""The receipt barrier: a command's time is when the server received it (PROTOCOL.md 1.1).

The gateway stamps every frame as it is read and registers the stamp here; the stamp is released
once the command is in its auction's mailbox (or answered, or not a command at all). An actor
whose deadline D falls due first handles every queued command received before D, and while a
frame received before D is still on its way (parsed, authorised, waiting behind its connection's
previous request), it waits for it, for at most ``receipt_wait_s``. Only then does it act on D.
So a bid received at ``closes_at`` - 1 ms is judged on time however late the actor reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib

from auctionactors.domain.timestamps import Instant


class Receipt:
    """One frame's time of arrival; registered with `Receipts` until released (idempotent).
    ``auction_id`` is set once the frame is parsed as a command on that auction (until then it
    may be for any). A receipt made directly (``Receipt(at)``) is a plain stamp that nothing
    waits for."""

    __slots__ = ("_owner", "at", "auction_id")

    def __init__(self, at: Instant, owner: Receipts | None = None) -> None:
        self.at = at
        self.auction_id: str | None = None
        self._owner = owner

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.discard(self)


class Receipts:
    """The frames received but not yet queued or answered, for every connection of the server
    (a frame's auction is not known until it is parsed). Few at a time: a connection reads ahead
    only a small bounded number of frames."""

    def __init__(self) -> None:
        self._open: set[Receipt] = set()
        self._waiters: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        return len(self._open)

    @property
    def waiting(self) -> int:
        """How many actors are waiting for a receipt (tests synchronise on it)."""
        return len(self._waiters)

    def register(self, at: Instant) -> Receipt:
        receipt = Receipt(at, self)
        self._open.add(receipt)
        return receipt

    def discard(self, receipt: Receipt) -> None:
        self._open.discard(receipt)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def pending_before(self, t: Instant, auction_id: str) -> bool:
        """Whether a frame received before ``t`` that may be a command on ``auction_id`` is
        still on its way to its mailbox."""
        return any(r.at < t and r.auction_id in (None, auction_id) for r in self._open)

    async def released(self, timeout_s: float) -> None:
        """Wait until some receipt is released, or ``timeout_s`` passes (no error)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await waiter
        finally:
            self._waiters.discard(waiter)

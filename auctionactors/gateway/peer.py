"""A connection as the hub sees it (`Peer`): who it is, its bounded outbox and its
subscriptions (`_Sub`, one per auction). Apart from `hub` so that the fan-out reads on its own;
the server fills in the outbox's callbacks (`Peer.on_overflow`, `Peer.send_now`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from auctionactors.domain.access import Viewer
from auctionactors.gateway.batch import Batch
from auctionactors.store.base import Principal

Receiver = tuple[str, str]
Group = tuple[Receiver, int]  # a receiver and its protocol: who shares the same frames


def receiver_of(viewer: Viewer) -> Receiver:
    """Who gets the same frames: every admin sees the same; others by company."""
    return ("admin", "") if viewer.role == "admin" else (viewer.role, viewer.company_id)


class _Sub:
    """One connection's subscription to one auction. While ``pending`` is a list, the initial
    update is being prepared and live frames wait there (`Peer.hold`), counted in the
    connection's limits (``held``: how many of them, and their bytes, are counted)."""

    __slots__ = ("auction_id", "gone", "held", "last_seq", "pending")

    def __init__(self, auction_id: str, last_seq: int, *, buffering: bool) -> None:
        self.auction_id = auction_id
        self.last_seq = last_seq
        self.pending: list[tuple[int, bytes]] | None = [] if buffering else None
        self.gone: bytes | None = None
        self.held = (0, 0)

    def reached(self) -> int | None:
        """The seq the connection will have of the auction once its pending frames are sent;
        None while that is not known: a `subscribe_all` walk's subscription (registered with
        ``last_seq`` 0 before the store is read for its first update)."""
        if self.pending:
            return self.pending[-1][0]
        return None if self.pending is not None and self.last_seq == 0 else self.last_seq


class Peer:
    """A connection as the hub sees it: who it is, its outbox and its subscriptions."""

    def __init__(
        self,
        principal: Principal,
        capacity: int,
        on_overflow: Callable[[], None] | None = None,
        max_bytes: int | None = None,
        protocol: int = 1,
    ) -> None:
        self.principal = principal
        self.viewer = Viewer(principal.company_id, principal.role)
        self.receiver = receiver_of(self.viewer)
        # The protocol negotiated in the hello: 2 gets bounded views and patches (`patches`).
        self.protocol = protocol
        # Who gets the same update frames: the receiver, and how its frames are written.
        self.group: Group = (self.receiver, protocol)
        self.capacity = capacity
        # Frames are bounded in bytes too: a client that sends requests with 60 KiB ids (echoed
        # in every reply) and reads nothing would otherwise pin capacity x 60 KiB of memory.
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self.outbox: deque[bytes] = deque()
        # Live frames waiting in subscriptions' ``pending`` (`hold`): frames and bytes.
        self.held_frames = 0
        self.held_bytes = 0
        self.wakeup = asyncio.Event()
        self.closed = False
        self.overflowed = False
        self.on_overflow = on_overflow
        # The server's fast path: write a frame to the socket at once, as websockets' broadcast
        # does; False when it cannot (its buffer is above the write limit: queue it instead).
        self.send_now: Callable[[bytes], bool] | None = None
        # The server's: whether the socket's buffer is above its write limit (`drained`).
        self.backlogged: Callable[[], bool] | None = None
        self._progress = asyncio.Event()  # set when the writer takes a frame, or on a close
        self.subs: dict[str, _Sub] = {}
        self.all_auctions = False
        self.excluded: set[str] = set()
        # `subscribe_all`: the statuses an auction must be in to be subscribed to when it
        # enters them (None: any; protocol 1), and whether its initial updates are still being
        # sent (`everything.walk`).
        self.statuses: frozenset[str] | None = None
        self.walking = False

    def wants(self, status: str) -> bool:
        """Whether `subscribe_all` subscribes this connection to an auction in ``status``."""
        return self.statuses is None or status in self.statuses

    def push(self, frame: bytes) -> bool:
        """Send or queue a frame; False (and the connection is cut off) when the outbox is full.

        With nothing queued, a frame goes straight to the socket (`send_now`): fanning an update
        out to a thousand connections then costs a thousand writes, not a thousand task
        switches. Order holds: only an empty outbox is bypassed, and the writer hands each
        frame to the socket as it takes it off the outbox."""
        if self.closed:
            return False
        send_now = self.send_now
        if send_now is not None and not self.outbox and send_now(frame):
            return True
        if self._full(len(self.outbox), self.queued_bytes, frame):
            return False
        self.outbox.append(frame)
        self.queued_bytes += len(frame)
        self.wakeup.set()
        return True

    def hold(self, sub: _Sub, seq: int, frame: bytes) -> bool:
        """Keep a live frame in ``sub.pending`` (its first update is being prepared); False
        (and the connection is cut off) when the frames it holds there and in its outbox would
        be more than the outbox may hold, in frames or bytes: a connection that stops reading
        while it catches up is cut off as it would be with the frames in its outbox."""
        assert sub.pending is not None
        if self.closed:
            return False
        frames, size = len(self.outbox) + self.held_frames, self.queued_bytes + self.held_bytes
        if self._full(frames, size, frame):
            return False
        sub.pending.append((seq, frame))
        count, size = sub.held
        sub.held = (count + 1, size + len(frame))
        self.held_frames += 1
        self.held_bytes += len(frame)
        return True

    def _full(self, frames: int, size: int, frame: bytes) -> bool:
        """Whether ``frame`` does not fit beside ``frames`` frames of ``size`` bytes waiting
        (the outbox's limits, in frames and bytes; a single frame always fits, however large):
        then the connection is cut off."""
        if frames >= self.capacity or (
            self.max_bytes is not None and frames and size + len(frame) > self.max_bytes
        ):
            self.cut_off()
            return True
        return False

    def let_go(self, sub: _Sub) -> None:
        """``sub``'s held frames no longer count (released, or the subscription is over)."""
        count, size = sub.held
        self.held_frames -= count
        self.held_bytes -= size
        sub.held = (0, 0)

    def cut_off(self) -> None:
        """The connection cannot keep up: write nothing more, and close it (1013)."""
        self.closed = True
        self.overflowed = True
        self.wakeup.set()
        self._progress.set()
        if self.on_overflow is not None:
            self.on_overflow()

    def pop(self) -> bytes:
        """The next frame to write (the writer's side of `push`)."""
        frame = self.outbox.popleft()
        self.queued_bytes -= len(frame)
        self._progress.set()
        return frame

    def progressed(self) -> None:
        """Wake `drained`: the socket's buffer drained, or the connection is closing."""
        self._progress.set()

    async def drained(self) -> None:
        """Until every frame queued so far is handed to the socket and its buffer is within the
        write limit (or the connection is closed): a long reply sent in pieces sends the next
        piece only then, so it goes as fast as the client reads and never fills the outbox
        (PROTOCOL.md 1.1, "Fair sharing"). The frames handed to websockets during this turn of
        the loop reach the socket at the end of the next (`Batch`): looked at after it."""
        for _ in range(Batch.TURNS):
            await asyncio.sleep(0)
        while not self.closed and (
            self.outbox or (self.backlogged is not None and self.backlogged())
        ):
            self._progress.clear()
            await self._progress.wait()

"""The supervisor's configuration and its cells: what outlives an auction's actor."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Literal

import msgspec

from auctionactors.runtime.deadlines import RECEIPT_WAIT_S
from auctionactors.runtime.mailbox import Mailbox

if TYPE_CHECKING:
    from auctionactors.runtime.actor import AuctionActor
    from auctionactors.runtime.follower import Follower

SNAPSHOT_EVERY = 1000  # events between snapshots of a state (0: no snapshots)
PASSIVATE_AFTER_S = 300.0
CellStatus = Literal["starting", "live", "restarting", "quarantined"]


class SupervisorConfig(msgspec.Struct, frozen=True, kw_only=True):
    mailbox_capacity: int = 1000
    ask_timeout_s: float = 10.0
    # Quarantine after this many crashes within the window (measured on the injected clock).
    max_restarts: int = 5
    restart_window_s: float = 60.0
    # Exponential backoff between restarts: base * 2**(n-1), at most max (real time).
    backoff_base_s: float = 0.05
    backoff_max_s: float = 5.0
    # Storage outages (never counted as crashes): base * 2**(n-1), at most max.
    storage_backoff_base_s: float = 0.05
    storage_backoff_max_s: float = 5.0
    drain_timeout_s: float = 10.0
    # How long a due deadline waits for frames received before it (`Receipts`).
    receipt_wait_s: float = RECEIPT_WAIT_S
    # Events between snapshots of an auction's state (also taken when it becomes final); 0: off.
    snapshot_every: int = SNAPSHOT_EVERY
    # Real seconds an auction that is not final stays loaded with nothing to do; None: forever.
    passivate_after_s: float | None = PASSIVATE_AFTER_S


class CellInfo(msgspec.Struct, frozen=True):
    """What operators see of one auction's actor."""

    auction_id: str
    status: CellStatus
    restarts: int
    mailbox: int
    last_error: str | None


class Cell:
    """What outlives an auction's actor: its mailbox (commands queued behind a crash are
    handled by the rebuilt actor), its restart history and the status operators see."""

    def __init__(self, auction_id: str, capacity: int, *, new: bool) -> None:
        self.auction_id = auction_id
        self.mailbox = Mailbox(capacity)
        self.status: CellStatus = "starting"
        self.new = new
        self.crash_times: deque[int] = deque()
        self.restarts = 0
        self.outages = 0  # consecutive storage failures (backoff), reset by a rebuild
        self.crashed = False  # subscribers are resynced after the next rebuild
        self.last_error: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.actor: AuctionActor | None = None
        self.follower: Follower | None = None  # cluster mode: an auction owned elsewhere

    def info(self) -> CellInfo:
        return CellInfo(
            self.auction_id, self.status, self.restarts, len(self.mailbox), self.last_error
        )

"""The receiver's current view of each auction, kept from the frames the server pushes.

Protocol 2 (PROTOCOL.md): the first ``update`` of a subscription carries ``view``, every later
one a ``patch`` (RFC 6902) against the previous view on that subscription; a ``subscribe`` far
behind first sends ``history`` frames with the missed events. `Views` follows that stream exactly
(a view always resets the base; a patch always moves it on) and fills in what a protocol-1 caller
expects: every update it lets through carries ``view``, the receiver's whole view at that seq,
and the events of the ``history`` frames before it are folded into its ``events``. Updates at or
before the last seq delivered are not delivered again (a resume overlapping what was received).
In protocol 2 no view carries ``server_time`` (patched views have none, so none goes stale; the
welcome has the server's clock).

Pure: no I/O, no asyncio. A patch that cannot be applied (no view to apply it to, or one that
does not fit) is a desync: `apply` says so and the connection resubscribes to get a fresh view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from auctionactors.client import patch

log = logging.getLogger(__name__)


@dataclass
class _Auction:
    view: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # events before the next update
    # A patch did not apply and the auction was subscribed to again: the patches still on
    # their way are dropped until the whole view comes (not one resubscription each).
    resyncing: bool = False


class Views:
    """Per auction: the current view (the base of the next patch), the last seq delivered, and
    the events of ``history`` frames waiting for their update."""

    def __init__(self, protocol: int = 1) -> None:
        self.protocol = protocol  # the protocol in force (the welcome's)
        self.last_seq: dict[str, int] = {}
        self.desyncs = 0  # patches that could not be applied
        self._auctions: dict[str, _Auction] = {}

    def view(self, auction_id: str) -> dict[str, Any] | None:
        auction = self._auctions.get(auction_id)
        return None if auction is None else auction.view

    def history(self, frame: dict[str, Any]) -> None:
        """A ``history`` frame: its events wait for the update that follows them."""
        auction = self._auctions.setdefault(str(frame["auction_id"]), _Auction())
        last = self.last_seq.get(str(frame["auction_id"]), 0)
        auction.history.extend(e for e in frame.get("events", ()) if e.get("seq", 0) > last)

    def update(self, frame: dict[str, Any]) -> str:
        """Take an ``update`` frame in: ``"deliver"`` (``frame`` now carries ``view`` and the
        folded events), ``"skip"`` (already delivered, or a patch that comes while a resubscription
        is under way) or ``"desync"`` (its patch could not be applied: resubscribe)."""
        auction_id, seq = str(frame["auction_id"]), int(frame["seq"])
        auction = self._auctions.setdefault(auction_id, _Auction())
        if "view" in frame:
            auction.view = frame["view"]
            auction.resyncing = False
            if self.protocol >= 2:  # patched views have none: no view has a stale one
                auction.view.pop("server_time", None)
        elif "patch" in frame:
            if auction.resyncing:
                return "skip"
            if auction.view is None:
                return self._desync(auction, auction_id, seq, "a patch without a view")
            try:
                auction.view = patch.apply(auction.view, frame["patch"])
            except patch.PatchError as exc:
                return self._desync(auction, auction_id, seq, str(exc))
            frame["view"] = auction.view
        if seq <= self.last_seq.get(auction_id, 0):
            return "skip"
        self.last_seq[auction_id] = seq
        if auction.history:
            frame["events"] = [*auction.history, *frame.get("events", ())]
            auction.history = []
        return "deliver"

    def resumed(self) -> None:
        """A new connection: history frames of the old one will come again."""
        for auction in self._auctions.values():
            auction.history = []

    def forget(self, auction_id: str) -> None:
        """No longer subscribed: the next subscription starts from a view."""
        self._auctions.pop(auction_id, None)

    def _desync(self, auction: _Auction, auction_id: str, seq: int, why: str) -> str:
        self.desyncs += 1
        auction.view = None
        auction.resyncing = True
        auction.history = []
        log.warning("%s seq %d: cannot apply the patch (%s); resubscribing", auction_id, seq, why)
        return "desync"

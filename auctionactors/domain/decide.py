"""`decide(state, command, now)`: the auction rules. Pure: returns the events a command causes or
raises `DomainError` with the protocol's error code. It never mutates the state, reads a clock or
makes an id: ``now`` is an input and ids derive from the auction id and the events' seqs.

The rules live by theme: `lifecycle`, `bidding`, `selection`, `participation`; this module
dispatches and reads a command's reply fields off its events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auctionactors.domain import bidding, lifecycle, participation, selection
from auctionactors.domain.access import NOT_FOUND
from auctionactors.domain.book import bid_id_for
from auctionactors.domain.commands import (
    AnyCommand,
    ApproveBarge,
    CancelAuction,
    CheckDeadlines,
    CreateAuction,
    DeleteComment,
    GiveRsvp,
    InviteObserver,
    PlaceBids,
    PostComment,
    RejectBarge,
    RevokeBid,
    SelectSolution,
    StartAuction,
    SubmitBarge,
    UninviteObserver,
    UnsubmitBarge,
    UpdateAuction,
)
from auctionactors.domain.events import AuctionCreated, BidPlaced, CommentPosted, Event
from auctionactors.domain.lifecycle import due_events
from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.timestamps import Instant
from auctionactors.errors import DomainError

__all__ = ["bid_id_for", "decide", "result_of"]  # bid_id_for: the id rule, for callers


def decide(
    state: AuctionState | None,
    command: AnyCommand,
    now: Instant,
    solutions: Solutions | None = None,
) -> list[Event]:
    """The events ``command`` causes at ``now``, or a `DomainError` refusal. ``solutions`` may
    give the state's solutions when the caller has them (a selection by name reads them)."""
    if isinstance(command, CreateAuction):
        if state is not None:
            raise DomainError("invalid", f"auction {command.auction_id} already exists")
        return lifecycle.create(command, now)
    if state is None:
        raise DomainError("not_found", NOT_FOUND)
    if isinstance(command, CheckDeadlines):
        return due_events(state, now)
    if isinstance(command, SelectSolution):
        return selection.select(state, command, now, solutions)
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise DomainError("bad_request", f"unknown command {type(command).__name__}")
    return handler(state, command, now)


def result_of(command: AnyCommand, events: list[Event]) -> dict[str, Any]:
    """The command-specific fields of an ``ok`` reply, read off the events it caused."""
    if isinstance(command, CreateAuction):
        created = events[0]
        assert isinstance(created, AuctionCreated)
        return {
            "auction_id": created.auction_id,
            "product_ids": [p.product_id for p in created.products],
        }
    if isinstance(command, PlaceBids):
        # BidPlaced covers AutoBidPlaced; triggered auto-bids are other suppliers' bids.
        return {"bid_ids": [e.bid_id for e in events if isinstance(e, BidPlaced)]}
    if isinstance(command, PostComment):
        posted = [e.comment_id for e in events if isinstance(e, CommentPosted)]
        return {"comment_id": posted[0]}
    return {}


_HANDLERS: dict[type[Any], Callable[[AuctionState, Any, Instant], list[Event]]] = {
    UpdateAuction: lifecycle.update,
    StartAuction: lifecycle.start,
    CancelAuction: lifecycle.cancel,
    PlaceBids: bidding.place_bids,
    RevokeBid: bidding.revoke,
    SubmitBarge: participation.submit_barge,
    UnsubmitBarge: participation.unsubmit_barge,
    ApproveBarge: participation.judge_barge,
    RejectBarge: participation.judge_barge,
    PostComment: participation.post_comment,
    DeleteComment: participation.delete_comment,
    GiveRsvp: participation.give_rsvp,
    InviteObserver: participation.invite_observer,
    UninviteObserver: participation.uninvite_observer,
}

"""Commands: what someone (or the clock) asks an auction to do. `decide` answers each one with
events or a refusal. Commands are not stored; only the events they cause are."""

from __future__ import annotations

from typing import Literal

import msgspec

from auctionactors.domain.events import Barge, Rsvp
from auctionactors.domain.money import Cents
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.terms import AuctionChanges, AuctionTerms


class Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every command sent by a user."""

    by: Caller


class CreateAuction(Command, frozen=True, kw_only=True, tag="create_auction"):
    """Create an auction; ``auction_id`` is chosen by the runtime (the domain makes no ids).

    ``alias_salt`` is randomness drawn by the runtime (the domain draws none): it orders the
    suppliers' anonymous aliases so that no one but the server can compute them. It is never
    stored; the aliases it gave are (in the event)."""

    auction_id: str
    terms: AuctionTerms
    alias_salt: bytes = b""


class UpdateAuction(Command, frozen=True, kw_only=True, tag="update_auction"):
    """An edit; ``alias_salt`` orders the aliases of suppliers it adds (see `CreateAuction`)."""

    changes: AuctionChanges
    alias_salt: bytes = b""


class StartAuction(Command, frozen=True, kw_only=True, tag="start_auction"):
    pass


class CancelAuction(Command, frozen=True, kw_only=True, tag="cancel_auction"):
    pass


class BidRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One product's bid inside a `PlaceBids` request."""

    product_id: str
    amount: Cents | None = None
    min_amount: Cents | None = None
    allow_split: bool = True
    comment: str | None = None


class PlaceBids(Command, frozen=True, kw_only=True, tag="place_bids"):
    """Bids for one or more products, all accepted or all refused."""

    bids: tuple[BidRequest, ...]
    traded: bool = False


class RevokeBid(Command, frozen=True, kw_only=True, tag="revoke_bid"):
    product_id: str


SolutionName = Literal["best_overall", "best_single_supplier"]


class SelectSolution(Command, frozen=True, kw_only=True, tag="select_solution"):
    """Pick the winning bids (one per product at most) and close the auction: either by
    ``bid_ids`` (a custom solution, checked here) or by ``solution`` name."""

    bid_ids: tuple[str, ...] = ()
    solution: SolutionName | None = None
    comment: str | None = None
    port_agent: str | None = None


class SubmitBarge(Command, frozen=True, kw_only=True, tag="submit_barge"):
    barge: Barge


class UnsubmitBarge(Command, frozen=True, kw_only=True, tag="unsubmit_barge"):
    imo: str


class ApproveBarge(Command, frozen=True, kw_only=True, tag="approve_barge"):
    imo: str
    supplier_id: str


class RejectBarge(Command, frozen=True, kw_only=True, tag="reject_barge"):
    imo: str
    supplier_id: str


class PostComment(Command, frozen=True, kw_only=True, tag="post_comment"):
    text: str


class DeleteComment(Command, frozen=True, kw_only=True, tag="delete_comment"):
    comment_id: str


class GiveRsvp(Command, frozen=True, kw_only=True, tag="rsvp"):
    response: Rsvp


class InviteObserver(Command, frozen=True, kw_only=True, tag="invite_observer"):
    observer: Party


class UninviteObserver(Command, frozen=True, kw_only=True, tag="uninvite_observer"):
    company_id: str


class CheckDeadlines(msgspec.Struct, frozen=True, tag="check_deadlines"):
    """The clock's message: act on every deadline that has passed (start, end, expiry)."""


AnyCommand = (
    CreateAuction
    | UpdateAuction
    | StartAuction
    | CancelAuction
    | PlaceBids
    | RevokeBid
    | SelectSolution
    | SubmitBarge
    | UnsubmitBarge
    | ApproveBarge
    | RejectBarge
    | PostComment
    | DeleteComment
    | GiveRsvp
    | InviteObserver
    | UninviteObserver
    | CheckDeadlines
)

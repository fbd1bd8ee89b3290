"""Commands: what someone (or the clock) asks an auction to do. `decide` answers each one with
events or a refusal. Commands are not stored; only the events they cause are."""

from __future__ import annotations

import msgspec

from auctionactors.domain.money import Cents
from auctionactors.domain.parties import Caller
from auctionactors.domain.terms import AuctionChanges, AuctionTerms


class Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every command sent by a user."""

    by: Caller


class CreateAuction(Command, frozen=True, kw_only=True, tag="create_auction"):
    """Create an auction; ``auction_id`` is chosen by the runtime (the domain makes no ids)."""

    auction_id: str
    terms: AuctionTerms


class UpdateAuction(Command, frozen=True, kw_only=True, tag="update_auction"):
    changes: AuctionChanges


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


class SelectSolution(Command, frozen=True, kw_only=True, tag="select_solution"):
    """Pick the winning bids (one per product at most) and close the auction."""

    bid_ids: tuple[str, ...]
    comment: str | None = None
    port_agent: str | None = None


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
    | CheckDeadlines
)

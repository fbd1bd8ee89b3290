"""Events: the facts an auction's stream is made of, kept forever as its audit trail.

Each event type has an explicit, stable tag (never a module path), records when it was decided
(``at``) and who acted (``by``; ``None`` for the clock). Ids inside events (bid ids) are derived
from the stream and the event's ``seq``, so every replay produces the same ids.
"""

from __future__ import annotations

import msgspec

from auctionactors.domain.money import Cents
from auctionactors.domain.parties import By
from auctionactors.domain.terms import AuctionChanges, AuctionTerms, Product, Status
from auctionactors.domain.timestamps import Instant


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    at: Instant
    by: By | None


class AuctionCreated(Event, frozen=True, kw_only=True, tag="auction_created"):
    auction_id: str
    terms: AuctionTerms
    products: tuple[Product, ...]
    status: Status


class AuctionUpdated(Event, frozen=True, kw_only=True, tag="auction_updated"):
    """An edit in draft or pending; ``products`` is the renumbered list when products changed,
    ``status`` the status after it (setting or clearing the start moves draft <-> pending)."""

    changes: AuctionChanges
    products: tuple[Product, ...] | None = None
    status: Status


class AuctionStarted(Event, frozen=True, kw_only=True, tag="auction_started"):
    closes_at: Instant


class BidPlaced(Event, frozen=True, kw_only=True, tag="bid_placed"):
    bid_id: str
    product_id: str
    supplier_id: str
    amount: Cents | None
    min_amount: Cents | None = None
    allow_split: bool = True
    comment: str | None = None
    traded: bool = False
    is_auto: bool = False
    original_time_entered: Instant


class BidsRevoked(Event, frozen=True, kw_only=True, tag="bids_revoked"):
    product_id: str
    supplier_id: str
    bid_ids: tuple[str, ...]


class DurationExtended(Event, frozen=True, kw_only=True, tag="duration_extended"):
    """Soft close: ``closes_at`` was *set* to this (now + window), stored with the bid."""

    closes_at: Instant


class AuctionEnded(Event, frozen=True, kw_only=True, tag="auction_ended"):
    """Bidding ended; the buyer decides until ``decision_closes_at``."""

    decision_closes_at: Instant


class AuctionExpired(Event, frozen=True, kw_only=True, tag="auction_expired"):
    pass


class AuctionCanceled(Event, frozen=True, kw_only=True, tag="auction_canceled"):
    pass


class WinningSolutionSelected(Event, frozen=True, kw_only=True, tag="winning_solution_selected"):
    bid_ids: tuple[str, ...]
    total_price: Cents
    comment: str | None = None
    port_agent: str | None = None


class AuctionClosed(Event, frozen=True, kw_only=True, tag="auction_closed"):
    pass


AnyEvent = (
    AuctionCreated
    | AuctionUpdated
    | AuctionStarted
    | BidPlaced
    | BidsRevoked
    | DurationExtended
    | AuctionEnded
    | AuctionExpired
    | AuctionCanceled
    | WinningSolutionSelected
    | AuctionClosed
)

EVENT_TYPES: tuple[type[Event], ...] = (
    AuctionCreated,
    AuctionUpdated,
    AuctionStarted,
    BidPlaced,
    BidsRevoked,
    DurationExtended,
    AuctionEnded,
    AuctionExpired,
    AuctionCanceled,
    WinningSolutionSelected,
    AuctionClosed,
)


def event_type(event: Event) -> str:
    """The stable tag of an event, e.g. ``bid_placed``."""
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag

"""Events: the facts an auction's stream is made of, kept forever as its audit trail.

Each event type has an explicit, stable tag (never a module path), records when it was decided
(``at``) and who acted (``by``; ``None`` for the clock). Ids inside events (bid ids) are derived
from the stream and the event's ``seq``, so every replay produces the same ids.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from auctionactors.domain.money import Cents
from auctionactors.domain.parties import By, Party
from auctionactors.domain.terms import AuctionChanges, AuctionTerms, Product, Status
from auctionactors.domain.timestamps import Instant

Rsvp = Literal["yes", "no", "maybe"]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Base of every event. Events are immutable trees of values (no cycles possible), so they
    are not tracked by the cyclic garbage collector: replay allocates them by the 100 000."""

    at: Instant
    by: By | None


class AuctionCreated(Event, frozen=True, kw_only=True, tag="auction_created"):
    auction_id: str
    terms: AuctionTerms
    products: tuple[Product, ...]
    status: Status
    # Stable aliases ("Supplier 1".."N") for anonymous bidding, assigned once, stored here so
    # that every replay shows the same ones.
    aliases: dict[str, str] = {}


class AuctionUpdated(Event, frozen=True, kw_only=True, tag="auction_updated"):
    """An edit in draft or pending; ``products`` is the renumbered list when products changed,
    ``status`` the status after it (setting or clearing the start moves draft <-> pending)."""

    changes: AuctionChanges
    products: tuple[Product, ...] | None = None
    status: Status
    # Events stored before 2026-11-29 carry the aliases of added suppliers only, merged into
    # the old map; an edit that changes the suppliers or ``anonymous_bidding`` now carries the
    # whole new map with ``aliases_replace`` set (see `lifecycle.update`).
    aliases: dict[str, str] = {}
    aliases_replace: bool = False


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


class AutoBidPlaced(BidPlaced, frozen=True, kw_only=True, tag="auto_bid_placed"):
    """A bid with a floor (``min_amount``): its visible ``amount`` drops by itself, down to the
    floor, as competitors bid (see `book.settle`)."""


class AutoBidTriggered(Event, frozen=True, kw_only=True, tag="auto_bid_triggered"):
    """An auto-bid re-entered at a lower visible amount: a new bid (``bid_id``) that replaces
    ``replaces`` and keeps its original time entered, floor, split flag and comment."""

    bid_id: str
    product_id: str
    supplier_id: str
    amount: Cents
    replaces: str


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


class Barge(msgspec.Struct, frozen=True):
    name: str
    imo: str


class BargeSubmitted(Event, frozen=True, kw_only=True, tag="barge_submitted"):
    supplier_id: str
    barge: Barge


class BargeUnsubmitted(Event, frozen=True, kw_only=True, tag="barge_unsubmitted"):
    supplier_id: str
    imo: str


class BargeApproved(Event, frozen=True, kw_only=True, tag="barge_approved"):
    supplier_id: str
    imo: str


class BargeRejected(Event, frozen=True, kw_only=True, tag="barge_rejected"):
    supplier_id: str
    imo: str


class CommentPosted(Event, frozen=True, kw_only=True, tag="comment_posted"):
    comment_id: str
    supplier_id: str
    text: str


class CommentDeleted(Event, frozen=True, kw_only=True, tag="comment_deleted"):
    comment_id: str
    supplier_id: str


class RsvpGiven(Event, frozen=True, kw_only=True, tag="rsvp_given"):
    supplier_id: str
    response: Rsvp


class ObserverInvited(Event, frozen=True, kw_only=True, tag="observer_invited"):
    observer: Party


class ObserverUninvited(Event, frozen=True, kw_only=True, tag="observer_uninvited"):
    company_id: str


AnyEvent = (
    AuctionCreated
    | AuctionUpdated
    | AuctionStarted
    | BidPlaced
    | AutoBidPlaced
    | AutoBidTriggered
    | BidsRevoked
    | DurationExtended
    | AuctionEnded
    | AuctionExpired
    | AuctionCanceled
    | WinningSolutionSelected
    | AuctionClosed
    | BargeSubmitted
    | BargeUnsubmitted
    | BargeApproved
    | BargeRejected
    | CommentPosted
    | CommentDeleted
    | RsvpGiven
    | ObserverInvited
    | ObserverUninvited
)

EVENT_TYPES: tuple[type[Event], ...] = (
    AuctionCreated,
    AuctionUpdated,
    AuctionStarted,
    BidPlaced,
    AutoBidPlaced,
    AutoBidTriggered,
    BidsRevoked,
    DurationExtended,
    AuctionEnded,
    AuctionExpired,
    AuctionCanceled,
    WinningSolutionSelected,
    AuctionClosed,
    BargeSubmitted,
    BargeUnsubmitted,
    BargeApproved,
    BargeRejected,
    CommentPosted,
    CommentDeleted,
    RsvpGiven,
    ObserverInvited,
    ObserverUninvited,
)


_TAGS: dict[type[Event], str] = {cls: str(cls.__struct_config__.tag) for cls in EVENT_TYPES}


def event_type(event: Event) -> str:
    """The stable tag of an event, e.g. ``bid_placed``."""
    return _TAGS[type(event)]

"""An auction's state and `evolve`, the fold of its events.

`evolve` updates the state in place and returns it. Copying a whole auction per event would make
replaying a 100k-event stream quadratic; in-place folding keeps it O(1) per bid. It stays pure in
every sense that matters for replay: no clock, no ids, no I/O, the same events give the same state
(compare with `store.codec.canonical`: the bid history may be split differently between its
encoded and its appended part). Only the actor (or an offline replay) owns a state; the actor
applies events only after they are durable, and `decide` never mutates.

The bid history (every bid ever placed) is only read by the protocol-1 views and by error paths,
never by `decide`'s hot paths, so a state loaded from a snapshot keeps it encoded: loading a
100k-bid auction must not build 100k structs (DESIGN.md, "Costs grow with change, not with
history").
"""

from __future__ import annotations

from typing import Literal

import msgspec

from auctionactors.domain.events import (
    AuctionCanceled,
    AuctionClosed,
    AuctionCreated,
    AuctionEnded,
    AuctionExpired,
    AuctionStarted,
    AuctionUpdated,
    AutoBidTriggered,
    Barge,
    BargeApproved,
    BargeRejected,
    BargeSubmitted,
    BargeUnsubmitted,
    BidPlaced,
    BidsRevoked,
    CommentDeleted,
    CommentPosted,
    DurationExtended,
    Event,
    ObserverInvited,
    ObserverUninvited,
    RsvpGiven,
    WinningSolutionSelected,
)
from auctionactors.domain.money import Cents
from auctionactors.domain.parties import Party
from auctionactors.domain.terms import FINAL_STATUSES, AuctionTerms, Product, Status
from auctionactors.domain.timestamps import Instant


class Bid(msgspec.Struct, kw_only=True, frozen=True, array_like=True, gc=False):
    """A bid as placed, never changed afterwards: the live book and the history share it, and
    whether it is still live is read from `AuctionState.live` (`AuctionState.is_live`). Only
    scalars, so it can never be part of a reference cycle: ``gc=False`` keeps replaying 100k
    bids from waking the cyclic garbage collector over and over. Encoded as an array (no field
    names): a snapshot of 100k bids is a third of the size, and loads that much faster."""

    bid_id: str
    seq: int
    product_id: str
    supplier_id: str
    amount: Cents | None
    min_amount: Cents | None
    allow_split: bool
    comment: str | None
    traded: bool
    is_auto: bool
    original_time_entered: Instant
    placed_at: Instant

    def rank_key(self) -> tuple[Cents, Instant, int]:
        """Ranking: lower amount first, then earlier original time, then earlier event."""
        assert self.amount is not None
        return (self.amount, self.original_time_entered, self.seq)


BargeStatus = Literal["submitted", "approved", "rejected"]


class BargeRecord(msgspec.Struct, kw_only=True):
    supplier_id: str
    barge: Barge
    status: BargeStatus
    at: Instant


class CommentRecord(msgspec.Struct, kw_only=True):
    comment_id: str
    supplier_id: str
    text: str
    at: Instant
    deleted: bool = False


def barge_key(supplier_id: str, imo: str) -> str:
    return f"{supplier_id}|{imo}"


EMPTY_HISTORY = memoryview(b"\x90")  # msgpack's empty array
_history_decoder = msgspec.msgpack.Decoder(list[Bid])


class AuctionState(msgspec.Struct, kw_only=True, dict=True):
    auction_id: str
    seq: int = 0
    status: Status
    terms: AuctionTerms
    products: dict[str, Product]
    created_at: Instant
    started_at: Instant | None = None
    closes_at: Instant | None = None
    decision_closes_at: Instant | None = None
    ended_at: Instant | None = None
    # The latest event time: the runtime decides no command earlier (``at`` never goes back).
    last_at: Instant = 0
    # The live bids by id (exactly those `live` refers to), in the order placed.
    bids: dict[str, Bid] = msgspec.field(default_factory=dict)
    # Every bid ever placed, in the order placed (`history()`): the older ones as the msgpack
    # array a snapshot holds them in, kept as bytes (a msgpack bin: a load neither parses nor
    # copies it), then those appended since.
    history_raw: memoryview = msgspec.field(default_factory=lambda: EMPTY_HISTORY)
    history_new: list[Bid] = msgspec.field(default_factory=list)
    # product_id -> supplier_id -> bid_id of that supplier's live bid on the product.
    live: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    # Suppliers that have ever bid (revoked bids count): the soft close's "first bid" rule.
    bidders: dict[str, bool] = msgspec.field(default_factory=dict)
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    # Whether a supplier's bid, barge or comment has been recorded: from then on the buyer may
    # have seen an alias tied to what its supplier did, so the aliases must not be redrawn.
    aliases_shown: bool = False
    # "supplier_id|imo" -> the barge and the buyer's verdict on it for that supplier.
    barges: dict[str, BargeRecord] = msgspec.field(default_factory=dict)
    comments: dict[str, CommentRecord] = msgspec.field(default_factory=dict)
    rsvp: dict[str, str] = msgspec.field(default_factory=dict)
    observers: dict[str, Party] = msgspec.field(default_factory=dict)
    winning_bid_ids: tuple[str, ...] | None = None
    winning_total: Cents | None = None
    selection_comment: str | None = None
    port_agent: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def live_bids(self, product_id: str) -> list[Bid]:
        """The product's live bids, unranked."""
        return [self.bids[b] for b in self.live.get(product_id, {}).values()]

    def ranked(self, product_id: str) -> list[Bid]:
        """The product's live bids, best first. Bids placed while pending are only ranked once
        the auction has started."""
        if self.status in ("draft", "pending"):
            return []
        return sorted(
            (b for b in self.live_bids(product_id) if b.amount is not None),
            key=Bid.rank_key,
        )

    def _suppliers(self) -> dict[str, str]:
        """Invited supplier id -> name, in the terms' order: every command and view asks, so it
        is kept beside the state (``dict=True``: never encoded, never compared) for the terms
        object it was made from, and remade when the terms are replaced."""
        cached: tuple[AuctionTerms, dict[str, str]] | None = self.__dict__.get("supplier_names")
        if cached is None or cached[0] is not self.terms:
            names: dict[str, str] = {}
            for s in self.terms.suppliers:
                names.setdefault(s.id, s.name)
            cached = (self.terms, names)
            self.__dict__["supplier_names"] = cached
        return cached[1]

    def history(self) -> list[Bid]:
        """Every bid ever placed, in the order placed (a new list: the caller may keep it).

        The encoded part is decoded on the first call (about 40 ms for 100k bids) and kept
        beside the state (``dict=True``: never encoded, never compared) for the raw bytes it
        came from."""
        cached: tuple[memoryview, list[Bid]] | None = self.__dict__.get("history_decoded")
        if cached is None or cached[0] is not self.history_raw:
            cached = (self.history_raw, _history_decoder.decode(self.history_raw))
            self.__dict__["history_decoded"] = cached
        return cached[1] + self.history_new

    def absorb_history(self, raw: memoryview) -> None:
        """Replace the history's two parts by ``raw``, the encoding of the whole `history()`
        (`store.codec.canonical` makes it): the same history, in its canonical form. A decoded
        copy, if kept, stays valid."""
        cached: tuple[memoryview, list[Bid]] | None = self.__dict__.get("history_decoded")
        if cached is not None and cached[0] is self.history_raw:
            self.__dict__["history_decoded"] = (raw, cached[1] + self.history_new)
        self.history_raw = raw
        self.history_new = []

    def find_bid(self, bid_id: str) -> Bid | None:
        """A bid by id, live or not (decodes the history when it is not live: error paths)."""
        bid = self.bids.get(bid_id)
        if bid is None:
            bid = next((b for b in self.history() if b.bid_id == bid_id), None)
        return bid

    def is_live(self, bid: Bid) -> bool:
        """Whether ``bid`` is its supplier's live bid on its product."""
        return self.live.get(bid.product_id, {}).get(bid.supplier_id) == bid.bid_id

    def is_supplier(self, company_id: str) -> bool:
        return company_id in self._suppliers()

    def supplier_name(self, company_id: str) -> str:
        return self._suppliers().get(company_id, company_id)

    def live_book(self, product_id: str) -> dict[str, Bid]:
        """supplier_id -> live bid, for one product."""
        return {s: self.bids[b] for s, b in self.live.get(product_id, {}).items()}

    def leader(self, product_id: str) -> str | None:
        ranked = self.ranked(product_id)
        return ranked[0].supplier_id if ranked else None

    def next_deadline(self) -> Instant | None:
        """The next instant at which the clock changes this auction, if any."""
        if self.status == "pending":
            return self.terms.scheduled_start
        if self.status == "open":
            return self.closes_at
        if self.status == "decision":
            return self.decision_closes_at
        return None


class ReplayError(Exception):
    """An event cannot be applied to the state (raised by `evolve`; replay reports its seq)."""


def evolve(state: AuctionState | None, event: Event) -> AuctionState:
    """Fold one event into the state (in place; see the module docstring) and return it."""
    if isinstance(event, AuctionCreated):
        if state is not None:
            raise ReplayError("auction_created on an existing auction")
        return AuctionState(
            auction_id=event.auction_id,
            seq=1,
            status=event.status,
            terms=event.terms,
            products={p.product_id: p for p in event.products},
            created_at=event.at,
            last_at=event.at,
            port_agent=event.terms.port_agent,
            aliases=dict(event.aliases),
        )
    if state is None:
        raise ReplayError(f"{type(event).__name__} before auction_created")
    state.seq += 1
    if event.at > state.last_at:
        state.last_at = event.at
    if isinstance(event, BidPlaced | BargeSubmitted | CommentPosted):
        state.aliases_shown = True
    if isinstance(event, BidPlaced):  # and AutoBidPlaced
        _apply_bid(state, event)
    elif isinstance(event, AutoBidTriggered):
        _apply_trigger(state, event)
    elif isinstance(event, BidsRevoked):
        live = state.live.get(event.product_id, {})
        revoked = live.get(event.supplier_id)
        if any(bid_id != revoked for bid_id in event.bid_ids):
            raise ReplayError(f"revoked bids {list(event.bid_ids)} are not the live one")
        if revoked is not None:
            del live[event.supplier_id]
            del state.bids[revoked]
    elif isinstance(event, DurationExtended):
        state.closes_at = event.closes_at
    elif isinstance(event, AuctionStarted):
        state.status = "open"
        state.started_at = event.at
        state.closes_at = event.closes_at
    elif isinstance(event, AuctionEnded):
        state.status = "decision"
        state.ended_at = event.at
        state.decision_closes_at = event.decision_closes_at
    elif isinstance(event, AuctionExpired):
        state.status = "expired"
    elif isinstance(event, AuctionCanceled):
        state.status = "canceled"
    elif isinstance(event, WinningSolutionSelected):
        state.winning_bid_ids = event.bid_ids
        state.winning_total = event.total_price
        state.selection_comment = event.comment
        if event.port_agent is not None:
            state.port_agent = event.port_agent
    elif isinstance(event, AuctionClosed):
        state.status = "closed"
    elif isinstance(event, AuctionUpdated):
        state.terms = event.changes.apply(state.terms)
        if event.products is not None:
            state.products = {p.product_id: p for p in event.products}
        state.port_agent = state.terms.port_agent
        state.status = event.status
        if event.aliases_replace:
            state.aliases = dict(event.aliases)
        else:
            state.aliases.update(event.aliases)
    elif isinstance(event, BargeSubmitted):
        key = barge_key(event.supplier_id, event.barge.imo)
        state.barges[key] = BargeRecord(
            supplier_id=event.supplier_id, barge=event.barge, status="submitted", at=event.at
        )
    elif isinstance(event, BargeUnsubmitted):
        state.barges.pop(barge_key(event.supplier_id, event.imo), None)
    elif isinstance(event, BargeApproved | BargeRejected):
        record = state.barges[barge_key(event.supplier_id, event.imo)]
        record.status = "approved" if isinstance(event, BargeApproved) else "rejected"
        record.at = event.at
    elif isinstance(event, CommentPosted):
        state.comments[event.comment_id] = CommentRecord(
            comment_id=event.comment_id, supplier_id=event.supplier_id, text=event.text, at=event.at
        )
    elif isinstance(event, CommentDeleted):
        state.comments[event.comment_id].deleted = True
    elif isinstance(event, RsvpGiven):
        state.rsvp[event.supplier_id] = event.response
    elif isinstance(event, ObserverInvited):
        state.observers[event.observer.id] = event.observer
    elif isinstance(event, ObserverUninvited):
        state.observers.pop(event.company_id, None)
    else:
        raise ReplayError(f"unknown event {type(event).__name__}")
    return state


def bid_of(event: BidPlaced, seq: int) -> Bid:
    """The live bid a `bid_placed` (or `auto_bid_placed`) event at ``seq`` puts in the book."""
    return Bid(
        bid_id=event.bid_id,
        seq=seq,
        product_id=event.product_id,
        supplier_id=event.supplier_id,
        amount=event.amount,
        min_amount=event.min_amount,
        allow_split=event.allow_split,
        comment=event.comment,
        traded=event.traded,
        is_auto=event.is_auto,
        original_time_entered=event.original_time_entered,
        placed_at=event.at,
    )


def _apply_bid(state: AuctionState, event: BidPlaced) -> None:
    if event.product_id not in state.products:
        raise ReplayError(f"bid for unknown product {event.product_id}")
    live = state.live.setdefault(event.product_id, {})
    previous = live.get(event.supplier_id)
    if previous is not None:
        del state.bids[previous]
    bid = bid_of(event, state.seq)
    state.bids[event.bid_id] = bid
    state.history_new.append(bid)
    live[event.supplier_id] = event.bid_id
    state.bidders[event.supplier_id] = True
    state.rsvp[event.supplier_id] = "yes"  # placing a bid answers the invitation


def _apply_trigger(state: AuctionState, event: AutoBidTriggered) -> None:
    live = state.live[event.product_id]
    if live.get(event.supplier_id) != event.replaces:
        raise ReplayError(f"auto-bid {event.replaces} replaced but not live")
    old = state.bids.pop(event.replaces)
    bid = msgspec.structs.replace(
        old, bid_id=event.bid_id, seq=state.seq, amount=event.amount, placed_at=event.at
    )
    state.bids[event.bid_id] = bid
    state.history_new.append(bid)
    live[event.supplier_id] = event.bid_id


def fold(events: list[Event], state: AuctionState | None = None) -> AuctionState | None:
    """Replay: fold ``events`` (in seq order) into ``state``."""
    for event in events:
        state = evolve(state, event)
    return state

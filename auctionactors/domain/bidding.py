"""Bidding: place bids and auto-bids, revoke, and the soft close (anti-sniping).

A request may carry bids for several products: all are accepted or none. One live bid per
supplier per product: a new bid replaces the supplier's previous bid and auto-bid there. While
open, every change settles the product's auto-bids (`book.settle`), and the events of the bid,
the auto-bids it triggered and the extension it caused form one command: one atomic append.
"""

from __future__ import annotations

from auctionactors.domain.access import require_invited_supplier, wrong_status
from auctionactors.domain.book import bid_id_for, ranked, triggered_events
from auctionactors.domain.bounds import check_optional_text
from auctionactors.domain.commands import BidRequest, PlaceBids, RevokeBid
from auctionactors.domain.events import (
    AutoBidPlaced,
    AutoBidTriggered,
    BidPlaced,
    BidsRevoked,
    DurationExtended,
    Event,
)
from auctionactors.domain.lifecycle import clock_status
from auctionactors.domain.money import Cents, check_tick
from auctionactors.domain.parties import By
from auctionactors.domain.state import AuctionState, Bid, bid_of
from auctionactors.domain.timestamps import Instant, seconds
from auctionactors.errors import TOO_LATE_MESSAGE, DomainError


def check_bidding_open(state: AuctionState, now: Instant, *, revoking: bool = False) -> None:
    """Bids are taken while pending and open, by the clock (open past ``closes_at`` is in
    decision even if the timer has not fired). A term auction's bids may be revoked in decision.
    """
    status = clock_status(state, now)
    if revoking and status == "decision" and state.terms.is_term:
        return
    if status == "decision":
        raise DomainError("too_late", TOO_LATE_MESSAGE)
    if status not in ("pending", "open"):
        raise wrong_status("bids are not accepted", status)


def _validate_amount(state: AuctionState, value: Cents, field: str) -> None:
    check_tick(value, state.terms.tick, field)
    if state.terms.kind != "formula_related" and value <= 0:
        raise DomainError("invalid", f"{field} must be greater than 0")


def _validate_bid(state: AuctionState, req: BidRequest, traded: bool) -> None:
    if req.product_id not in state.products:
        raise DomainError("not_found", f"unknown product {req.product_id}")
    check_optional_text(req.comment, f"the comment of the bid on {req.product_id}")
    if req.amount is None and req.min_amount is None:
        raise DomainError("invalid", "amount or min_amount is required")
    if req.amount is not None:
        _validate_amount(state, req.amount, "amount")
    if req.min_amount is not None:
        _validate_amount(state, req.min_amount, "min_amount")
        if req.amount is not None and req.amount < req.min_amount:
            raise DomainError("invalid", "amount must not be below min_amount")
    if traded and not state.terms.traded_bids_allowed:
        raise DomainError("traded_bids_not_allowed", "this auction does not allow traded bids")


def _opening_amount(state: AuctionState, supplier_id: str, req: BidRequest) -> Cents:
    """An auto-bid's first visible amount: the one given, else the supplier's current live bid
    on the product (never below the floor), else the floor."""
    if req.amount is not None:
        return req.amount
    assert req.min_amount is not None
    current = state.live.get(req.product_id, {}).get(supplier_id)
    if current is not None:
        amount = state.bids[current].amount
        if amount is not None:
            return max(amount, req.min_amount)
    return req.min_amount


def place_bids(state: AuctionState, cmd: PlaceBids, now: Instant) -> list[Event]:
    caller = cmd.by
    supplier_id = caller.company_id
    require_invited_supplier(state, caller)
    check_bidding_open(state, now)
    if not cmd.bids:
        raise DomainError("invalid", "bids must not be empty")
    product_ids = [b.product_id for b in cmd.bids]
    if len(set(product_ids)) != len(product_ids):
        raise DomainError("invalid", "at most one bid per product in a request")
    if len(cmd.bids) > len(state.products):
        raise DomainError(
            "invalid", f"bids: at most one per product, {len(state.products)} in this auction"
        )
    for req in cmd.bids:
        _validate_bid(state, req, cmd.traded)
    by = By.of(caller)
    events: list[Event] = []
    books: dict[str, dict[str, Bid]] = {}
    for req in cmd.bids:
        seq = state.seq + len(events) + 1
        is_auto = req.min_amount is not None
        amount = _opening_amount(state, supplier_id, req) if is_auto else req.amount
        kind = AutoBidPlaced if is_auto else BidPlaced
        event = kind(
            at=now,
            by=by,
            bid_id=bid_id_for(state.auction_id, seq),
            product_id=req.product_id,
            supplier_id=supplier_id,
            amount=amount,
            min_amount=req.min_amount,
            allow_split=req.allow_split,
            comment=req.comment,
            traded=cmd.traded,
            is_auto=is_auto,
            original_time_entered=now,
        )
        events.append(event)
        book = books[req.product_id] = state.live_book(req.product_id)
        book[supplier_id] = bid_of(event, seq)
    if state.status != "open":
        return events  # pending: recorded, ranked and settled at the start
    triggered = triggered_events(state, books, state.seq + len(events) + 1, now)
    events += triggered
    movers = {supplier_id} | {e.supplier_id for e in triggered if isinstance(e, AutoBidTriggered)}
    extension = _soft_close(state, supplier_id, movers, books, now)
    if extension is not None:
        events.append(DurationExtended(at=now, by=by, closes_at=extension))
    return events


def _soft_close(
    state: AuctionState,
    bidder: str,
    movers: set[str],
    books: dict[str, dict[str, Bid]],
    now: Instant,
) -> Instant | None:
    """Anti-sniping: within the window of ``closes_at``, if the bidder (or a supplier whose
    auto-bid the command triggered) now leads a product the command touched, or this is the
    bidder's first bid in the auction, *set* ``closes_at`` to now + window."""
    if state.closes_at is None:
        return None
    window = seconds(state.terms.soft_close_s)
    if state.closes_at - now > window:
        return None
    first_bid = bidder not in state.bidders
    leads = any(
        (best := ranked(book.values())) and best[0].supplier_id in movers for book in books.values()
    )
    new_closes_at = now + window
    if (first_bid or leads) and new_closes_at > state.closes_at:
        return new_closes_at
    return None


def revoke(state: AuctionState, cmd: RevokeBid, now: Instant) -> list[Event]:
    """Withdraw the supplier's live bid (and auto-bid) on one product; history keeps them.
    Competitors' auto-bids settle again but never rise."""
    require_invited_supplier(state, cmd.by)
    check_bidding_open(state, now, revoking=True)
    if cmd.product_id not in state.products:
        raise DomainError("not_found", f"unknown product {cmd.product_id}")
    supplier_id = cmd.by.company_id
    bid_id = state.live.get(cmd.product_id, {}).get(supplier_id)
    if bid_id is None:
        raise DomainError("not_found", f"you have no live bid on product {cmd.product_id}")
    events: list[Event] = [
        BidsRevoked(
            at=now,
            by=By.of(cmd.by),
            product_id=cmd.product_id,
            supplier_id=supplier_id,
            bid_ids=(bid_id,),
        )
    ]
    if state.status == "open":
        book = state.live_book(cmd.product_id)
        del book[supplier_id]
        events += triggered_events(state, {cmd.product_id: book}, state.seq + 2, now)
    return events

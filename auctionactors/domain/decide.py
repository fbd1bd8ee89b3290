"""`decide(state, command, now)`: the auction rules. Pure: returns the events a command causes or
raises `DomainError` with the protocol's error code. It never mutates the state, reads a clock or
makes an id: ``now`` is an input and ids derive from the auction id and the events' seqs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from auctionactors.domain.commands import (
    AnyCommand,
    BidRequest,
    CancelAuction,
    CheckDeadlines,
    CreateAuction,
    PlaceBids,
    RevokeBid,
    SelectSolution,
    StartAuction,
    UpdateAuction,
)
from auctionactors.domain.events import (
    AuctionCanceled,
    AuctionClosed,
    AuctionCreated,
    AuctionEnded,
    AuctionExpired,
    AuctionStarted,
    AuctionUpdated,
    BidPlaced,
    BidsRevoked,
    DurationExtended,
    Event,
    WinningSolutionSelected,
)
from auctionactors.domain.money import check_tick
from auctionactors.domain.parties import By, Caller
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.terms import FINAL_STATUSES, AuctionTerms, Status, number_products
from auctionactors.domain.timestamps import Instant, seconds
from auctionactors.errors import TOO_LATE_MESSAGE, DomainError

NOT_FOUND = "auction not found"


def bid_id_for(auction_id: str, seq: int) -> str:
    """A bid's id: its auction and the seq of the event that placed it. Stable across replays."""
    return f"{auction_id}:{seq}"


def decide(state: AuctionState | None, command: AnyCommand, now: Instant) -> list[Event]:
    """The events ``command`` causes at ``now``, or a `DomainError` refusal."""
    if isinstance(command, CreateAuction):
        if state is not None:
            raise DomainError("invalid", f"auction {command.auction_id} already exists")
        return _create(command, now)
    if state is None:
        raise DomainError("not_found", NOT_FOUND)
    if isinstance(command, CheckDeadlines):
        return due_events(state, now)
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise DomainError("bad_request", f"unknown command {type(command).__name__}")
    return handler(state, command, now)


def due_events(state: AuctionState, now: Instant) -> list[Event]:
    """Every clock transition due at ``now``, computed from the stored deadlines: a deadline that
    passed while the system was down is acted on now, but never moves (no extra time)."""
    events: list[Event] = []
    status: Status = state.status
    closes_at = state.closes_at
    decision_closes_at = state.decision_closes_at
    start = state.terms.scheduled_start
    if status == "pending" and start is not None and now >= start:
        closes_at = start + seconds(state.terms.duration_s)
        events.append(AuctionStarted(at=now, by=None, closes_at=closes_at))
        status = "open"
    if status == "open" and closes_at is not None and now >= closes_at:
        decision_closes_at = closes_at + seconds(state.terms.decision_duration_s)
        events.append(AuctionEnded(at=now, by=None, decision_closes_at=decision_closes_at))
        status = "decision"
    if status == "decision" and decision_closes_at is not None and now >= decision_closes_at:
        events.append(AuctionExpired(at=now, by=None))
    return events


def clock_status(state: AuctionState, now: Instant) -> Status:
    """The status at ``now`` by the stored deadlines, even if the timer has not fired yet: every
    command checks it, so no command races a timer (a buyer cannot select or cancel an auction
    that has expired, nor edit one that has started)."""
    status = state.status
    for event in due_events(state, now):
        if isinstance(event, AuctionStarted):
            status = "open"
        elif isinstance(event, AuctionEnded):
            status = "decision"
        elif isinstance(event, AuctionExpired):
            status = "expired"
    return status


# --- access -------------------------------------------------------------------------------


def _require_buyer_or_admin(state: AuctionState, caller: Caller) -> None:
    if caller.role == "admin":
        return
    if caller.role == "buyer" and caller.company_id == state.terms.buyer.id:
        return
    if _can_see(state, caller):
        raise DomainError("forbidden", "only the auction's buyer or an admin may do this")
    raise DomainError("not_found", NOT_FOUND)


def _can_see(state: AuctionState, caller: Caller) -> bool:
    if caller.role == "admin" or caller.company_id == state.terms.buyer.id:
        return True
    if state.status == "draft":
        return False
    return any(s.id == caller.company_id for s in state.terms.suppliers)


def _require_invited_supplier(state: AuctionState, caller: Caller) -> None:
    if not _can_see(state, caller):
        raise DomainError("not_found", NOT_FOUND)
    if caller.role != "supplier" or not any(
        s.id == caller.company_id for s in state.terms.suppliers
    ):
        raise DomainError("forbidden", "only an invited supplier may do this")


# --- lifecycle ----------------------------------------------------------------------------


def _validate_terms(terms: AuctionTerms, scheduled: bool) -> None:
    if terms.kind != "spot":
        raise DomainError("invalid", f"{terms.kind} auctions are not supported yet")
    if not terms.port.strip():
        raise DomainError("invalid", "port must not be empty")
    if terms.duration_s <= 0 or terms.decision_duration_s <= 0:
        raise DomainError("invalid", "durations must be positive")
    if terms.soft_close_s < 0:
        raise DomainError("invalid", "soft_close_s must not be negative")
    if terms.tick <= 0:
        raise DomainError("invalid", "tick must be positive")
    ids = [s.id for s in terms.suppliers]
    if len(set(ids)) != len(ids):
        raise DomainError("invalid", "a supplier is listed twice")
    if terms.buyer.id in ids:
        raise DomainError("invalid", "the buyer cannot be a supplier")
    for i, p in enumerate(terms.products, start=1):
        if not p.vessel.name.strip() or not p.vessel.imo.strip():
            raise DomainError("invalid", f"product {i}: vessel name and IMO are required")
        if not p.fuel.strip():
            raise DomainError("invalid", f"product {i}: fuel is required")
        if p.quantity_mt <= 0:
            raise DomainError("invalid", f"product {i}: quantity_mt must be greater than 0")
        if p.etd is not None and p.etd < p.eta:
            raise DomainError("invalid", f"product {i}: etd must not be before eta")
    if scheduled:
        if not terms.suppliers:
            raise DomainError("invalid", "a scheduled auction needs at least one supplier")
        if not terms.products:
            raise DomainError("invalid", "a scheduled auction needs at least one product")


def _check_start(terms: AuctionTerms, caller: Caller, now: Instant) -> bool:
    """Validate a (new) scheduled start; True when an admin's start in the past means 'now'."""
    start = terms.scheduled_start
    if start is None or start > now:
        return False
    if caller.role != "admin" and start < now:
        raise DomainError("invalid", "scheduled_start must not be in the past")
    return caller.role == "admin"


def _create(cmd: CreateAuction, now: Instant) -> list[Event]:
    caller, terms = cmd.by, cmd.terms
    if caller.role not in ("buyer", "admin"):
        raise DomainError("forbidden", "only a buyer or an admin may create an auction")
    if caller.role == "buyer" and terms.buyer.id != caller.company_id:
        raise DomainError("forbidden", "a buyer creates auctions for its own company only")
    scheduled = terms.scheduled_start is not None
    _validate_terms(terms, scheduled)
    start_now = _check_start(terms, caller, now)
    by = By.of(caller)
    events: list[Event] = [
        AuctionCreated(
            at=now,
            by=by,
            auction_id=cmd.auction_id,
            terms=terms,
            products=number_products(terms.products),
            status="pending" if scheduled else "draft",
        )
    ]
    if start_now:
        events.append(AuctionStarted(at=now, by=by, closes_at=now + seconds(terms.duration_s)))
    return events


def _update(state: AuctionState, cmd: UpdateAuction, now: Instant) -> list[Event]:
    _require_buyer_or_admin(state, cmd.by)
    status = clock_status(state, now)
    if status not in ("draft", "pending"):
        raise DomainError(
            "wrong_status", f"an auction can be edited in draft or pending, not {status}"
        )
    changes = cmd.changes
    terms = changes.apply(state.terms)
    scheduled = terms.scheduled_start is not None
    _validate_terms(terms, scheduled)
    if changes.products is not msgspec.UNSET and state.bids:
        raise DomainError("invalid", "products cannot change once bids were placed")
    if changes.tick is not msgspec.UNSET and state.bids:
        raise DomainError("invalid", "the tick cannot change once bids were placed")
    kept = {s.id for s in terms.suppliers}
    for supplier_id in state.bidders:
        if supplier_id not in kept:
            raise DomainError("invalid", f"supplier {supplier_id} has bid and cannot be removed")
    start_now = changes.scheduled_start is not msgspec.UNSET and _check_start(terms, cmd.by, now)
    by = By.of(cmd.by)
    products = None
    if changes.products is not msgspec.UNSET:
        products = number_products(terms.products)
    events: list[Event] = [
        AuctionUpdated(
            at=now,
            by=by,
            changes=changes,
            products=products,
            status="pending" if scheduled else "draft",
        )
    ]
    if start_now:
        events.append(AuctionStarted(at=now, by=by, closes_at=now + seconds(terms.duration_s)))
    return events


def _start(state: AuctionState, cmd: StartAuction, now: Instant) -> list[Event]:
    if cmd.by.role != "admin":
        _require_buyer_or_admin(state, cmd.by)
        raise DomainError("forbidden", "only an admin may start an auction by hand")
    status = clock_status(state, now)  # past its start, the clock has opened it: no extra time
    if status != "pending":
        raise DomainError("wrong_status", f"only a pending auction can be started, not {status}")
    closes_at = now + seconds(state.terms.duration_s)
    return [AuctionStarted(at=now, by=By.of(cmd.by), closes_at=closes_at)]


def _cancel(state: AuctionState, cmd: CancelAuction, now: Instant) -> list[Event]:
    _require_buyer_or_admin(state, cmd.by)
    status = clock_status(state, now)
    if status in FINAL_STATUSES:
        raise DomainError("wrong_status", f"the auction is already {status}")
    return [AuctionCanceled(at=now, by=By.of(cmd.by))]


# --- bidding ------------------------------------------------------------------------------


def _check_bidding_open(state: AuctionState, now: Instant) -> None:
    # By the clock: open past closes_at (or pending past start + duration) is in decision.
    status = clock_status(state, now)
    if status == "decision":
        raise DomainError("too_late", TOO_LATE_MESSAGE)
    if status not in ("pending", "open"):
        raise DomainError("wrong_status", f"bids are not accepted when the auction is {status}")


def _validate_bid(state: AuctionState, req: BidRequest, traded: bool) -> None:
    if req.product_id not in state.products:
        raise DomainError("not_found", f"unknown product {req.product_id}")
    if req.min_amount is not None:
        raise DomainError("invalid", "auto-bids (min_amount) are not supported yet")
    if req.amount is None:
        raise DomainError("invalid", "amount is required")
    check_tick(req.amount, state.terms.tick, "amount")
    if state.terms.kind != "formula_related" and req.amount <= 0:
        raise DomainError("invalid", "amount must be greater than 0")
    if traded and not state.terms.traded_bids_allowed:
        raise DomainError("traded_bids_not_allowed", "this auction does not allow traded bids")


def _place_bids(state: AuctionState, cmd: PlaceBids, now: Instant) -> list[Event]:
    caller = cmd.by
    _require_invited_supplier(state, caller)
    _check_bidding_open(state, now)
    if not cmd.bids:
        raise DomainError("invalid", "bids must not be empty")
    product_ids = [b.product_id for b in cmd.bids]
    if len(set(product_ids)) != len(product_ids):
        raise DomainError("invalid", "at most one bid per product in a request")
    for req in cmd.bids:
        _validate_bid(state, req, cmd.traded)
    by = By.of(caller)
    events: list[Event] = []
    new_bids: dict[str, Bid] = {}
    for req in cmd.bids:
        seq = state.seq + len(events) + 1
        event = BidPlaced(
            at=now,
            by=by,
            bid_id=bid_id_for(state.auction_id, seq),
            product_id=req.product_id,
            supplier_id=caller.company_id,
            amount=req.amount,
            allow_split=req.allow_split,
            comment=req.comment,
            traded=cmd.traded,
            original_time_entered=now,
        )
        events.append(event)
        new_bids[req.product_id] = Bid(
            bid_id=event.bid_id,
            seq=seq,
            product_id=req.product_id,
            supplier_id=caller.company_id,
            amount=req.amount,
            min_amount=None,
            allow_split=req.allow_split,
            comment=req.comment,
            traded=cmd.traded,
            is_auto=False,
            original_time_entered=now,
            placed_at=now,
        )
    extension = _soft_close(state, caller.company_id, new_bids, now)
    if extension is not None:
        events.append(DurationExtended(at=now, by=by, closes_at=extension))
    return events


def _soft_close(
    state: AuctionState, supplier_id: str, new_bids: dict[str, Bid], now: Instant
) -> Instant | None:
    """Anti-sniping: while open and within the window of ``closes_at``, a bid that leaves its
    bidder leading a product it touched, or the bidder's first bid in the auction, *sets*
    ``closes_at`` to now + window."""
    if state.status != "open" or state.closes_at is None:
        return None
    window = seconds(state.terms.soft_close_s)
    if state.closes_at - now > window:
        return None
    first_bid = supplier_id not in state.bidders
    leads = False
    for product_id, bid in new_bids.items():
        others = [b for b in state.live_bids(product_id) if b.supplier_id != supplier_id]
        ranked = sorted([*(b for b in others if b.amount is not None), bid], key=Bid.rank_key)
        leads = leads or ranked[0].supplier_id == supplier_id
    new_closes_at = now + window
    if (first_bid or leads) and new_closes_at > state.closes_at:
        return new_closes_at
    return None


def _revoke(state: AuctionState, cmd: RevokeBid, now: Instant) -> list[Event]:
    _require_invited_supplier(state, cmd.by)
    _check_bidding_open(state, now)
    if cmd.product_id not in state.products:
        raise DomainError("not_found", f"unknown product {cmd.product_id}")
    bid_id = state.live.get(cmd.product_id, {}).get(cmd.by.company_id)
    if bid_id is None:
        raise DomainError("not_found", f"you have no live bid on product {cmd.product_id}")
    return [
        BidsRevoked(
            at=now,
            by=By.of(cmd.by),
            product_id=cmd.product_id,
            supplier_id=cmd.by.company_id,
            bid_ids=(bid_id,),
        )
    ]


# --- the decision -------------------------------------------------------------------------


def _select(state: AuctionState, cmd: SelectSolution, now: Instant) -> list[Event]:
    caller = cmd.by
    _require_buyer_or_admin(state, caller)
    allowed: tuple[str, ...] = ("decision", "expired") if caller.role == "admin" else ("decision",)
    # Both the recorded status (never close an auction whose end is not recorded yet) and the
    # clock's (a buyer cannot select once decision_closes_at has passed).
    for status in (state.status, clock_status(state, now)):
        if status not in allowed:
            raise DomainError(
                "wrong_status", f"a solution cannot be selected when the auction is {status}"
            )
    if not cmd.bid_ids:
        raise DomainError("invalid", "bid_ids must not be empty")
    chosen: list[Bid] = []
    for bid_id in cmd.bid_ids:
        bid = state.bids.get(bid_id)
        if bid is None:
            raise DomainError("not_found", f"unknown bid {bid_id}")
        if not bid.active:
            raise DomainError("invalid", f"bid {bid_id} is no longer live")
        chosen.append(bid)
    products = [b.product_id for b in chosen]
    if len(set(products)) != len(products):
        raise DomainError("invalid", "at most one bid per product may be selected")
    _check_split(state, chosen)
    total = sum((b.amount or 0) * state.products[b.product_id].quantity_mt for b in chosen)
    by = By.of(caller)
    return [
        WinningSolutionSelected(
            at=now,
            by=by,
            bid_ids=tuple(cmd.bid_ids),
            total_price=total,
            comment=cmd.comment,
            port_agent=cmd.port_agent,
        ),
        AuctionClosed(at=now, by=by),
    ]


def _check_split(state: AuctionState, chosen: list[Bid]) -> None:
    """A supplier whose selected bids include one with ``allow_split=False`` must have all its
    live bids selected: such bids are offered together or not at all."""
    chosen_ids = {b.bid_id for b in chosen}
    for supplier_id in {b.supplier_id for b in chosen if not b.allow_split}:
        group = [
            bid_id
            for supplier_bids in state.live.values()
            if (bid_id := supplier_bids.get(supplier_id)) is not None
        ]
        if any(bid_id not in chosen_ids for bid_id in group):
            raise DomainError("invalid", f"the bids of {supplier_id} cannot be split")


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
        return {"bid_ids": [e.bid_id for e in events if isinstance(e, BidPlaced)]}
    return {}


_HANDLERS: dict[type[Any], Callable[[AuctionState, Any, Instant], list[Event]]] = {
    UpdateAuction: _update,
    StartAuction: _start,
    CancelAuction: _cancel,
    PlaceBids: _place_bids,
    RevokeBid: _revoke,
    SelectSolution: _select,
}

"""The decision: the buyer (or an admin) picks the winning bids and the auction closes.

Spot auctions are decided in ``decision``; term auctions also while ``open``; an admin may
still decide an ``expired`` auction. A custom selection is checked here: live bids only, at most
one per product, and a supplier's non-split bids taken all together or not at all.
"""

from __future__ import annotations

from auctionactors.domain.access import require_buyer_or_admin, wrong_status
from auctionactors.domain.bounds import check_optional_text
from auctionactors.domain.commands import SelectSolution
from auctionactors.domain.events import AuctionClosed, Event, WinningSolutionSelected
from auctionactors.domain.lifecycle import clock_status
from auctionactors.domain.parties import By
from auctionactors.domain.solutions import Solutions, compute
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.timestamps import Instant
from auctionactors.errors import DomainError


def _allowed_statuses(state: AuctionState, role: str) -> tuple[str, ...]:
    statuses: tuple[str, ...] = ("decision",)
    if state.terms.is_term:
        statuses += ("open",)
    if role == "admin":
        statuses += ("expired",)
    return statuses


def select(
    state: AuctionState, cmd: SelectSolution, now: Instant, solutions: Solutions | None = None
) -> list[Event]:
    """The selection's events. ``solutions`` are the state's (`solutions.compute`), when the
    caller already has them (the runtime solves big problems off the event loop); else they are
    computed here."""
    caller = cmd.by
    require_buyer_or_admin(state, caller)
    allowed = _allowed_statuses(state, caller.role)
    # Both the recorded status (never close an auction whose end is not recorded yet) and the
    # clock's (a buyer cannot select once decision_closes_at has passed).
    for status in (state.status, clock_status(state, now)):
        if status not in allowed:
            raise wrong_status("a solution cannot be selected", status)
    check_optional_text(cmd.comment, "comment")
    check_optional_text(cmd.port_agent, "port_agent")
    bid_ids = _chosen_ids(state, cmd, solutions)
    chosen: list[Bid] = []
    for bid_id in bid_ids:
        bid = state.bids.get(bid_id)  # the live bids
        if bid is None:
            if state.find_bid(bid_id) is None:  # an error path: it may decode the history
                raise DomainError("not_found", f"unknown bid {bid_id}")
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
            bid_ids=tuple(bid_ids),
            total_price=total,
            comment=cmd.comment,
            port_agent=cmd.port_agent,
        ),
        AuctionClosed(at=now, by=by),
    ]


def _chosen_ids(
    state: AuctionState, cmd: SelectSolution, solutions: Solutions | None
) -> tuple[str, ...]:
    if cmd.solution is not None and cmd.bid_ids:
        raise DomainError("invalid", "give either bid_ids or solution, not both")
    if cmd.solution is None:
        if not cmd.bid_ids:
            raise DomainError("invalid", "bid_ids must not be empty")
        return cmd.bid_ids
    if solutions is None:
        solutions = compute(state)
    named = (
        solutions.best_overall if cmd.solution == "best_overall" else solutions.best_single_supplier
    )
    if named is None or not named.bid_ids:
        raise DomainError("invalid", f"there is no {cmd.solution} solution to select")
    return named.bid_ids


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

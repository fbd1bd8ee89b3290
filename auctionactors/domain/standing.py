"""A supplier's status line (DOMAIN.md, Solutions): its one-line summary of where it stands,
and the product labels it names. Apart from `views` (which shows it) so that both stay short.
"""

from __future__ import annotations

from auctionactors.domain.solutions import Solutions
from auctionactors.domain.state import AuctionState
from auctionactors.domain.terms import Product

__all__ = ["product_label", "status_line"]

_STANDING = "supplier_standing"  # kept in the state's ``__dict__`` (`_standing`)


def product_label(product: Product) -> str:
    if product.vessel is not None:
        return f"{product.vessel.name} {product.fuel}"
    return f"{product.fuel} {product.start_month}..{product.end_month}"


def status_line(state: AuctionState, supplier_id: str, sols: Solutions) -> str:
    """The supplier's one-line summary of where it stands (DOMAIN.md, Solutions)."""
    if state.status == "closed" and state.winning_bid_ids is not None:
        won = [
            state.bids[b].product_id
            for b in state.winning_bid_ids
            if state.bids[b].supplier_id == supplier_id
        ]
        if won and len(won) == len(state.products):
            return "You won the entire auction"
        if won:
            labels = ", ".join(product_label(state.products[p]) for p in won)
            return f"You won bids for {labels} in this auction"
        return "Regretfully, you were unsuccessful in this auction. Thank you for quoting"
    if state.status == "expired":
        return "No offer was selected"
    if state.status == "canceled":
        return "The auction was canceled"
    counts, best_of = _standing(state, sols)
    mine = counts.get(supplier_id, 0)  # the products it has a live bid on (one each at most)
    if not mine:
        return "You have not bid on this auction"
    if state.status in ("draft", "pending"):
        return "Your bids will be ranked when the auction starts"
    if mine < len(state.products):
        return "You only have a partial offer for this auction"
    best = sols.best_overall
    if best is not None and (not best.bid_ids or best_of == supplier_id):  # all its own bids
        return "You have the best overall offer for this auction"
    own = sols.by_supplier.get(supplier_id)
    single = sols.best_single_supplier
    if (
        len(state.products) > 1
        and own is not None
        and single is not None
        and own.valid
        and own.bid_ids != single.bid_ids  # the best single supplier itself was first
        and own.total_price == single.total_price
    ):
        return "Your bid matches the best single-supplier offer, but was not the first"
    return "Your bid is not the best offer"


def _standing(state: AuctionState, sols: Solutions) -> tuple[dict[str, int], str | None]:
    """What every supplier's `status_line` reads, found once per state and solutions (kept
    beside the state, like the views' parts): how many products each supplier has a live bid
    on, and whose bids the best overall is made of (None: nobody's alone, or no best
    overall)."""
    made: tuple[int, Solutions, dict[str, int], str | None] | None
    made = state.__dict__.get(_STANDING)
    if made is not None and made[0] == state.seq and made[1] is sols:
        return made[2], made[3]
    counts: dict[str, int] = {}
    for product_id in state.products:
        for supplier_id in state.live.get(product_id, ()):
            counts[supplier_id] = counts.get(supplier_id, 0) + 1
    best, best_of = sols.best_overall, None
    if best is not None:
        bids = state.bids
        owners = {bids[b].supplier_id if b in bids else None for b in best.bid_ids}
        best_of = owners.pop() if len(owners) == 1 else None
    state.__dict__[_STANDING] = (state.seq, sols, counts, best_of)
    return counts, best_of

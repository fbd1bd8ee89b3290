"""Solutions: which live bids the buyer could take, and what they cost.

A solution is a set of live bids, at most one per product. It is *valid* when it covers every
product; ``total_price`` is the sum of amount times quantity; solutions are ordered valid first,
then lower total, then earlier ``latest_original_time_entered`` (who completed their offer first).

Best overall is a combinatorial problem under ``allow_split`` (`combination`: the problem as
plain data, its order and a pure exact solver); the best single supplier is also a candidate.
A big problem may be solved outside the domain (the runtime's MILP, off the event loop) and its
choice passed to `compute`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from auctionactors.domain import combination
from auctionactors.domain.combination import Choice
from auctionactors.domain.money import Cents
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.timestamps import Instant

_SOLUTIONS = "supplier_solutions"  # kept in the state's ``__dict__`` (`_by_supplier`)


class Solution(msgspec.Struct, frozen=True):
    bid_ids: tuple[str, ...]
    valid: bool
    total_price: Cents
    latest_original_time_entered: Instant | None

    def sort_key(self) -> tuple[bool, Cents, Instant]:
        return (not self.valid, self.total_price, self.latest_original_time_entered or 0)


class Solutions(msgspec.Struct, frozen=True):
    best_overall: Solution | None
    best_single_supplier: Solution | None
    by_supplier: dict[str, Solution]


def solution_of(state: AuctionState, bids: Iterable[Bid]) -> Solution:
    chosen = sorted(bids, key=_product_of)
    products = state.products
    total = 0
    latest: Instant | None = None
    for b in chosen:
        assert b.amount is not None
        total += b.amount * products[b.product_id].quantity_mt
        if latest is None or b.original_time_entered > latest:
            latest = b.original_time_entered
    covered = {b.product_id for b in chosen}
    return Solution(
        bid_ids=tuple(b.bid_id for b in chosen),
        valid=bool(products) and covered == products.keys(),
        total_price=total,
        latest_original_time_entered=latest,
    )


def _product_of(bid: Bid) -> str:
    return bid.product_id


def _by_supplier(state: AuctionState, per_supplier: dict[str, list[Bid]]) -> dict[str, Solution]:
    """Each supplier's solution; one whose live bids are the same (bids never change) as when
    it was last computed on this state object, with the same products, is not computed again
    (kept beside the state, in its ``__dict__``, like the views' parts): after a bid, only its
    supplier's is."""
    made: tuple[dict[str, Any], dict[str, tuple[tuple[Bid, ...], Solution]]] | None
    made = state.__dict__.get(_SOLUTIONS)
    if made is None or made[0] is not state.products:
        made = (state.products, {})
        state.__dict__[_SOLUTIONS] = made
    known = made[1]
    out: dict[str, Solution] = {}
    for supplier_id, bids in per_supplier.items():
        key = tuple(bids)
        entry = known.get(supplier_id)
        if entry is None or entry[0] != key:
            entry = known[supplier_id] = (key, solution_of(state, bids))
        out[supplier_id] = entry[1]
    return out


def _live_by_supplier(state: AuctionState) -> dict[str, list[Bid]]:
    if state.status in ("draft", "pending"):
        return {}  # bids placed while pending are not ranked until the start
    out: dict[str, list[Bid]] = {}
    for product_id in state.products:
        for supplier_id, bid_id in state.live.get(product_id, {}).items():
            out.setdefault(supplier_id, []).append(state.bids[bid_id])
    return out


def compute(state: AuctionState, choice: Choice | None = None) -> Solutions:
    """Every solution the views and the selection need, from the current live bids.

    ``choice`` is the best overall combination of `combination.problem_of(state)` when a solver
    outside the domain found it (the runtime solves big problems off the event loop); without
    it, the pure `combination.solve` finds it here."""
    per_supplier = _live_by_supplier(state)
    by_supplier = _by_supplier(state, per_supplier)
    valid_singles = [sol for sol in by_supplier.values() if sol.valid]
    best_single = min(valid_singles, key=Solution.sort_key, default=None)
    best = None
    problem = combination.problem_of(state, per_supplier)
    if problem is not None:
        chosen = combination.solve(problem) if choice is None else choice
        best = solution_of(state, (state.bids[b] for b in combination.bid_ids(problem, chosen)))
    if best_single is not None and (best is None or best_single.sort_key() < best.sort_key()):
        best = best_single
    return Solutions(best_overall=best, best_single_supplier=best_single, by_supplier=by_supplier)

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

_SOLUTIONS = "solutions_known"  # kept in the state's ``__dict__`` (`_Known`)


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


Entry = tuple[tuple[Bid, ...], Solution, combination.Part]  # a supplier's bids, from them


class _Known(msgspec.Struct):
    """What `compute` keeps beside a state (in its ``__dict__``) for the next call on the same
    state object, valid while its products are the same object (bids never change, so the same
    bids give the same results): per supplier, in the order of `_live_by_supplier`, its live
    bids with its solution and problem part; the live bids they were made from, with the
    suppliers of each product in the order of `AuctionState.live`; the entries `_entries` made
    again the last time, with what they replaced (None: all of them); the last problem with its
    singles' ranks, and the last best overall solution, by its bids."""

    products: dict[str, Any]
    entries: dict[str, Entry] = msgspec.field(default_factory=dict)
    bids: dict[str, Bid] | None = None  # None: not made yet, or the auction was not ranked
    order: tuple[tuple[str, ...], ...] = ()
    changed: list[tuple[Entry, Entry]] | None = None
    problem: tuple[combination.Problem, dict[str, tuple[int, int, int]]] | None = None
    best: tuple[tuple[str, ...], Solution] | None = None


def _known(state: AuctionState) -> _Known:
    known: _Known | None = state.__dict__.get(_SOLUTIONS)
    if known is None or known.products is not state.products:
        known = state.__dict__[_SOLUTIONS] = _Known(state.products)
    return known


def _entries(state: AuctionState, known: _Known) -> dict[str, Entry]:
    """Each supplier's entry, in the order of `_live_by_supplier`. When every product has the
    same suppliers in the same order as when they were last made, only the bids placed since
    replace those they replaced (a supplier's new bid on a product takes its old one's place),
    and only their suppliers' entries are made again; else the entries are made from the live
    bids, the unchanged ones (same bids) kept."""
    if state.status in ("draft", "pending"):
        known.bids = None
        return {}  # bids placed while pending are not ranked until the start
    order = tuple(tuple(state.live.get(p, ())) for p in state.products)
    live = state.bids
    if known.bids is not None and order == known.order:
        fresh = [live[b] for b in live.keys() - known.bids.keys()]
        known.changed = []
        if fresh:
            placed = {(b.supplier_id, b.product_id): b for b in fresh}
            for supplier_id in {b.supplier_id for b in fresh}:
                old = known.entries[supplier_id]
                bids = tuple(placed.get((supplier_id, b.product_id), b) for b in old[0])
                new = known.entries[supplier_id] = _entry(state, bids)
                known.changed.append((old, new))
            known.bids = dict(live)
        return known.entries
    entries = {}
    for supplier_id, listed in _live_by_supplier(state).items():
        bids = tuple(listed)
        entry = known.entries.get(supplier_id)
        if entry is None or entry[0] != bids:
            entry = _entry(state, bids)
        entries[supplier_id] = entry
    known.entries, known.bids, known.order = entries, dict(live), order
    known.changed = None
    return entries


def _problem(state: AuctionState, known: _Known) -> combination.Problem:
    """`combination.problem_of(state)`, from the entries. Without groups, when only bids were
    replaced by bids of the same supplier on the same products, the last problem's singles are
    kept but where a new bid ranks first; else (a group, or a product's first-ranked bid
    replaced by a later-ranked one) it is made from every entry."""
    last, changed = known.problem, known.changed
    if last is not None and changed is not None and not last[0].groups:
        singles, ranks = dict(last[0].singles), dict(last[1])
        for old, new in changed:
            if old[2].group is not None or new[2].group is not None:
                break
            if len(old[2].splits) != len(new[2].splits):
                break
            for (was, _, _), (bid, rank, offer) in zip(old[2].splits, new[2].splits, strict=True):
                p = bid.product_id
                if was.product_id != p:
                    break
                if rank < ranks[p]:
                    singles[p], ranks[p] = offer, rank
                elif was is not bid and singles[p].bid_ids == (was.bid_id,):
                    break  # the first-ranked bid was replaced by a later-ranked one
            else:
                continue
            break
        else:
            problem = combination.Problem(products=last[0].products, singles=singles, groups=())
            known.problem = (problem, ranks)
            return problem
    parts = [entry[2] for entry in known.entries.values()]
    problem = combination.problem_from(state, parts)
    ranks = {}
    for part in parts:
        for bid, rank, offer in part.splits:
            if problem.singles.get(bid.product_id) is offer:
                ranks[bid.product_id] = rank
    known.problem = (problem, ranks)
    return problem


def _entry(state: AuctionState, bids: tuple[Bid, ...]) -> Entry:
    return (bids, solution_of(state, bids), combination.part_of(state, bids))


def _best_of(state: AuctionState, known: _Known, bid_ids: list[str]) -> Solution:
    """`solution_of` the chosen bids, the last one again if they are the same."""
    key = tuple(bid_ids)
    if known.best is None or known.best[0] != key:
        known.best = (key, solution_of(state, (state.bids[b] for b in bid_ids)))
    return known.best[1]


def _live_by_supplier(state: AuctionState) -> dict[str, list[Bid]]:
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
    known = _known(state)
    entries = _entries(state, known)
    by_supplier = {supplier_id: entry[1] for supplier_id, entry in entries.items()}
    valid_singles = [sol for sol in by_supplier.values() if sol.valid]
    best_single = min(valid_singles, key=Solution.sort_key, default=None)
    best = None
    if entries:
        problem = _problem(state, known)
        chosen = combination.solve(problem) if choice is None else choice
        best = _best_of(state, known, combination.bid_ids(problem, chosen))
    if best_single is not None and (best is None or best_single.sort_key() < best.sort_key()):
        best = best_single
    return Solutions(best_overall=best, best_single_supplier=best_single, by_supplier=by_supplier)

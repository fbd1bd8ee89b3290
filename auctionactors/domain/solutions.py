"""Solutions: which live bids the buyer could take, and what they cost.

A solution is a set of live bids, at most one per product. It is *valid* when it covers every
product; ``total_price`` is the sum of amount times quantity; solutions are ordered valid first,
then lower total, then earlier ``latest_original_time_entered`` (who completed their offer first).

Best overall is a combinatorial search, kept polynomial in the number of suppliers: a supplier
with any ``allow_split=False`` bid offers all its bids as one *group* (or only its split bids one
by one); groups are reduced to the cheapest one per distinct set of products, then combined by
dynamic programming over the sets of products they cover (at most 2^products of them, however
many suppliers), and every product left uncovered by the chosen groups takes its cheapest
splittable bid. The search is exact: no combination is cut off.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from auctionactors.domain.money import Cents
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.timestamps import Instant


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
    chosen = sorted(bids, key=lambda b: b.product_id)
    total = sum(_cost(state, b) for b in chosen)
    covered = {b.product_id for b in chosen}
    return Solution(
        bid_ids=tuple(b.bid_id for b in chosen),
        valid=bool(state.products) and covered == set(state.products),
        total_price=total,
        latest_original_time_entered=max((b.original_time_entered for b in chosen), default=None),
    )


def _cost(state: AuctionState, bid: Bid) -> Cents:
    assert bid.amount is not None
    return bid.amount * state.products[bid.product_id].quantity_mt


def _live_by_supplier(state: AuctionState) -> dict[str, list[Bid]]:
    if state.status in ("draft", "pending"):
        return {}  # bids placed while pending are not ranked until the start
    out: dict[str, list[Bid]] = {}
    for product_id in state.products:
        for supplier_id, bid_id in state.live.get(product_id, {}).items():
            out.setdefault(supplier_id, []).append(state.bids[bid_id])
    return out


def compute(state: AuctionState) -> Solutions:
    """Every solution the views and the selection need, from the current live bids."""
    per_supplier = _live_by_supplier(state)
    by_supplier = {s: solution_of(state, bids) for s, bids in per_supplier.items()}
    valid_singles = [sol for sol in by_supplier.values() if sol.valid]
    best_single = min(valid_singles, key=Solution.sort_key, default=None)
    best = _best_overall(state, per_supplier)
    if best_single is not None and (best is None or best_single.sort_key() < best.sort_key()):
        best = best_single
    return Solutions(best_overall=best, best_single_supplier=best_single, by_supplier=by_supplier)


def _best_overall(state: AuctionState, per_supplier: dict[str, list[Bid]]) -> Solution | None:
    singles: dict[str, Bid] = {}  # product -> cheapest splittable bid, of any supplier
    groups: dict[frozenset[str], list[Bid]] = {}  # product set -> cheapest non-split group
    for bids in per_supplier.values():
        if any(not b.allow_split for b in bids):
            products = frozenset(b.product_id for b in bids)
            current = groups.get(products)
            if current is None or _group_key(state, bids) < _group_key(state, current):
                groups[products] = bids
        # Split bids are taken one by one, also those of a supplier with non-split ones.
        for bid in bids:
            cheapest = singles.get(bid.product_id)
            if bid.allow_split and (cheapest is None or bid.rank_key() < cheapest.rank_key()):
                singles[bid.product_id] = bid
    if not singles and not groups:
        return None
    # Which products the chosen groups cover -> the cheapest way to cover exactly those with
    # disjoint groups (cost, latest time, bids). Each group is added to the ways found before
    # it, so it is used at most once; there are at most 2^products ways whatever the number of
    # suppliers, and no combination is ever left unexplored.
    ways: dict[frozenset[str], tuple[Cents, Instant, list[Bid]]] = {frozenset(): (0, 0, [])}
    for products, bids in sorted(
        groups.items(), key=lambda kv: (sorted(kv[0]), _group_key(state, kv[1]))
    ):
        cost, latest = _group_key(state, bids)
        for used, (used_cost, used_latest, chosen) in list(ways.items()):
            if used & products:
                continue
            way = (used_cost + cost, max(used_latest, latest), [*chosen, *bids])
            known = ways.get(used | products)
            if known is None or way[:2] < known[:2]:
                ways[used | products] = way
    # Every product the groups leave uncovered takes its cheapest splittable bid.
    fill = {p: (_cost(state, b), b.original_time_entered) for p, b in singles.items()}
    best_key: tuple[bool, int, Cents, Instant] | None = None
    best_way: tuple[frozenset[str], list[Bid]] | None = None
    for used, (cost, latest, chosen) in ways.items():
        count = len(used)
        for product_id, (fill_cost, fill_time) in fill.items():
            if product_id not in used:
                count += 1
                cost += fill_cost
                latest = max(latest, fill_time)
        key = (count < len(state.products), -count, cost, latest)
        if best_key is None or key < best_key:
            best_key, best_way = key, (used, chosen)
    assert best_way is not None
    used, chosen = best_way
    return solution_of(state, [*chosen, *(b for p, b in singles.items() if p not in used)])


def _group_key(state: AuctionState, bids: list[Bid]) -> tuple[Cents, Instant]:
    return (
        sum(_cost(state, b) for b in bids),
        max(b.original_time_entered for b in bids),
    )

"""Best overall as a plain combinatorial problem, its order, and a pure exact way to solve it.

The live bids reduce to *offers*: every supplier with a non-split bid offers the *group* of all
its live bids (taken whole or not at all); every splittable bid is also offered alone, and only
the cheapest one per product matters (then the earliest: `Bid.rank_key`), as only the cheapest
group per distinct set of products does (then the earliest completed). A *choice* is a set of
pairwise disjoint groups; every product they leave uncovered takes its single, when it has one.
Choices are ordered by `key`: valid (every product covered) first, then more products covered,
then lower total, then earlier latest original time.

The problem is plain data so that a solver outside the domain (the runtime's MILP) can solve it
off the event loop; `solve` is the pure reference, exact and fast while the groups are few or
cover few products (its work is bounded by `work`), and `brute_force` the check for tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from auctionactors.domain.money import Cents
from auctionactors.domain.state import AuctionState, Bid
from auctionactors.domain.timestamps import Instant


class Offer(msgspec.Struct, frozen=True):
    """Bids taken together: a supplier's whole non-split group, or one splittable bid."""

    products: frozenset[str]
    cost: Cents
    latest: Instant
    bid_ids: tuple[str, ...]


class Problem(msgspec.Struct, frozen=True):
    products: tuple[str, ...]
    singles: dict[str, Offer]  # product -> its cheapest splittable bid
    groups: tuple[Offer, ...]  # the cheapest group per distinct product set, in a stable order


Choice = tuple[int, ...]  # indexes of the chosen groups, ascending
Key = tuple[bool, int, Cents, Instant]  # (not valid, -products covered, total, latest time)


def problem_of(
    state: AuctionState, per_supplier: dict[str, list[Bid]] | None = None
) -> Problem | None:
    """The best-overall problem of the state's live bids; None when there is no live bid.
    ``per_supplier``: each supplier's live bids in product order, if the caller has them."""
    if state.status in ("draft", "pending"):
        return None  # bids placed while pending are not ranked until the start
    if per_supplier is None:
        per_supplier = {}
        for product_id in state.products:
            for supplier_id, bid_id in state.live.get(product_id, {}).items():
                per_supplier.setdefault(supplier_id, []).append(state.bids[bid_id])
    if not per_supplier:
        return None
    return problem_from(state, [part_of(state, bids) for bids in per_supplier.values()])


class Part(msgspec.Struct, frozen=True, gc=False):
    """One supplier's share of the problem (`part_of`): its splittable bids with their
    `Bid.rank_key` and their offers alone, in product order, and the group of all its live
    bids if one of them is not splittable. It depends only on those bids and on the products'
    quantities, so a caller may keep it while both stay the same (`solutions.compute` does:
    after a bid, only its supplier's part is made again)."""

    splits: tuple[tuple[Bid, tuple[Cents, Instant, int], Offer], ...]
    group: Offer | None


def part_of(state: AuctionState, bids: Sequence[Bid]) -> Part:
    """A supplier's `Part`, from its live bids in product order."""
    # Split bids are offered one by one, also those of a supplier with non-split ones.
    splits = tuple((b, b.rank_key(), _single(state, b)) for b in bids if b.allow_split)
    group = None if len(splits) == len(bids) else _offer(state, bids)
    return Part(splits=splits, group=group)


def problem_from(state: AuctionState, parts: Iterable[Part]) -> Problem:
    """The problem of the suppliers' parts (in the order of `problem_of`'s suppliers): the
    cheapest single per product, the cheapest group per distinct set of products."""
    singles: dict[str, Offer] = {}
    ranks: dict[str, tuple[Cents, Instant, int]] = {}  # the singles' `Bid.rank_key`
    groups: dict[frozenset[str], Offer] = {}
    for part in parts:
        for bid, rank, offer in part.splits:
            cheapest = ranks.get(bid.product_id)
            if cheapest is None or rank < cheapest:
                singles[bid.product_id], ranks[bid.product_id] = offer, rank
        group = part.group
        if group is not None:
            current = groups.get(group.products)
            if current is None or _offer_key(group) < _offer_key(current):
                groups[group.products] = group
    return Problem(
        products=tuple(state.products),
        singles=singles,
        groups=tuple(sorted(groups.values(), key=lambda g: (sorted(g.products), *_offer_key(g)))),
    )


def _single(state: AuctionState, bid: Bid) -> Offer:
    """`_offer` of one bid."""
    return Offer(
        products=frozenset((bid.product_id,)),
        cost=(bid.amount or 0) * state.products[bid.product_id].quantity_mt,
        latest=bid.original_time_entered,
        bid_ids=(bid.bid_id,),
    )


def _offer(state: AuctionState, bids: Sequence[Bid]) -> Offer:
    return Offer(
        products=frozenset(b.product_id for b in bids),
        cost=sum((b.amount or 0) * state.products[b.product_id].quantity_mt for b in bids),
        latest=max(b.original_time_entered for b in bids),
        bid_ids=tuple(b.bid_id for b in bids),
    )


def _offer_key(offer: Offer) -> tuple[Cents, Instant]:
    return (offer.cost, offer.latest)


def fill(problem: Problem, choice: Iterable[int]) -> list[Offer]:
    """The chosen groups and the singles of the products they leave uncovered."""
    groups = [problem.groups[i] for i in choice]
    used = frozenset().union(*(g.products for g in groups))
    return [*groups, *(s for p, s in problem.singles.items() if p not in used)]


def key(problem: Problem, choice: Iterable[int]) -> Key:
    """A choice's place in the order (lower is better); the groups must be disjoint."""
    offers = fill(problem, choice)
    count = sum(len(o.products) for o in offers)
    return (
        count < len(problem.products),
        -count,
        sum(o.cost for o in offers),
        max((o.latest for o in offers), default=0),
    )


def bid_ids(problem: Problem, choice: Iterable[int]) -> list[str]:
    return [b for offer in fill(problem, choice) for b in offer.bid_ids]


def work(problem: Problem) -> int:
    """An upper bound on the steps `solve` takes: groups times the sets of products that
    disjoint groups can cover (at most 2^products and at most 2^groups)."""
    covered = frozenset().union(*(g.products for g in problem.groups))
    n = len(problem.groups)
    return n * (1 << min(len(covered), n)) + len(problem.products)


def solve(problem: Problem) -> Choice:
    """The best choice, exactly: dynamic programming over the sets of products the chosen
    groups cover (each group is added to the ways found before it, so it is used at most once;
    no combination is ever left unexplored). Exponential in the worst case: see `work`."""
    # covered products -> the cheapest way to cover exactly those (cost, latest, groups)
    ways: dict[frozenset[str], tuple[Cents, Instant, Choice]] = {frozenset(): (0, 0, ())}
    for i, group in enumerate(problem.groups):
        for used, (used_cost, used_latest, chosen) in list(ways.items()):
            if used & group.products:
                continue
            way = (used_cost + group.cost, max(used_latest, group.latest), (*chosen, i))
            known = ways.get(used | group.products)
            if known is None or way[:2] < known[:2]:
                ways[used | group.products] = way
    singles = problem.singles
    best_key: Key | None = None
    best: Choice = ()
    for used, (cost, latest, chosen) in ways.items():
        count = len(used)
        for product_id, single in singles.items():
            if product_id not in used:
                count += 1
                cost += single.cost
                latest = max(latest, single.latest)
        candidate = (count < len(problem.products), -count, cost, latest)
        if best_key is None or candidate < best_key:
            best_key, best = candidate, chosen
    return best


def brute_force(problem: Problem) -> Key:
    """The best key over every set of pairwise disjoint groups: the reference for tests."""
    best: Key | None = None

    def walk(start: int, used: frozenset[str], chosen: tuple[int, ...]) -> None:
        nonlocal best
        candidate = key(problem, chosen)
        best = candidate if best is None or candidate < best else best
        for i in range(start, len(problem.groups)):
            if not used & problem.groups[i].products:
                walk(i + 1, used | problem.groups[i].products, (*chosen, i))

    walk(0, frozenset(), ())
    assert best is not None
    return best

"""Hypothesis strategies for best-overall problems (`combination.Problem`), shared by the pure
solver's tests and the runtime MILP's: few products, so that brute force stays feasible."""

from __future__ import annotations

from hypothesis import strategies as st

from auctionactors.domain.combination import Offer, Problem

PRODUCTS = tuple(f"p{i}" for i in range(1, 7))


@st.composite
def problems(
    draw: st.DrawFn, max_products: int = 6, max_groups: int = 9, huge: bool = False
) -> Problem:
    """A problem as `problem_of` makes them: at most one single per product, at most one group
    per distinct product set; costs from a few values (many ties) or, with ``huge``, near-ties
    at the magnitudes users may reach."""
    n = draw(st.integers(1, max_products))
    products = PRODUCTS[:n]
    base = draw(st.sampled_from([0, 10**9, 10**13])) if huge else 0
    costs = st.integers(-2, 8).map(lambda k: base + 25 * k) | st.integers(-50, 50).map(
        lambda k: base + k
    )
    times = st.integers(0, 5)
    singles = {}
    for p in products:
        if draw(st.booleans()):
            singles[p] = Offer(frozenset({p}), draw(costs), draw(times), (f"s-{p}",))
    sets = draw(
        st.lists(
            st.frozensets(st.sampled_from(products), min_size=1),
            max_size=max_groups,
            unique=True,
        )
    )
    groups = tuple(
        Offer(s, len(s) * draw(costs), draw(times), tuple(f"g{i}-{p}" for p in sorted(s)))
        for i, s in enumerate(sets)
    )
    return Problem(products=products, singles=singles, groups=groups)

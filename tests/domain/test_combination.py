"""The best-overall problem (`combination`): the pure solver against brute force, and the
solutions and the selection taking a choice found outside the domain."""

from __future__ import annotations

from hypothesis import given as hyp_given
from hypothesis import settings

from auctionactors.domain import combination
from auctionactors.domain.combination import Offer, Problem
from auctionactors.domain.decide import decide
from auctionactors.domain.solutions import compute
from tests.domain.problems import problems
from tests.domain.scenario import (
    BUYER,
    CLOSES,
    MINUTE,
    S1,
    S2,
    S3,
    TICK,
    Scenario,
    select,
    selected,
)
from tests.domain.test_solutions import QTY, auction, offer


@settings(max_examples=400, deadline=None)
@hyp_given(problems())
def test_solve_finds_the_best_key_of_brute_force(problem: Problem) -> None:
    choice = combination.solve(problem)
    assert list(choice) == sorted(set(choice))
    chosen = [problem.groups[i].products for i in choice]
    assert sum(len(s) for s in chosen) == len(frozenset().union(*chosen))  # disjoint
    assert combination.key(problem, choice) == combination.brute_force(problem)


@settings(max_examples=200, deadline=None)
@hyp_given(problems(huge=True))
def test_solve_is_exact_at_any_magnitude(problem: Problem) -> None:
    assert combination.key(problem, combination.solve(problem)) == combination.brute_force(problem)


def test_work_bounds_the_search_by_products_and_by_groups() -> None:
    def group(*products: str) -> Offer:
        return Offer(frozenset(products), 1, 0, products)

    few = Problem(("p1", "p2"), {}, (group("p1"), group("p2"), group("p1", "p2")))
    assert combination.work(few) == 3 * 2**2 + 2
    many = Problem(("p1", "p2", "p3"), {}, (group("p1"), group("p2")))
    assert combination.work(many) == 2 * 2**2 + 3


# --- a choice found outside the domain ------------------------------------------------------


def three_ways() -> Scenario:
    """S1 non-split on p1+p2 (a1:3, a1:4), S2 non-split on p2+p3 (a1:5, a1:6), S3 splits
    everything (a1:7..9). Best: S1 whole + S3's p3 = 3.50."""
    return auction(
        3,
        offer(S1, ("p1", 100, False), ("p2", 100, False)),
        offer(S2, ("p2", 50, False), ("p3", 50, False)),
        offer(S3, ("p1", 300, True), ("p2", 300, True), ("p3", 150, True)),
    )


def test_compute_takes_the_choice_it_is_given() -> None:
    scenario = three_ways()
    state = scenario.state
    assert state is not None
    problem = combination.problem_of(state)
    assert problem is not None
    assert [sorted(g.products) for g in problem.groups] == [["p1", "p2"], ["p2", "p3"]]
    assert compute(state) == compute(state, combination.solve(problem))
    best = compute(state).best_overall
    assert best is not None and best.bid_ids == ("a1:3", "a1:4", "a1:9")
    # Another legal choice, S2 whole + S3's p1 (4.00), is taken as given: the caller's solver
    # is trusted, the best single supplier still competes (S3 alone is 7.50).
    other = compute(state, (1,))
    assert other.best_overall is not None
    assert other.best_overall.bid_ids == ("a1:7", "a1:5", "a1:6")
    assert other.best_overall.total_price == 400 * QTY
    assert other.by_supplier == compute(state).by_supplier


def test_a_selection_by_name_reads_the_solutions_it_is_given() -> None:
    scenario = three_ways().after(TICK, at=CLOSES)
    state = scenario.state
    assert state is not None
    at = CLOSES + MINUTE
    given_sols = compute(state, (1,))
    events = decide(state, select(BUYER, solution="best_overall"), at, given_sols)
    assert events == selected(BUYER, 7, 5, 6, at=at, total=400 * QTY)
    # Without them, the domain computes its own: S1 whole + S3's p3.
    assert decide(state, select(BUYER, solution="best_overall"), at) == selected(
        BUYER, 3, 4, 9, at=at, total=350 * QTY
    )

"""The best-overall MILP (`runtime.solver`): HiGHS against brute force on small problems, against
planted optima on the worst cases at the limits, and the async entry point against the domain.
"""

from __future__ import annotations

import random
import threading
from unittest.mock import patch

import msgspec
import pytest
from hypothesis import given as hyp_given
from hypothesis import settings

from auctionactors.domain import combination
from auctionactors.domain.combination import Choice, Offer, Problem
from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.decide import decide
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.solutions import compute
from auctionactors.domain.state import AuctionState, evolve
from auctionactors.domain.timestamps import SECOND
from auctionactors.runtime import solver
from tests.domain.problems import problems
from tests.domain.scenario import T0, created, given, make_terms, opened
from tests.domain.test_solutions import BOOK, book_state, brute_force_key


def disjoint(problem: Problem, choice: tuple[int, ...]) -> bool:
    sets = [problem.groups[i].products for i in choice]
    return sum(len(s) for s in sets) == len(frozenset().union(*sets))


@settings(max_examples=300, deadline=None)
@hyp_given(problems())
def test_the_milp_finds_the_best_key_of_brute_force(problem: Problem) -> None:
    choice = solver.milp(problem)
    assert disjoint(problem, choice)
    assert combination.key(problem, choice) == combination.brute_force(problem)


@settings(max_examples=150, deadline=None)
@hyp_given(problems(huge=True))
def test_the_milp_is_exact_on_near_ties_at_large_magnitudes(problem: Problem) -> None:
    assert combination.key(problem, solver.milp(problem)) == combination.brute_force(problem)


@settings(max_examples=200, deadline=None)
@hyp_given(problems())
def test_the_total_then_a_search_on_time_finds_the_same_best_key(problem: Problem) -> None:
    """The path taken when the weighted objective would not fit in doubles."""
    choice = solver.milp(problem, weighted=False)
    assert disjoint(problem, choice)
    assert combination.key(problem, choice) == combination.brute_force(problem)


@settings(max_examples=150, deadline=None)
@hyp_given(BOOK)
def test_the_milp_on_real_books_matches_the_brute_force_over_live_bids(
    entries: list[tuple[str, str, int, bool]],
) -> None:
    """From the state: every legal choice of live bids, enumerated without `combination`."""
    state = book_state(entries)
    problem = combination.problem_of(state)
    if problem is None:
        return
    best = compute(state, solver.milp(problem)).best_overall
    assert best is not None
    got = (not best.valid, -len(best.bid_ids), best.total_price, best.latest_original_time_entered)
    assert got == brute_force_key(state)


def offer(products: frozenset[str], cost: int, latest: int = 0) -> Offer:
    return Offer(products, cost, latest, tuple(sorted(products)))


def planted(products: int, groups: int, size: int, seed: int) -> tuple[Problem, tuple[int, ...]]:
    """All non-split on distinct product sets, no single: ``products / size`` planted groups
    partition the products at 100 per product; every other group costs at least 101 per
    product, so the planted partition is the only cheapest full cover."""
    rng = random.Random(seed)
    names = [f"p{i:02d}" for i in range(products)]
    shuffled = rng.sample(names, products)
    sets = {frozenset(shuffled[k : k + size]) for k in range(0, products, size)}
    best = set(sets)
    while len(sets) < groups:
        sets.add(frozenset(rng.sample(names, rng.randint(1, size + 2))))
    offers = tuple(
        offer(s, (100 if s in best else rng.randint(101, 140)) * len(s), rng.randint(0, 9))
        for s in sorted(sets, key=sorted)
    )
    problem = Problem(tuple(names), {}, offers)
    return problem, tuple(i for i, g in enumerate(problem.groups) if g.products in best)


def test_the_milp_finds_the_planted_cover_at_the_limits() -> None:
    for products, groups, size, seed in ((12, 60, 3, 1), (12, 60, 4, 2), (20, 100, 4, 3)):
        problem, best = planted(products, groups, size, seed)
        assert not solver.inline(problem)
        assert solver.milp(problem) == best


def test_the_milp_matches_the_domain_search_on_a_worst_case_at_12_products() -> None:
    rng = random.Random(12)
    names = [f"p{i:02d}" for i in range(12)]
    sets: set[frozenset[str]] = set()
    while len(sets) < 60:
        sets.add(frozenset(rng.sample(names, rng.randint(1, 5))))
    groups = tuple(
        offer(s, sum(25 * rng.randint(2200, 2600) * 1500 for _ in s), rng.randint(0, 50))
        for s in sorted(sets, key=sorted)
    )
    problem = Problem(tuple(names), {"p00": offer(frozenset({"p00"}), 60_000 * 1500)}, groups)
    key = combination.key(problem, solver.milp(problem))
    assert key == combination.key(problem, combination.solve(problem))


def test_without_a_full_cover_the_milp_covers_the_most_products_first() -> None:
    a, b, c, d = (frozenset(x) for x in ("ab", "bc", "cd", "d"))
    # No single anywhere: {a,b} + {c,d} covers all four; without {c,d}, at most three.
    full = Problem(tuple("abcd"), {}, (offer(a, 10), offer(b, 1), offer(c, 50), offer(d, 1)))
    assert solver.milp(full) == (0, 2)
    partial = Problem(tuple("abcd"), {}, (offer(a, 10), offer(b, 1), offer(d, 1)))
    assert combination.key(partial, solver.milp(partial)) == (True, -3, 2, 0)


def test_numbers_too_big_for_doubles_fall_back_to_the_exact_domain_search() -> None:
    big = 10**30
    a, ab, bc, c = (frozenset(x) for x in ("a", "ab", "bc", "c"))
    groups = (offer(a, big), offer(ab, 2 * big + 1), offer(bc, 2 * big), offer(c, big))
    problem = Problem(tuple("abc"), {}, groups)
    choice = solver.milp(problem)
    assert combination.key(problem, choice) == combination.brute_force(problem)
    assert choice == (0, 2)  # {a} + {b,c} saves one unit of 3e30: doubles would not see it


# --- the entry points -----------------------------------------------------------------------


def fragmented(products: int, suppliers: int, seed: int) -> AuctionState:
    """An open auction where every supplier refuses a split, each on its own set of products."""
    rng = random.Random(seed)
    parties = tuple(Party(f"s{i}", f"Supplier {i}") for i in range(suppliers))
    state = given(created(make_terms(products=products, suppliers=parties)), opened()[1:]).state
    assert state is not None
    ids = list(state.products)
    seen: set[frozenset[str]] = set()
    for i in range(suppliers):
        mine = frozenset(rng.sample(ids, rng.randint(1, 3)))
        while mine in seen:
            mine = frozenset(rng.sample(ids, rng.randint(1, 3)))
        seen.add(mine)
        command = PlaceBids(
            by=Caller(f"u-s{i}", f"s{i}", "supplier"),
            bids=tuple(
                BidRequest(product_id=p, amount=25 * rng.randint(8, 12), allow_split=False)
                for p in sorted(mine)
            ),
        )
        for event in decide(state, command, T0 + (i + 1) * SECOND):
            state = evolve(state, event)
    return state


async def test_a_big_problem_is_solved_in_the_solver_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fragmented(12, 24, seed=5)
    problem = combination.problem_of(state)
    assert problem is not None and not solver.inline(problem)
    threads: list[str] = []
    milp = solver.milp

    def spy(p: Problem) -> tuple[int, ...]:
        threads.append(threading.current_thread().name)
        return milp(p)

    monkeypatch.setattr(solver, "milp", spy)  # records the thread, solves for real
    sols = await solver.solutions(state)
    assert threads and threads[0].startswith("solver")
    assert sols == solver.solutions_now(state)
    ours, domain = sols.best_overall, compute(state).best_overall
    assert ours is not None and domain is not None
    assert ours.sort_key() == domain.sort_key()
    assert sols.by_supplier == compute(state).by_supplier


async def test_a_small_problem_is_solved_inline_by_the_domain_search() -> None:
    state = fragmented(3, 5, seed=1)
    problem = combination.problem_of(state)
    assert problem is not None and solver.inline(problem)
    assert await solver.solutions(state) == compute(state)
    assert await solver.best_overall(problem) == combination.solve(problem)


def no_domain_search(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(problem: Problem) -> Choice:
        raise AssertionError(f"domain search on a big problem (work {combination.work(problem)})")

    monkeypatch.setattr(combination, "solve", refused)


def test_a_failed_solve_fails_without_the_domain_search(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    problem, _ = planted(12, 60, 3, seed=4)
    monkeypatch.setitem(solver._OPTIONS, "time_limit", 0.0)  # HiGHS stops before any answer
    no_domain_search(monkeypatch)
    with pytest.raises(RuntimeError, match="HiGHS: Time limit reached"):
        solver.choose(problem)
    assert "HiGHS failed" in caplog.text


def test_one_absurd_bid_is_solved_by_highs_not_by_the_domain_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10^15 cents per MT (the most allowed) on 5 products of 10^6 MT each, all or nothing, on
    a set no other group has: its spread alone is beyond doubles, yet it is in no optimum."""
    problem, best = planted(20, 100, 4, seed=3)
    absurd = offer(frozenset(problem.products[:5]), 5 * 1_000_000 * 10**15, 5)
    assert absurd.products not in {g.products for g in problem.groups}
    problem = msgspec.structs.replace(problem, groups=(*problem.groups, absurd))
    assert not solver.inline(problem)
    no_domain_search(monkeypatch)
    assert solver.milp(problem) == best
    assert solver.milp(problem, weighted=False) == best


def test_an_absurd_bid_in_every_optimum_is_taken_out_and_the_rest_solved_by_highs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The only bid on a product, all or nothing, at the most allowed amount: in every optimum,
    so it is taken as given and HiGHS solves the rest."""
    problem, best = planted(20, 100, 4, seed=3)
    absurd = offer(frozenset({"zz"}), 1_000_000 * 10**15, 5)
    problem = Problem((*problem.products, "zz"), {}, (*problem.groups, absurd))
    no_domain_search(monkeypatch)
    expected = (*best, len(problem.groups) - 1)
    assert solver.milp(problem) == expected
    assert solver.milp(problem, weighted=False) == expected


@settings(max_examples=200, deadline=None)
@hyp_given(problems(huge=True))
def test_pruning_and_forced_groups_keep_the_best_key(problem: Problem) -> None:
    """With the doubles bound lowered to nothing, every problem goes through `_prune` and
    `_forced`: the answer, when there is one, is still the best key."""
    with (
        patch.object(solver, "EXACT_BELOW", 1),
        patch.object(solver, "inline", lambda _: False),
    ):
        try:
            choice = solver.milp(problem)
        except RuntimeError:
            return
    assert combination.key(problem, choice) == combination.brute_force(problem)


async def test_solved_finds_a_big_best_overall_once_and_keeps_it_while_the_problem_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = fragmented(12, 24, seed=5)
    calls: list[Problem] = []
    milp = solver.milp

    def counted(p: Problem) -> tuple[int, ...]:
        calls.append(p)
        return milp(p)

    monkeypatch.setattr(solver, "milp", counted)
    unready = solver.Solved(state)
    with pytest.raises(RuntimeError, match="before ready"):
        unready.solutions  # noqa: B018 - reading it is the test
    first = await solver.solve(state)
    assert len(calls) == 1
    # A comment or a status change leaves the problem as it was: the choice is kept.
    same = msgspec.structs.replace(state, seq=state.seq + 1)
    again = await solver.solve(same, first)
    assert len(calls) == 1 and again.solutions.best_overall == first.solutions.best_overall
    assert first.solutions == solver.solutions_now(state)


async def test_a_state_that_cannot_be_solved_fails_its_readers_not_the_solve() -> None:
    state = fragmented(12, 24, seed=5)
    live = {**state.live, "p1": {**state.live.get("p1", {}), "ghost": "no-such-bid"}}
    solved = await solver.solve(msgspec.structs.replace(state, live=live))  # logged only
    with pytest.raises(RuntimeError, match="could not be found"):
        solved.solutions  # noqa: B018
    small = fragmented(3, 5, seed=1)
    solved = await solver.solve(msgspec.structs.replace(small, live={"p1": {"s0": "no-such"}}))
    with pytest.raises(KeyError):  # a small one is computed when read: the reader fails
        solved.solutions  # noqa: B018


@settings(max_examples=100, deadline=None)
@hyp_given(BOOK)
def test_a_state_surely_inline_has_a_problem_within_the_inline_bound(
    entries: list[tuple[str, str, int, bool]],
) -> None:
    """The shortcut the actor takes after every append (no problem built) is sound."""
    state = book_state(entries)
    problem = combination.problem_of(state)
    if solver._surely_inline(state):
        assert problem is None or solver.inline(problem)
    assert not solver._surely_inline(fragmented(12, 24, seed=5))

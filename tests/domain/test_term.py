"""Term auctions (forward_fixed, formula_related): one fuel, a quantity per month over a month
range, as one product ``p1`` whose quantity is per month x months. A formula-related bid is a
differential against a price index and may be zero or negative; a term buyer may select while
the auction is still open, and a term supplier may revoke in decision."""

from __future__ import annotations

import pytest

from auctionactors.domain.access import Viewer
from auctionactors.domain.events import AuctionCreated
from auctionactors.domain.solutions import compute
from auctionactors.domain.terms import Product, month_count
from auctionactors.domain.views import product_label, view
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    CLOSES,
    CREATED_AT,
    MINUTE,
    PER_MONTH,
    S1,
    S2,
    S3,
    T0,
    TICK,
    Scenario,
    aliases_of,
    auto,
    auto_placed,
    bid,
    by,
    create,
    created,
    ended,
    given,
    nothing,
    placed,
    ranking,
    revoke,
    revoked,
    select,
    selected,
    started,
    term_terms,
    triggered,
    update,
)

OPEN_AT = T0 + MINUTE
DECIDE_AT = CLOSES + MINUTE
TOTAL_MT = 3 * PER_MONTH  # January to March


def term_open(kind: str = "forward_fixed") -> Scenario:
    return given(created(term_terms(kind)), started())


# --- creation -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["forward_fixed", "formula_related"])
def test_a_term_auction_is_one_product_of_per_month_times_months(kind: str) -> None:
    terms = term_terms(kind)
    outcome = nothing().when(create(BUYER, terms), at=CREATED_AT)
    product = Product(
        product_id="p1",
        vessel=None,
        fuel="VLSFO",
        quantity_mt=TOTAL_MT,
        eta=None,
        quantity_mt_per_month=PER_MONTH,
        start_month="2027-01",
        end_month="2027-03",
        fuel_index="Platts VLSFO Singapore" if kind == "formula_related" else None,
    )
    outcome.then(
        AuctionCreated(
            at=CREATED_AT,
            by=by(BUYER),
            auction_id="a1",
            terms=terms,
            products=(product,),
            status="pending",
            aliases=aliases_of(terms),
        )
    )
    assert outcome.state.products == {"p1": product}


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [("2027-05", "2027-05", 1), ("2026-11", "2027-02", 4), ("2027-01", "2027-12", 12)],
)
def test_months_are_counted_inclusively_across_years(start: str, end: str, months: int) -> None:
    assert month_count(start, end) == months
    terms = term_terms(start_month=start, end_month=end)
    state = nothing().when(create(BUYER, terms), at=CREATED_AT).state
    assert state.products["p1"].quantity_mt == months * PER_MONTH


def test_a_term_draft_may_lack_its_months_and_gets_its_product_when_they_are_set() -> None:
    terms = term_terms(scheduled_start=None, start_month=None, end_month=None)
    draft = nothing().after(create(BUYER, terms), at=CREATED_AT)
    assert draft.state is not None and draft.state.products == {}
    outcome = draft.when(
        update(BUYER, start_month="2027-02", end_month="2027-03", scheduled_start=T0),
        at=CREATED_AT + 1,
    )
    state = outcome.state
    assert state.status == "pending"
    assert state.products["p1"].quantity_mt == 2 * PER_MONTH
    assert (state.products["p1"].start_month, state.products["p1"].end_month) == (
        "2027-02",
        "2027-03",
    )


def test_a_term_auction_starts_and_ends_by_the_clock_like_a_spot_one() -> None:
    outcome = given(created(term_terms())).when(TICK, at=T0).then(started())
    outcome.and_then().when(TICK, at=CLOSES).then(ended())


# --- bids -----------------------------------------------------------------------------------


def test_formula_related_differentials_may_be_zero_or_negative() -> None:
    scenario = term_open("formula_related")
    first = scenario.when(bid(S1, 0), at=OPEN_AT)
    first.then(placed(3, S1, 0, at=OPEN_AT))
    second = first.and_then().when(bid(S2, -150), at=OPEN_AT + 1)
    second.then(placed(4, S2, -150, at=OPEN_AT + 1))
    state = second.and_then().after(bid(S3, 25), at=OPEN_AT + 2).state
    assert state is not None
    assert ranking(state) == [("s2", -150), ("s1", 0), ("s3", 25)]
    best = compute(state).best_overall
    assert best is not None and best.total_price == -150 * TOTAL_MT


@pytest.mark.parametrize("amount", [0, -25])
def test_forward_fixed_prices_must_be_positive(amount: int) -> None:
    term_open().when(bid(S1, amount), at=OPEN_AT).then_refused(
        "invalid", "amount must be greater than 0"
    )
    term_open().when(auto(S1, amount, 100), at=OPEN_AT).then_refused(
        "invalid", "min_amount must be greater than 0"
    )


def test_forward_fixed_total_price_is_amount_times_the_whole_quantity() -> None:
    state = term_open().after(bid(S1, 50_025), at=OPEN_AT).state
    assert state is not None
    best = compute(state).best_overall
    assert best is not None and best.valid and best.total_price == 50_025 * TOTAL_MT


def test_formula_related_auto_bids_go_below_zero() -> None:
    scenario = term_open("formula_related").after(auto(S1, -100, 0), at=OPEN_AT)
    scenario.when(bid(S2, -50), at=OPEN_AT + 1).then(
        placed(4, S2, -50, at=OPEN_AT + 1),
        triggered(5, S1, -75, replaces=3, at=OPEN_AT + 1),
    )
    # A zero floor is a valid floor too.
    term_open("formula_related").when(auto(S3, 0), at=OPEN_AT).then(
        auto_placed(3, S3, 0, 0, at=OPEN_AT)
    )


def test_a_term_bid_needs_the_tick_like_any_other() -> None:
    term_open("formula_related").when(bid(S1, -10), at=OPEN_AT).then_refused(
        "invalid", "amount must be a multiple of 0.25"
    )


# --- revoke in decision ---------------------------------------------------------------------


def test_a_term_supplier_may_revoke_in_decision() -> None:
    scenario = term_open().after(bid(S1, 200), at=OPEN_AT).after(TICK, at=CLOSES)
    assert scenario.state is not None and scenario.state.status == "decision"
    outcome = scenario.when(revoke(S1), at=DECIDE_AT)
    outcome.then(revoked(S1, 3, at=DECIDE_AT))
    assert ranking(outcome.state) == []
    # Also before the end timer fired.
    term_open().after(bid(S1, 200), at=OPEN_AT).when(revoke(S1), at=CLOSES + 1).then(
        revoked(S1, 3, at=CLOSES + 1)
    )


def test_a_term_supplier_may_not_bid_in_decision_and_spot_suppliers_may_not_revoke() -> None:
    scenario = term_open().after(bid(S1, 200), at=OPEN_AT).after(TICK, at=CLOSES)
    scenario.when(bid(S1, 175), at=DECIDE_AT).then_refused("too_late")
    scenario.when(auto(S1, 100), at=DECIDE_AT).then_refused("too_late")
    spot = given(created(), started(), placed(3, S1, 200, at=OPEN_AT), ended())
    spot.when(revoke(S1), at=DECIDE_AT).then_refused("too_late")


# --- the decision while open ----------------------------------------------------------------


def test_a_term_buyer_selects_while_open_and_the_auction_closes_at_once() -> None:
    scenario = term_open().after(bid(S1, 200), at=OPEN_AT).after(bid(S2, 175), at=OPEN_AT + 1)
    now = OPEN_AT + 2
    outcome = scenario.when(select(BUYER, "a1:4", comment="signed"), at=now)
    outcome.then(selected(BUYER, 4, at=now, total=175 * TOTAL_MT, comment="signed"))
    state = outcome.state
    assert state.status == "closed"
    assert state.next_deadline() is None
    after = outcome.and_then()
    after.when(TICK, at=CLOSES).then_nothing()  # no end, no decision
    after.when(bid(S3, 150), at=now + 1).then_refused(
        "wrong_status", "bids are not accepted when the auction is closed"
    )


def test_a_term_selection_by_name_while_open() -> None:
    scenario = term_open("formula_related").after(bid(S1, -25), at=OPEN_AT)
    scenario = scenario.after(auto(S2, -100, 0), at=OPEN_AT + 1)  # drops to -0.50
    outcome = scenario.when(select(ADMIN, solution="best_overall"), at=OPEN_AT + 2)
    outcome.then(selected(ADMIN, 5, at=OPEN_AT + 2, total=-50 * TOTAL_MT))


def test_a_term_selection_in_decision_still_works() -> None:
    scenario = term_open().after(bid(S1, 200), at=OPEN_AT).after(TICK, at=CLOSES)
    scenario.when(select(BUYER, solution="best_single_supplier"), at=DECIDE_AT).then(
        selected(BUYER, 3, at=DECIDE_AT, total=200 * TOTAL_MT)
    )


# --- how a term auction is shown ------------------------------------------------------------


def test_the_view_of_a_term_product_and_the_winners_status_line() -> None:
    scenario = term_open("formula_related").after(bid(S1, -25), at=OPEN_AT)
    state = scenario.after(select(BUYER, "a1:3"), at=OPEN_AT + 1).state
    assert state is not None
    assert product_label(state.products["p1"]) == "VLSFO 2027-01..2027-03"
    doc = view(state, Viewer("s1", "supplier"), OPEN_AT + 2)
    assert doc is not None
    product = doc["products"][0]
    assert product["vessel"] is None and product["eta"] is None
    assert product["quantity_mt"] == TOTAL_MT
    assert (product["quantity_mt_per_month"], product["start_month"], product["end_month"]) == (
        PER_MONTH,
        "2027-01",
        "2027-03",
    )
    assert product["fuel_index"] == "Platts VLSFO Singapore"
    assert product["bids"][0]["amount"] == "-0.25"
    assert doc["solutions"]["winning"]["total_price"] == "-750.00"
    assert doc["status_line"] == "You won the entire auction"
    loser = view(state, Viewer("s2", "supplier"), OPEN_AT + 2)
    assert loser is not None
    assert loser["status_line"] == (
        "Regretfully, you were unsuccessful in this auction. Thank you for quoting"
    )

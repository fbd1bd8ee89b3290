"""Every lifecycle transition: draft -> pending -> open -> decision -> closed | expired, canceled
from every non-final status, and deadlines that passed while the system was down."""

from __future__ import annotations

import pytest

from auctionactors.domain.events import AuctionCreated, Event
from auctionactors.domain.parties import Caller
from auctionactors.domain.terms import number_products
from tests.domain.scenario import (
    ADMIN,
    AID,
    BUYER,
    CLOSES,
    CREATED_AT,
    DECISION,
    DECISION_CLOSES,
    DURATION,
    HOUR,
    MINUTE,
    S1,
    S2,
    T0,
    TICK,
    WINDOW,
    bid,
    by,
    cancel,
    canceled,
    create,
    created,
    draft,
    ended,
    expired,
    extended,
    given,
    in_canceled,
    in_closed,
    in_decision,
    in_expired,
    make_terms,
    nothing,
    opened,
    pending,
    placed,
    select,
    selected,
    spec,
    start,
    started,
    update,
    updated,
)

# --- creation -------------------------------------------------------------------------------


def test_buyer_creates_a_draft_without_start_time() -> None:
    terms = make_terms(scheduled_start=None)
    outcome = nothing().when(create(BUYER, terms), at=CREATED_AT)
    outcome.then(
        AuctionCreated(
            at=CREATED_AT,
            by=by(BUYER),
            auction_id=AID,
            terms=terms,
            products=number_products(terms.products),
            status="draft",
            aliases={"s1": "Supplier 1", "s3": "Supplier 2", "s2": "Supplier 3"},
        )
    )
    assert outcome.state.status == "draft"
    assert outcome.state.seq == 1
    assert outcome.state.next_deadline() is None


def test_a_draft_needs_neither_suppliers_nor_products() -> None:
    terms = make_terms(scheduled_start=None, suppliers=(), products=())
    nothing().when(create(BUYER, terms), at=CREATED_AT).then(created(terms))


def test_buyer_creates_pending_with_a_future_start() -> None:
    outcome = nothing().when(create(BUYER), at=CREATED_AT).then(created())
    state = outcome.state
    assert state.status == "pending"
    assert list(state.products) == ["p1"]
    assert state.next_deadline() == T0


def test_products_are_numbered_in_order() -> None:
    terms = make_terms(products=3)
    state = nothing().when(create(BUYER, terms), at=CREATED_AT).state
    assert list(state.products) == ["p1", "p2", "p3"]
    vessel = state.products["p2"].vessel
    assert vessel is not None and vessel.name == "Vessel 2"


def test_buyer_may_schedule_exactly_now_and_the_clock_starts_it() -> None:
    outcome = nothing().when(create(BUYER), at=T0).then(created(at=T0))
    outcome.and_then().when(TICK, at=T0).then(started(at=T0))


def test_admin_creating_with_a_start_in_the_past_starts_at_once() -> None:
    terms = make_terms()
    now = T0 + 5 * MINUTE
    outcome = nothing().when(create(ADMIN, terms), at=now)
    outcome.then(
        created(terms, at=now, caller=ADMIN),
        started(at=now, closes_at=now + DURATION, caller=ADMIN),
    )
    assert outcome.state.status == "open"
    assert outcome.state.closes_at == now + DURATION


# --- edits and scheduling -------------------------------------------------------------------


def test_draft_to_pending_by_setting_a_start() -> None:
    outcome = given(draft()).when(update(BUYER, scheduled_start=T0), at=CREATED_AT + MINUTE)
    outcome.then(updated(at=CREATED_AT + MINUTE, status="pending", scheduled_start=T0))
    assert outcome.state.status == "pending"
    assert outcome.state.terms.scheduled_start == T0


def test_pending_to_draft_by_clearing_the_start() -> None:
    outcome = given(pending()).when(update(BUYER, scheduled_start=None), at=CREATED_AT + MINUTE)
    outcome.then(updated(at=CREATED_AT + MINUTE, status="draft", scheduled_start=None))
    assert outcome.state.status == "draft"
    outcome.and_then().when(TICK, at=T0 + HOUR).then_nothing()


def test_edit_in_draft_stays_draft() -> None:
    outcome = given(draft()).when(update(BUYER, port="Antwerp"), at=CREATED_AT + 1)
    outcome.then(updated(at=CREATED_AT + 1, status="draft", port="Antwerp"))
    assert outcome.state.terms.port == "Antwerp"


def test_admin_edits_any_auction() -> None:
    outcome = given(pending()).when(update(ADMIN, po="PO-7"), at=CREATED_AT + 1)
    outcome.then(updated(ADMIN, at=CREATED_AT + 1, po="PO-7"))


def test_rescheduling_a_pending_auction_moves_its_start() -> None:
    later = T0 + HOUR
    outcome = given(pending()).when(update(BUYER, scheduled_start=later), at=CREATED_AT + 1)
    outcome.then(updated(at=CREATED_AT + 1, scheduled_start=later))
    rescheduled = outcome.and_then()
    assert rescheduled.state is not None
    assert rescheduled.state.next_deadline() == later
    rescheduled.when(TICK, at=T0).then_nothing()
    rescheduled.when(TICK, at=later).then(started(at=later))


def test_changing_products_renumbers_them_in_the_event() -> None:
    products = (spec(1), spec(2, fuel="MGO"))
    outcome = given(pending()).when(update(BUYER, products=products), at=CREATED_AT + 1)
    outcome.then(updated(at=CREATED_AT + 1, products=products))
    assert list(outcome.state.products) == ["p1", "p2"]
    assert outcome.state.products["p2"].fuel == "MGO"


def test_admin_setting_a_start_in_the_past_starts_at_once() -> None:
    now = CREATED_AT + MINUTE
    outcome = given(draft()).when(update(ADMIN, scheduled_start=now - 1), at=now)
    outcome.then(
        updated(ADMIN, at=now, status="pending", scheduled_start=now - 1),
        started(at=now, closes_at=now + DURATION, caller=ADMIN),
    )
    assert outcome.state.status == "open"


def test_bids_placed_while_pending_do_not_stop_other_edits() -> None:
    history = [*pending(), placed(2, S1, 200, at=CREATED_AT + 1)]
    given(history).when(update(BUYER, port="Antwerp"), at=CREATED_AT + 2).then(
        updated(at=CREATED_AT + 2, port="Antwerp")
    )


# --- start ----------------------------------------------------------------------------------


def test_pending_opens_when_the_clock_reaches_the_start() -> None:
    given(pending()).when(TICK, at=T0 - 1).then_nothing()
    outcome = given(pending()).when(TICK, at=T0).then(started(at=T0, closes_at=CLOSES))
    assert outcome.state.status == "open"
    assert outcome.state.started_at == T0
    assert outcome.state.closes_at == CLOSES
    assert outcome.state.next_deadline() == CLOSES


def test_a_late_clock_start_keeps_closes_at_from_the_scheduled_start() -> None:
    given(pending()).when(TICK, at=T0 + 7 * MINUTE).then(
        started(at=T0 + 7 * MINUTE, closes_at=CLOSES)
    )


def test_admin_starts_a_pending_auction_by_hand() -> None:
    now = T0 - 5 * MINUTE
    outcome = given(pending()).when(start(ADMIN), at=now)
    outcome.then(started(at=now, closes_at=now + DURATION, caller=ADMIN))
    assert outcome.state.status == "open"
    # The scheduled start no longer matters.
    outcome.and_then().when(TICK, at=T0).then_nothing()


# --- end of bidding, expiry -----------------------------------------------------------------


def test_open_moves_to_decision_at_closes_at() -> None:
    given(opened()).when(TICK, at=CLOSES - 1).then_nothing()
    outcome = given(opened()).when(TICK, at=CLOSES)
    outcome.then(ended(at=CLOSES, decision_closes_at=CLOSES + DECISION))
    state = outcome.state
    assert state.status == "decision"
    assert state.ended_at == CLOSES
    assert state.decision_closes_at == DECISION_CLOSES
    assert state.next_deadline() == DECISION_CLOSES


def test_an_extended_auction_ends_at_the_extended_closes_at() -> None:
    new_closes = CLOSES + 2 * MINUTE
    history = [
        *opened(),
        placed(3, S1, 200, at=CLOSES - MINUTE),
        extended(S1, at=CLOSES - MINUTE, closes_at=new_closes),
    ]
    given(history).when(TICK, at=CLOSES).then_nothing()
    given(history).when(TICK, at=new_closes).then(
        ended(at=new_closes, decision_closes_at=new_closes + DECISION)
    )


def test_decision_expires_at_decision_closes_at() -> None:
    given(in_decision()).when(TICK, at=DECISION_CLOSES - 1).then_nothing()
    outcome = given(in_decision()).when(TICK, at=DECISION_CLOSES).then(expired())
    assert outcome.state.status == "expired"
    assert outcome.state.next_deadline() is None


@pytest.mark.parametrize(
    "history",
    [draft(), in_expired(), in_closed(), in_canceled()],
    ids=["draft", "expired", "closed", "canceled"],
)
def test_the_clock_does_nothing_without_a_deadline(history: list[Event]) -> None:
    given(history).when(TICK, at=T0 + 100 * HOUR).then_nothing()


# --- the decision ---------------------------------------------------------------------------


def test_buyer_selecting_a_solution_closes_the_auction() -> None:
    history = [
        *opened(),
        placed(3, S1, 200, at=T0 + MINUTE),
        placed(4, S2, 175, at=T0 + 2 * MINUTE),
        ended(),
    ]
    now = CLOSES + MINUTE
    outcome = given(history).when(
        select(BUYER, "a1:4", comment="thanks", port_agent="Agent Smith"), at=now
    )
    outcome.then(
        selected(BUYER, 4, at=now, total=175 * 1500, comment="thanks", port_agent="Agent Smith")
    )
    state = outcome.state
    assert state.status == "closed"
    assert state.winning_bid_ids == ("a1:4",)
    assert state.winning_total == 262_500
    assert state.selection_comment == "thanks"
    assert state.port_agent == "Agent Smith"
    assert state.next_deadline() is None


def test_admin_selects_after_expiry_and_closes_the_auction() -> None:
    history = [*opened(), placed(3, S1, 200, at=T0 + MINUTE), ended(), expired()]
    now = DECISION_CLOSES + HOUR
    outcome = given(history).when(select(ADMIN, "a1:3"), at=now)
    outcome.then(selected(ADMIN, 3, at=now, total=200 * 1500))
    assert outcome.state.status == "closed"


def test_admin_selects_in_decision() -> None:
    history = [*opened(), placed(3, S1, 200, at=T0 + MINUTE), ended()]
    given(history).when(select(ADMIN, "a1:3"), at=CLOSES + 1).then(
        selected(ADMIN, 3, at=CLOSES + 1, total=300_000)
    )


def test_selection_keeps_the_terms_port_agent_when_none_is_given() -> None:
    history = [
        created(make_terms(port_agent="Agent A")),
        started(),
        placed(3, S1, 200, at=T0 + MINUTE),
        ended(),
    ]
    outcome = given(history).when(select(BUYER, "a1:3"), at=CLOSES + 1)
    assert outcome.state.port_agent == "Agent A"


# --- cancel ---------------------------------------------------------------------------------

# status -> (history, a time at which the auction is in that status)
NON_FINAL: dict[str, tuple[list[Event], int]] = {
    "draft": (draft(), CREATED_AT + 1),
    "pending": (pending(), CREATED_AT + 1),
    "open": (opened(), T0 + MINUTE),
    "decision": (in_decision(), CLOSES + MINUTE),
}


@pytest.mark.parametrize("status", NON_FINAL)
@pytest.mark.parametrize("caller", [BUYER, ADMIN], ids=["buyer", "admin"])
def test_cancel_from_every_non_final_status(status: str, caller: Caller) -> None:
    history, now = NON_FINAL[status]
    scenario = given(history)
    assert scenario.state is not None and scenario.state.status == status
    outcome = scenario.when(cancel(caller), at=now)
    outcome.then(canceled(caller, at=now))
    assert outcome.state.status == "canceled"
    assert outcome.state.next_deadline() is None


def test_bids_survive_a_cancel_in_the_history() -> None:
    history = [*opened(), placed(3, S1, 200, at=T0 + 1), canceled(at=T0 + 2)]
    scenario = given(history)
    assert scenario.state is not None
    assert [b.bid_id for b in scenario.state.history()] == ["a1:3"]
    scenario.when(bid(S1, 175), at=T0 + 3).then_refused(
        "wrong_status", "bids are not accepted when the auction is canceled"
    )


# --- deadlines passed while the system was down ---------------------------------------------


def test_down_through_the_whole_auction_acts_on_every_deadline_without_extra_time() -> None:
    now = T0 + 10 * HOUR
    outcome = given(pending()).when(TICK, at=now)
    outcome.then(
        started(at=now, closes_at=CLOSES),
        ended(at=now, decision_closes_at=DECISION_CLOSES),
        expired(at=now),
    )
    state = outcome.state
    assert state.status == "expired"
    assert state.closes_at == CLOSES  # never now + duration
    assert state.decision_closes_at == DECISION_CLOSES


def test_down_through_the_bidding_starts_and_ends_from_the_stored_deadlines() -> None:
    now = CLOSES + 5 * MINUTE
    outcome = given(pending()).when(TICK, at=now)
    outcome.then(
        started(at=now, closes_at=CLOSES),
        ended(at=now, decision_closes_at=DECISION_CLOSES),
    )
    assert outcome.state.status == "decision"


def test_down_while_open_ends_at_once_without_extra_time() -> None:
    now = CLOSES + 3 * MINUTE
    given(opened()).when(TICK, at=now).then(ended(at=now, decision_closes_at=DECISION_CLOSES))


def test_down_while_open_past_the_decision_expires_at_once() -> None:
    now = DECISION_CLOSES + 1
    given(opened()).when(TICK, at=now).then(
        ended(at=now, decision_closes_at=DECISION_CLOSES), expired(at=now)
    )


def test_down_after_an_extension_counts_from_the_extended_deadline() -> None:
    new_closes = CLOSES - MINUTE + WINDOW
    history = [
        *opened(),
        placed(3, S1, 200, at=CLOSES - MINUTE),
        extended(S1, at=CLOSES - MINUTE, closes_at=new_closes),
    ]
    now = new_closes + HOUR
    given(history).when(TICK, at=now).then(
        ended(at=now, decision_closes_at=new_closes + DECISION), expired(at=now)
    )

"""Every command checks the clock against the stored deadlines, so a command that arrives after a
deadline but before its timer fired is answered as if the timer had fired: there is no race
between a timer and a command (DOMAIN.md, "Ours (timers)")."""

from __future__ import annotations

from auctionactors.errors import TOO_LATE_MESSAGE
from tests.domain.scenario import (
    ADMIN,
    BUYER,
    CLOSES,
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
    cancel,
    canceled,
    ended,
    extended,
    given,
    in_decision,
    opened,
    pending,
    placed,
    ranking,
    revoke,
    select,
    selected,
    start,
    started,
    update,
)

WITH_BID = [*opened(), placed(3, S1, 200, at=T0 + 1)]


def test_a_bid_at_closes_at_before_the_end_timer_fired_is_too_late() -> None:
    given(opened()).when(bid(S1, 200), at=CLOSES).then_refused("too_late", TOO_LATE_MESSAGE)
    given(WITH_BID).when(revoke(S1), at=CLOSES).then_refused("too_late", TOO_LATE_MESSAGE)


def test_a_bid_on_a_pending_auction_whose_bidding_time_has_passed_is_too_late() -> None:
    # Down through the whole bidding time: the start timer has not fired yet either.
    for now in (CLOSES, CLOSES + 1, DECISION_CLOSES - 1):
        given(pending()).when(bid(S1, 200), at=now).then_refused("too_late", TOO_LATE_MESSAGE)


def test_a_bid_on_a_pending_auction_past_its_expiry_is_refused() -> None:
    given(pending()).when(bid(S1, 200), at=DECISION_CLOSES).then_refused("wrong_status")


def test_a_bid_after_the_start_before_the_start_timer_is_recorded_and_ranked_at_start() -> None:
    now = T0 + 1
    outcome = given(pending()).when(bid(S1, 200), at=now).then(placed(2, S1, 200, at=now))
    state = outcome.and_then().after(TICK, at=now).state
    assert state is not None
    assert state.closes_at == CLOSES
    assert ranking(state) == [("s1", 200)]


def test_buyer_selecting_after_decision_closes_at_before_the_expiry_timer_is_refused() -> None:
    history = [*WITH_BID, ended()]
    given(history).when(select(BUYER, "a1:3"), at=DECISION_CLOSES).then_refused(
        "wrong_status", "a solution cannot be selected when the auction is expired"
    )
    # An admin may select an expired auction, so it may here too.
    given(history).when(select(ADMIN, "a1:3"), at=DECISION_CLOSES).then(
        selected(ADMIN, 3, at=DECISION_CLOSES, total=300_000)
    )
    # One microsecond earlier the buyer is in time.
    given(history).when(select(BUYER, "a1:3"), at=DECISION_CLOSES - 1).then(
        selected(BUYER, 3, at=DECISION_CLOSES - 1, total=300_000)
    )


def test_cancel_after_decision_closes_at_is_refused_the_auction_is_expired() -> None:
    given(in_decision()).when(cancel(BUYER), at=DECISION_CLOSES).then_refused(
        "wrong_status", "the auction is already expired"
    )
    given(in_decision()).when(cancel(BUYER), at=DECISION_CLOSES - 1).then(
        canceled(BUYER, at=DECISION_CLOSES - 1)
    )


def test_cancel_of_an_open_auction_past_closes_at_is_still_accepted() -> None:
    # Decision is not final: canceling is allowed there too.
    given(opened()).when(cancel(ADMIN), at=CLOSES + 1).then(canceled(ADMIN, at=CLOSES + 1))


def test_edit_of_a_pending_auction_after_its_start_is_refused() -> None:
    given(pending()).when(update(BUYER, port="Antwerp"), at=T0).then_refused(
        "wrong_status", "an auction can be edited in draft or pending, not open"
    )
    given(pending()).when(update(BUYER, scheduled_start=T0 + HOUR), at=T0 + 1).then_refused(
        "wrong_status"
    )


def test_admin_start_after_the_scheduled_start_gives_no_extra_time() -> None:
    # The clock has already opened it (closes_at = start + duration); a late manual start would
    # give it a new full duration.
    given(pending()).when(start(ADMIN), at=T0 + MINUTE).then_refused(
        "wrong_status", "only a pending auction can be started, not open"
    )
    given(pending()).when(start(ADMIN), at=T0 - 1).then(
        started(at=T0 - 1, closes_at=T0 - 1 + DURATION, caller=ADMIN)
    )


def test_a_bid_one_microsecond_before_closes_at_is_in_time() -> None:
    now = CLOSES - 1
    given(opened()).when(bid(S2, 200), at=now).then(
        placed(3, S2, 200, at=now), extended(S2, at=now, closes_at=now + WINDOW)
    )

"""Soft close (anti-sniping): inside the window, a bid that leaves its bidder leading a product it
touched, or the bidder's first bid in the auction, *sets* closes_at = now + window, as a
`duration_extended` event after the bid events of the same command."""

from __future__ import annotations

from auctionactors.domain.timestamps import SECOND
from auctionactors.errors import TOO_LATE_MESSAGE
from tests.domain.scenario import (
    CLOSES,
    CREATED_AT,
    DECISION,
    MINUTE,
    S1,
    S2,
    S3,
    T0,
    TICK,
    WINDOW,
    Scenario,
    bid,
    created,
    ended,
    extended,
    given,
    make_terms,
    opened,
    pending,
    placed,
    revoke,
)


def open_auction(products: int = 1, **terms: object) -> Scenario:
    return given(created(make_terms(products=products, **terms)), opened()[1:])


def with_bids_before_the_window() -> Scenario:
    """S1 leads with 2.00, S2 follows with 2.50; both placed long before the window."""
    return open_auction().after(bid(S1, 200), at=T0 + 1).after(bid(S2, 250), at=T0 + 2)


def test_example_10_first_bid_with_one_second_left() -> None:
    now = CLOSES - SECOND
    outcome = open_auction().when(bid(S1, 200), at=now)
    outcome.then(
        placed(3, S1, 200, at=now),
        extended(S1, at=now, closes_at=now + WINDOW),
    )
    state = outcome.state
    assert state.closes_at == now + WINDOW
    assert state.next_deadline() == now + WINDOW


def test_extension_sets_closes_at_it_does_not_add_the_window() -> None:
    now = CLOSES - 100 * SECOND
    outcome = with_bids_before_the_window().when(bid(S2, 175), at=now)
    outcome.then(placed(5, S2, 175, at=now), extended(S2, at=now, closes_at=now + WINDOW))
    assert outcome.state.closes_at == CLOSES + 80 * SECOND  # not CLOSES + WINDOW


def test_no_extension_outside_the_window() -> None:
    now = CLOSES - WINDOW - 1
    with_bids_before_the_window().when(bid(S2, 175), at=now).then(placed(5, S2, 175, at=now))
    open_auction().when(bid(S1, 200), at=now).then(placed(3, S1, 200, at=now))


def test_no_extension_when_the_window_would_not_move_closes_at() -> None:
    # Exactly `window` left: now + window == closes_at, nothing to record.
    now = CLOSES - WINDOW
    open_auction().when(bid(S1, 200), at=now).then(placed(3, S1, 200, at=now))


def test_a_zero_window_never_extends() -> None:
    now = CLOSES - 1
    open_auction(soft_close_s=0).when(bid(S1, 200), at=now).then(placed(3, S1, 200, at=now))


def test_a_first_bid_extends_even_when_not_leading() -> None:
    now = CLOSES - MINUTE
    outcome = with_bids_before_the_window().when(bid(S3, 300), at=now)
    outcome.then(placed(5, S3, 300, at=now), extended(S3, at=now, closes_at=now + WINDOW))
    assert outcome.state.leader("p1") == "s1"


def test_a_first_bid_tying_the_leader_extends() -> None:
    now = CLOSES - MINUTE
    with_bids_before_the_window().when(bid(S3, 200), at=now).then(
        placed(5, S3, 200, at=now), extended(S3, at=now, closes_at=now + WINDOW)
    )


def test_a_non_leaders_rebid_that_does_not_lead_does_not_extend() -> None:
    now = CLOSES - MINUTE
    with_bids_before_the_window().when(bid(S2, 225), at=now).then(placed(5, S2, 225, at=now))


def test_a_rebid_tying_the_leader_does_not_lead_and_does_not_extend() -> None:
    now = CLOSES - MINUTE
    with_bids_before_the_window().when(bid(S2, 200), at=now).then(placed(5, S2, 200, at=now))


def test_the_leader_improving_its_bid_extends() -> None:
    now = CLOSES - MINUTE
    with_bids_before_the_window().when(bid(S1, 175), at=now).then(
        placed(5, S1, 175, at=now), extended(S1, at=now, closes_at=now + WINDOW)
    )


def test_the_leader_raising_but_still_leading_extends() -> None:
    now = CLOSES - MINUTE
    with_bids_before_the_window().when(bid(S1, 225), at=now).then(
        placed(5, S1, 225, at=now), extended(S1, at=now, closes_at=now + WINDOW)
    )


def test_the_leader_raising_above_the_others_does_not_extend() -> None:
    now = CLOSES - MINUTE
    with_bids_before_the_window().when(bid(S1, 300), at=now).then(placed(5, S1, 300, at=now))


def test_a_revoked_then_rebid_supplier_is_not_first_any_more() -> None:
    scenario = (
        open_auction()
        .after(bid(S2, 200), at=T0 + 1)
        .after(bid(S1, 250), at=T0 + 2)
        .after(revoke(S1), at=T0 + 3)
    )
    now = CLOSES - MINUTE
    scenario.when(bid(S1, 275), at=now).then(placed(6, S1, 275, at=now))


def test_a_revoke_never_extends() -> None:
    now = CLOSES - MINUTE
    outcome = with_bids_before_the_window().when(revoke(S1), at=now)
    assert outcome.events is not None and len(outcome.events) == 1
    assert outcome.state.closes_at == CLOSES


def test_leading_any_touched_product_extends_and_the_extension_comes_last() -> None:
    scenario = open_auction(products=2).after(bid(S2, {"p1": 200, "p2": 200}), at=T0 + 1)
    scenario = scenario.after(bid(S1, {"p1": 300, "p2": 300}), at=T0 + 2)
    now = CLOSES - MINUTE
    # S1 (not first) leads p2 after the command but not p1.
    outcome = scenario.when(bid(S1, {"p1": 250, "p2": 175}), at=now)
    outcome.then(
        placed(7, S1, 250, at=now),
        placed(8, S1, 175, at=now, product_id="p2"),
        extended(S1, at=now, closes_at=now + WINDOW),
    )
    assert outcome.state.seq == 9


def test_leading_no_touched_product_does_not_extend() -> None:
    # S1 leads p1 (untouched) but the command only touches p2, where it does not lead.
    scenario = open_auction(products=2).after(bid(S1, {"p1": 200}), at=T0 + 1)
    scenario = scenario.after(bid(S2, {"p2": 200}), at=T0 + 2)
    now = CLOSES - MINUTE
    scenario.when(bid(S1, {"p2": 225}), at=now).then(placed(5, S1, 225, at=now, product_id="p2"))


def test_a_pending_bid_never_extends() -> None:
    at = CREATED_AT + MINUTE
    given(pending()).when(bid(S1, 200), at=at).then(placed(2, S1, 200, at=at))


def test_each_extension_sets_again_from_its_own_now() -> None:
    first = CLOSES - MINUTE
    scenario = with_bids_before_the_window().after(bid(S1, 175), at=first)
    assert scenario.state is not None and scenario.state.closes_at == first + WINDOW
    second = first + WINDOW - 10 * SECOND
    outcome = scenario.when(bid(S2, 150), at=second)
    outcome.then(placed(7, S2, 150, at=second), extended(S2, at=second, closes_at=second + WINDOW))


def test_after_an_extension_bids_are_taken_until_the_new_closes_at() -> None:
    now = CLOSES - SECOND
    scenario = open_auction().after(bid(S1, 200), at=now)
    new_closes = now + WINDOW
    # The old deadline no longer ends the auction; a bid there is accepted (and extends).
    scenario.when(TICK, at=CLOSES).then_nothing()
    scenario.when(bid(S2, 175), at=CLOSES).then(
        placed(5, S2, 175, at=CLOSES), extended(S2, at=CLOSES, closes_at=CLOSES + WINDOW)
    )
    scenario.when(bid(S2, 175), at=new_closes).then_refused("too_late", TOO_LATE_MESSAGE)
    scenario.when(TICK, at=new_closes).then(
        ended(at=new_closes, decision_closes_at=new_closes + DECISION)
    )

"""Auto-bids (proxy bidding): a floor ``min_amount`` and a visible amount that drops by itself.

After every change to a product's bids (and at the start) each auto-bid settles to
min(visible, max(own floor, competitor best - tick)), competitor best being the lowest of the
other suppliers' floors (auto-bids) or amounts (plain bids). A visible amount never rises; each
drop is an ``auto_bid_triggered`` event (by the system), in ascending order of amount, that keeps
the bid's original time. The DOMAIN.md worked examples are named ``example_N``.
"""

from __future__ import annotations

import pytest

from auctionactors.domain.decide import result_of
from auctionactors.domain.events import AutoBidTriggered
from auctionactors.domain.parties import Caller, Party
from auctionactors.domain.timestamps import SECOND
from tests.domain.scenario import (
    ADMIN,
    CLOSES,
    CREATED_AT,
    DURATION,
    MINUTE,
    S1,
    S2,
    S3,
    T0,
    TICK,
    WINDOW,
    Scenario,
    auto,
    auto_placed,
    bid,
    created,
    ended,
    extended,
    given,
    make_terms,
    opened,
    pending,
    placed,
    ranking,
    revoke,
    revoked,
    start,
    started,
    triggered,
    update,
    updated,
)

OPEN_AT = T0 + MINUTE
PENDING_AT = CREATED_AT + MINUTE


def open_auction(products: int = 1, **terms: object) -> Scenario:
    return given(created(make_terms(products=products, **terms)), opened()[1:])


def example_4_pending() -> Scenario:
    """Pending: S1 auto (2.00, min 1.00), S2 auto (2.00, min 1.50)."""
    return (
        given(pending())
        .after(auto(S1, 100, 200), at=PENDING_AT)
        .after(auto(S2, 150, 200), at=PENDING_AT + 1)
    )


# --- the worked examples --------------------------------------------------------------------


def test_example_4_pending_auto_bids_settle_at_the_start() -> None:
    scenario = example_4_pending()
    assert scenario.events[1:] == [
        auto_placed(2, S1, 200, 100, at=PENDING_AT),
        auto_placed(3, S2, 200, 150, at=PENDING_AT + 1),
    ]
    assert scenario.state is not None and ranking(scenario.state) == []
    # At the start: one append with the start and the settled auto-bids, lowest first.
    outcome = scenario.when(TICK, at=T0)
    outcome.then(
        started(at=T0),
        triggered(5, S1, 125, replaces=2, at=T0),
        triggered(6, S2, 150, replaces=3, at=T0),
    )
    assert ranking(outcome.state) == [("s1", 125), ("s2", 150)]


def test_example_5_a_normal_bid_above_does_not_raise_an_auto_bid() -> None:
    scenario = example_4_pending().after(TICK, at=T0)
    outcome = scenario.when(bid(S2, 250), at=OPEN_AT)
    outcome.then(placed(7, S2, 250, at=OPEN_AT))  # S1 stays at 1.25
    assert ranking(outcome.state) == [("s1", 125), ("s2", 250)]
    assert outcome.state.bids["a1:5"].min_amount == 100  # live


def test_example_6_auto_bids_without_amounts_open_at_their_floors() -> None:
    scenario = open_auction()
    first = scenario.when(auto(S3, 350), at=T0 + 1)
    first.then(auto_placed(3, S3, 350, 350, at=T0 + 1))
    second = first.and_then().when(auto(S1, 200), at=T0 + 2)
    second.then(auto_placed(4, S1, 200, 200, at=T0 + 2))
    third = second.and_then().when(auto(S2, 200), at=T0 + 3)
    third.then(auto_placed(5, S2, 200, 200, at=T0 + 3))
    assert ranking(third.state) == [("s1", 200), ("s2", 200), ("s3", 350)]


def test_example_7_an_auto_bid_floor_above_the_leader() -> None:
    scenario = open_auction().after(bid(S1, 50_000), at=T0 + 1)
    outcome = scenario.when(auto(S2, 51_000), at=T0 + 2)
    outcome.then(auto_placed(4, S2, 51_000, 51_000, at=T0 + 2))
    assert ranking(outcome.state) == [("s1", 50_000), ("s2", 51_000)]


# --- ladders --------------------------------------------------------------------------------


def test_two_auto_bids_settle_against_each_others_floors() -> None:
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1)
    outcome = scenario.when(auto(S2, 200, 300), at=T0 + 2)
    outcome.then(
        auto_placed(4, S2, 300, 200, at=T0 + 2),
        triggered(5, S1, 175, replaces=3, at=T0 + 2),
        triggered(6, S2, 200, replaces=4, at=T0 + 2),
    )
    assert ranking(outcome.state) == [("s1", 175), ("s2", 200)]


def test_a_ladder_of_three_auto_bids() -> None:
    scenario = open_auction().after(auto(S1, 100, 500), at=T0 + 1)
    second = scenario.when(auto(S2, 150, 500), at=T0 + 2)
    second.then(
        auto_placed(4, S2, 500, 150, at=T0 + 2),
        triggered(5, S1, 125, replaces=3, at=T0 + 2),
        triggered(6, S2, 150, replaces=4, at=T0 + 2),
    )
    third = second.and_then().when(auto(S3, 200, 500), at=T0 + 3)
    # S1 and S2 are settled already; only the newcomer drops, to its floor.
    third.then(
        auto_placed(7, S3, 500, 200, at=T0 + 3), triggered(8, S3, 200, replaces=7, at=T0 + 3)
    )
    assert ranking(third.state) == [("s1", 125), ("s2", 150), ("s3", 200)]


FIVE = tuple(Party(f"s{i}", f"Supplier {i}") for i in range(1, 6))
S4, S5 = (Caller(f"u-s{i}", f"s{i}", "supplier") for i in (4, 5))


def test_a_ladder_of_five_suppliers_with_a_plain_bid_in_the_middle() -> None:
    scenario = open_auction(suppliers=FIVE)
    floors = {S1: 300, S2: 175, S3: 100, S5: 225}
    for n, (caller, floor) in enumerate(floors.items(), start=1):
        scenario = scenario.after(auto(caller, floor, 1000), at=T0 + n)
    state = scenario.state
    assert state is not None
    # The lowest floor holds one tick under the next floor; the others sit on their floors.
    assert ranking(state) == [("s3", 150), ("s2", 175), ("s5", 225), ("s1", 300)]
    # A plain bid under every floor but S3's pushes S3 to its floor; the rest stay put.
    outcome = scenario.when(bid(S4, 125), at=T0 + 10)
    outcome.then(placed(12, S4, 125, at=T0 + 10), triggered(13, S3, 100, replaces=8, at=T0 + 10))
    expected = [("s3", 100), ("s4", 125), ("s2", 175), ("s5", 225), ("s1", 300)]
    assert ranking(outcome.state) == expected
    # Below S3's floor: nobody moves any more.
    outcome.and_then().when(bid(S4, 75), at=T0 + 11).then(placed(14, S4, 75, at=T0 + 11))


def test_a_ladder_of_five_at_the_start() -> None:
    scenario = given(created(make_terms(suppliers=FIVE)))
    for n, (caller, floor) in enumerate(
        [(S1, 500), (S2, 400), (S3, 300), (S4, 200), (S5, 100)], start=1
    ):
        scenario = scenario.after(auto(caller, floor, 900), at=PENDING_AT + n)
    outcome = scenario.when(TICK, at=T0)
    # Seqs: created 1, auto-bids 2..6, started 7; the drops ascend: S5 first, S1 last.
    outcome.then(
        started(at=T0),
        triggered(8, S5, 175, replaces=6, at=T0),
        triggered(9, S4, 200, replaces=5, at=T0),
        triggered(10, S3, 300, replaces=4, at=T0),
        triggered(11, S2, 400, replaces=3, at=T0),
        triggered(12, S1, 500, replaces=2, at=T0),
    )
    assert ranking(outcome.state) == [
        ("s5", 175),
        ("s4", 200),
        ("s3", 300),
        ("s2", 400),
        ("s1", 500),
    ]


@pytest.mark.parametrize("first", [S1, S2], ids=["s1 first", "s2 first"])
def test_equal_floors_tie_is_broken_by_original_time(first: Caller) -> None:
    second = S2 if first is S1 else S1
    scenario = open_auction().after(auto(first, 200, 300), at=T0 + 1)
    outcome = scenario.when(auto(second, 200, 300), at=T0 + 2)
    outcome.then(
        auto_placed(4, second, 300, 200, at=T0 + 2),
        # Both drop to 2.00; the earlier auto-bid's event comes first and it ranks first.
        triggered(5, first, 200, replaces=3, at=T0 + 2),
        triggered(6, second, 200, replaces=4, at=T0 + 2),
    )
    assert ranking(outcome.state) == [(first.company_id, 200), (second.company_id, 200)]


def test_a_floor_above_the_leader_drops_to_the_floor_and_stops() -> None:
    scenario = open_auction().after(bid(S1, 150), at=T0 + 1)
    outcome = scenario.when(auto(S2, 200, 300), at=T0 + 2)
    outcome.then(
        auto_placed(4, S2, 300, 200, at=T0 + 2), triggered(5, S2, 200, replaces=4, at=T0 + 2)
    )
    assert ranking(outcome.state) == [("s1", 150), ("s2", 200)]
    # A lower plain bid moves nothing: S2 is at its floor.
    outcome.and_then().when(bid(S3, 100), at=T0 + 3).then(placed(6, S3, 100, at=T0 + 3))


def test_an_auto_bid_tying_an_earlier_plain_bid_loses_the_tie() -> None:
    scenario = open_auction().after(bid(S2, 100), at=T0 + 1)
    outcome = scenario.when(auto(S1, 100, 300), at=T0 + 2)
    outcome.then(
        auto_placed(4, S1, 300, 100, at=T0 + 2), triggered(5, S1, 100, replaces=4, at=T0 + 2)
    )
    assert ranking(outcome.state) == [("s2", 100), ("s1", 100)]


# --- triggered by other changes -------------------------------------------------------------


def test_plain_bids_trigger_an_auto_bid_down_to_its_floor_which_then_wins_the_tie() -> None:
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1)
    first = scenario.when(bid(S2, 250), at=T0 + 2)
    first.then(placed(4, S2, 250, at=T0 + 2), triggered(5, S1, 225, replaces=3, at=T0 + 2))
    second = first.and_then().when(bid(S2, 200), at=T0 + 3)
    second.then(placed(6, S2, 200, at=T0 + 3), triggered(7, S1, 175, replaces=5, at=T0 + 3))
    third = second.and_then().when(bid(S2, 100), at=T0 + 4)
    third.then(placed(8, S2, 100, at=T0 + 4), triggered(9, S1, 100, replaces=7, at=T0 + 4))
    # The auto-bid was placed before the plain 1.00 it ties: it wins the tie.
    assert ranking(third.state) == [("s1", 100), ("s2", 100)]
    state = third.state
    live = state.bids["a1:9"]
    assert live.original_time_entered == T0 + 1  # kept through every re-entry
    assert (live.min_amount, live.is_auto, live.allow_split) == (100, True, True)
    s1 = [b for b in state.history() if b.supplier_id == "s1"]
    history = [(b.bid_id, b.amount, state.is_live(b)) for b in s1]
    assert history == [
        ("a1:3", 300, False),
        ("a1:5", 225, False),
        ("a1:7", 175, False),
        ("a1:9", 100, True),
    ]


def test_a_triggered_bid_keeps_comment_split_and_traded() -> None:
    scenario = open_auction(traded_bids_allowed=True).after(
        auto(S1, 100, 300, allow_split=False, comment="via barge", traded=True), at=T0 + 1
    )
    state = scenario.after(bid(S2, 200), at=T0 + 2).state
    assert state is not None
    moved = state.bids["a1:5"]
    assert (moved.amount, moved.min_amount, moved.allow_split, moved.comment, moved.traded) == (
        175,
        100,
        False,
        "via barge",
        True,
    )


def test_only_the_bidders_bid_ids_are_in_the_reply() -> None:
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1)
    command = bid(S2, 250)
    outcome = scenario.when(command, at=T0 + 2)
    assert outcome.events is not None
    assert result_of(command, outcome.events) == {"bid_ids": ["a1:4"]}
    assert result_of(auto(S1, 100), [auto_placed(7, S1, 100, 100, at=T0)]) == {"bid_ids": ["a1:7"]}


def test_a_revoke_never_raises_an_auto_bid() -> None:
    scenario = open_auction().after(bid(S1, 150), at=T0 + 1)
    scenario = scenario.after(auto(S2, 100, 300), at=T0 + 2)
    assert scenario.state is not None and ranking(scenario.state) == [("s2", 125), ("s1", 150)]
    # Its only competitor leaves: S2 keeps 1.25, nothing but the revoke is recorded.
    outcome = scenario.when(revoke(S1), at=T0 + 3)
    outcome.then(revoked(S1, 3, at=T0 + 3))
    assert ranking(outcome.state) == [("s2", 125)]
    # A higher competitor later does not raise it either.
    outcome.and_then().when(bid(S3, 400), at=T0 + 4).then(placed(7, S3, 400, at=T0 + 4))


def test_a_revoke_leaves_the_settled_auto_bids_where_they_are() -> None:
    # S1 auto with floor 1.00 held at 2.75 by S2's floor 3.00; when S2's auto-bid is replaced
    # by a plain 2.00, S1 drops; a revoke of that 2.00 leaves S1 where it is.
    scenario = (
        open_auction().after(auto(S1, 100, 500), at=T0 + 1).after(auto(S2, 300, 500), at=T0 + 2)
    )
    state = scenario.state
    assert state is not None and ranking(state) == [("s1", 275), ("s2", 300)]
    scenario = scenario.after(bid(S2, 200), at=T0 + 3)
    assert scenario.state is not None and ranking(scenario.state) == [("s1", 175), ("s2", 200)]
    outcome = scenario.when(revoke(S2), at=T0 + 4)
    outcome.then(revoked(S2, 7, at=T0 + 4))
    assert ranking(outcome.state) == [("s1", 175)]


def test_revoking_an_auto_bid_revokes_its_live_re_entry() -> None:
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1).after(bid(S2, 250), at=T0 + 2)
    outcome = scenario.when(revoke(S1), at=T0 + 3)
    outcome.then(revoked(S1, 5, at=T0 + 3))  # a1:5, the re-entered bid, not a1:3
    assert ranking(outcome.state) == [("s2", 250)]
    # With the auto-bid gone, S2's lower bid triggers nothing.
    outcome.and_then().when(bid(S2, 200), at=T0 + 4).then(placed(7, S2, 200, at=T0 + 4))


def test_a_plain_bid_replaces_the_suppliers_auto_bid() -> None:
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1).after(bid(S1, 250), at=T0 + 2)
    state = scenario.state
    assert state is not None and state.bids["a1:4"].min_amount is None
    scenario.when(bid(S2, 200), at=T0 + 3).then(placed(5, S2, 200, at=T0 + 3))


def test_an_auto_bid_lowers_a_competitors_auto_bid_only_down_to_the_floor_minus_a_tick() -> None:
    # S1's auto-bid sees S2's floor (1.50), not S2's visible amount.
    scenario = open_auction().after(auto(S2, 150, 400), at=T0 + 1)
    outcome = scenario.when(auto(S1, 100, 400), at=T0 + 2)
    outcome.then(
        auto_placed(4, S1, 400, 100, at=T0 + 2),
        triggered(5, S1, 125, replaces=4, at=T0 + 2),
        triggered(6, S2, 150, replaces=3, at=T0 + 2),
    )


def test_each_product_settles_on_its_own() -> None:
    scenario = open_auction(products=2).after(auto(S1, 100, 300, product_id="p2"), at=T0 + 1)
    outcome = scenario.when(bid(S2, {"p1": 200, "p2": 250}), at=T0 + 2)
    outcome.then(
        placed(4, S2, 200, at=T0 + 2),
        placed(5, S2, 250, at=T0 + 2, product_id="p2"),
        triggered(6, S1, 225, replaces=3, at=T0 + 2, product_id="p2"),
    )
    assert ranking(outcome.state, "p1") == [("s2", 200)]
    assert ranking(outcome.state, "p2") == [("s1", 225), ("s2", 250)]


def test_triggered_events_come_in_ascending_order_of_amount() -> None:
    # Three auto-bids, placed in descending order of floor, drop in one command.
    scenario = open_auction()
    for n, (caller, floor) in enumerate([(S1, 300), (S2, 200), (S3, 100)], start=1):
        scenario = scenario.after(auto(caller, floor, 1000), at=T0 + n)
    assert scenario.state is not None
    assert ranking(scenario.state) == [("s3", 175), ("s2", 200), ("s1", 300)]
    # S2's auto-bid dropped S2 to 2.75 and S1 to its floor 3.00 (in that order), then S3's
    # dropped S3 to 1.75 and S2 to its floor 2.00: within each command the drops ascend.
    drops = [(e.supplier_id, e.amount) for e in scenario.events if isinstance(e, AutoBidTriggered)]
    assert drops == [("s2", 275), ("s1", 300), ("s3", 175), ("s2", 200)]


# --- the opening amount ---------------------------------------------------------------------


def test_an_auto_bid_without_amount_starts_at_the_suppliers_live_bid() -> None:
    scenario = open_auction().after(bid(S1, 300), at=T0 + 1).after(bid(S2, 350), at=T0 + 2)
    outcome = scenario.when(auto(S1, 100), at=T0 + 3)
    outcome.then(auto_placed(5, S1, 300, 100, at=T0 + 3))  # leads already: no drop
    assert ranking(outcome.state) == [("s1", 300), ("s2", 350)]
    replaced = outcome.state.find_bid("a1:3")  # the plain bid was replaced
    assert replaced is not None and not outcome.state.is_live(replaced)
    assert "a1:3" not in outcome.state.bids


def test_an_inherited_amount_settles_at_once() -> None:
    scenario = open_auction().after(bid(S1, 300), at=T0 + 1).after(bid(S2, 250), at=T0 + 2)
    outcome = scenario.when(auto(S1, 100), at=T0 + 3)
    outcome.then(
        auto_placed(5, S1, 300, 100, at=T0 + 3), triggered(6, S1, 225, replaces=5, at=T0 + 3)
    )


def test_an_inherited_amount_below_the_new_floor_starts_at_the_floor() -> None:
    scenario = open_auction().after(bid(S1, 150), at=T0 + 1)
    scenario.when(auto(S1, 200), at=T0 + 2).then(auto_placed(4, S1, 200, 200, at=T0 + 2))


def test_an_auto_bid_without_amount_inherits_its_previous_auto_bids_visible_amount() -> None:
    scenario = open_auction().after(auto(S1, 150, 300), at=T0 + 1).after(bid(S2, 250), at=T0 + 2)
    assert scenario.state is not None and ranking(scenario.state) == [("s1", 225), ("s2", 250)]
    # Lowering the floor keeps the visible 2.25: nothing drops until S2 moves.
    scenario.when(auto(S1, 100), at=T0 + 3).then(auto_placed(6, S1, 225, 100, at=T0 + 3))


def test_an_auto_bid_with_amount_equal_to_its_floor() -> None:
    scenario = open_auction().after(bid(S2, 100), at=T0 + 1)
    scenario.when(auto(S1, 200, 200), at=T0 + 2).then(auto_placed(4, S1, 200, 200, at=T0 + 2))


def test_a_supplier_may_raise_its_auto_bid() -> None:
    scenario = open_auction().after(auto(S1, 100, 200), at=T0 + 1).after(bid(S2, 150), at=T0 + 2)
    assert scenario.state is not None and ranking(scenario.state) == [("s1", 125), ("s2", 150)]
    outcome = scenario.when(auto(S1, 175, 400), at=T0 + 3)
    # A new auto-bid (new time entered) that settles down to its new floor.
    outcome.then(
        auto_placed(6, S1, 400, 175, at=T0 + 3), triggered(7, S1, 175, replaces=6, at=T0 + 3)
    )
    assert ranking(outcome.state) == [("s2", 150), ("s1", 175)]


# --- pending and the start ------------------------------------------------------------------


def test_pending_auto_bids_are_recorded_and_not_settled_until_the_start() -> None:
    scenario = given(pending()).after(bid(S1, 150), at=PENDING_AT)
    outcome = scenario.when(auto(S2, 100, 300), at=PENDING_AT + 1)
    outcome.then(auto_placed(3, S2, 300, 100, at=PENDING_AT + 1))  # no trigger, no extension
    assert outcome.state.bids["a1:3"].amount == 300
    assert ranking(outcome.state) == []


def test_an_admins_start_by_hand_settles_the_pending_auto_bids_in_the_same_append() -> None:
    now = T0 - 5 * MINUTE
    outcome = example_4_pending().when(start(ADMIN), at=now)
    outcome.then(
        started(at=now, closes_at=now + DURATION, caller=ADMIN),
        triggered(5, S1, 125, replaces=2, at=now),
        triggered(6, S2, 150, replaces=3, at=now),
    )


def test_an_admins_start_in_the_past_by_an_edit_settles_after_the_edit() -> None:
    now = PENDING_AT + MINUTE
    outcome = example_4_pending().when(update(ADMIN, scheduled_start=now - 1), at=now)
    outcome.then(
        updated(ADMIN, at=now, scheduled_start=now - 1),
        started(at=now, closes_at=now + DURATION, caller=ADMIN),
        triggered(6, S1, 125, replaces=2, at=now),
        triggered(7, S2, 150, replaces=3, at=now),
    )
    assert ranking(outcome.state) == [("s1", 125), ("s2", 150)]


def test_a_clock_that_was_down_settles_between_the_start_and_the_end() -> None:
    now = CLOSES + MINUTE
    outcome = example_4_pending().when(TICK, at=now)
    outcome.then(
        started(at=now, closes_at=CLOSES),
        triggered(5, S1, 125, replaces=2, at=now),
        triggered(6, S2, 150, replaces=3, at=now),
        ended(at=now),
    )
    assert outcome.state.status == "decision"
    assert ranking(outcome.state) == [("s1", 125), ("s2", 150)]


def test_a_single_pending_auto_bid_does_not_move_at_the_start() -> None:
    scenario = given(pending()).after(auto(S1, 100, 300), at=PENDING_AT)
    scenario.when(TICK, at=T0).then(started(at=T0))


# --- the soft close -------------------------------------------------------------------------


def test_a_triggered_supplier_leading_inside_the_window_extends() -> None:
    # S2 has bid before (not a first bid) and does not lead after its bid; S1's auto-bid does.
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1).after(bid(S2, 250), at=T0 + 2)
    now = CLOSES - MINUTE
    outcome = scenario.when(bid(S2, 200), at=now)
    outcome.then(
        placed(6, S2, 200, at=now),
        triggered(7, S1, 175, replaces=5, at=now),
        extended(S2, at=now, closes_at=now + WINDOW),
    )


def test_a_triggered_supplier_leading_outside_the_window_does_not_extend() -> None:
    scenario = open_auction().after(auto(S1, 100, 300), at=T0 + 1).after(bid(S2, 250), at=T0 + 2)
    now = CLOSES - WINDOW - SECOND
    scenario.when(bid(S2, 200), at=now).then(
        placed(6, S2, 200, at=now), triggered(7, S1, 175, replaces=5, at=now)
    )


def test_an_auto_bid_that_leads_inside_the_window_extends() -> None:
    scenario = open_auction().after(bid(S2, 250), at=T0 + 1).after(bid(S1, 300), at=T0 + 2)
    now = CLOSES - MINUTE
    scenario.when(auto(S1, 100), at=now).then(
        auto_placed(5, S1, 300, 100, at=now),
        triggered(6, S1, 225, replaces=5, at=now),
        extended(S1, at=now, closes_at=now + WINDOW),
    )


def test_an_auto_bid_that_stays_behind_inside_the_window_does_not_extend() -> None:
    scenario = open_auction().after(bid(S2, 150), at=T0 + 1).after(bid(S1, 300), at=T0 + 2)
    now = CLOSES - MINUTE
    scenario.when(auto(S1, 200), at=now).then(
        auto_placed(5, S1, 300, 200, at=now), triggered(6, S1, 200, replaces=5, at=now)
    )

"""Plain bids: the events they cause, ranking, replacement, revocation, history, ids and replay.
The DOMAIN.md worked examples are named ``example_N``."""

from __future__ import annotations

import msgspec
import pytest

from auctionactors.domain.commands import BidRequest, PlaceBids
from auctionactors.domain.decide import bid_id_for, result_of
from auctionactors.domain.events import AnyEvent, BidsRevoked
from auctionactors.domain.state import ReplayError
from tests.domain.scenario import (
    BUYER,
    CLOSES,
    CREATED_AT,
    MINUTE,
    S1,
    S2,
    S3,
    T0,
    TICK,
    Scenario,
    bid,
    created,
    encode,
    fold_events,
    given,
    make_terms,
    opened,
    pending,
    placed,
    ranking,
    revoke,
    revoked,
    select,
    selected,
    triggered,
)

OPEN_AT = T0 + MINUTE


def open_auction(products: int = 1) -> Scenario:
    return given(created(make_terms(products=products)), opened()[1:])


# --- the events of a bid --------------------------------------------------------------------


def test_a_bid_while_open_is_one_bid_placed_event() -> None:
    outcome = open_auction().when(
        bid(S1, 200, allow_split=False, comment="barge ready"), at=OPEN_AT
    )
    outcome.then(placed(3, S1, 200, at=OPEN_AT, allow_split=False, comment="barge ready"))
    state = outcome.state
    live = state.bids["a1:3"]
    assert (live.amount, live.allow_split, live.comment, state.is_live(live)) == (
        200,
        False,
        "barge ready",
        True,
    )
    assert live.original_time_entered == OPEN_AT
    assert state.live == {"p1": {"s1": "a1:3"}}
    assert state.leader("p1") == "s1"


def test_one_request_bids_on_several_products_with_consecutive_ids() -> None:
    command = bid(S1, {"p1": 200, "p2": 300})
    outcome = open_auction(products=2).when(command, at=OPEN_AT)
    outcome.then(
        placed(3, S1, 200, at=OPEN_AT),
        placed(4, S1, 300, at=OPEN_AT, product_id="p2"),
    )
    assert outcome.events is not None
    assert result_of(command, outcome.events) == {"bid_ids": ["a1:3", "a1:4"]}
    assert ranking(outcome.state, "p2") == [("s1", 300)]


def test_multi_product_request_is_all_or_nothing() -> None:
    scenario = open_auction(products=2)
    scenario.when(bid(S1, {"p1": 200, "p2": 295}), at=OPEN_AT).then_refused(
        "invalid", "amount must be a multiple of 0.25"
    )
    scenario.when(bid(S1, {"p1": 200, "p9": 300}), at=OPEN_AT).then_refused(
        "not_found", "unknown product p9"
    )
    scenario.when(bid(S1, {"p1": 200, "p2": 0}), at=OPEN_AT).then_refused("invalid")
    # An auto-bid whose floor is off the tick spoils the plain bid that comes with it.
    two = PlaceBids(
        by=S1,
        bids=(BidRequest(product_id="p1", amount=200), BidRequest(product_id="p2", min_amount=30)),
    )
    scenario.when(two, at=OPEN_AT).then_refused("invalid", "min_amount must be a multiple of 0.25")
    # Nothing was recorded: the state has no bid at all.
    assert scenario.state is not None and scenario.state.bids == {}
    assert scenario.state.history() == [] and scenario.state.bidders == {}


# --- ranking --------------------------------------------------------------------------------


def test_example_1_ranking_and_a_replacing_bid() -> None:
    after_two = open_auction().after(bid(S1, 200), at=T0 + 1).after(bid(S2, 175), at=T0 + 2)
    assert after_two.state is not None
    assert ranking(after_two.state) == [("s2", 175), ("s1", 200)]
    outcome = after_two.when(bid(S2, 200), at=T0 + 3)
    outcome.then(placed(5, S2, 200, at=T0 + 3))
    # Same amount: S1 entered 2.00 first.
    assert ranking(outcome.state) == [("s1", 200), ("s2", 200)]


def test_example_2_raising_its_own_price() -> None:
    outcome = open_auction().after(bid(S1, 200), at=T0 + 1).when(bid(S1, 300), at=T0 + 2)
    outcome.then(placed(4, S1, 300, at=T0 + 2))
    state = outcome.state
    assert ranking(state) == [("s1", 300)]
    history = [(b.bid_id, b.amount, state.is_live(b)) for b in state.history()]
    assert history == [("a1:3", 200, False), ("a1:4", 300, True)]


def test_example_3_revoking_the_leading_bid() -> None:
    scenario = open_auction().after(bid(S1, 175), at=T0 + 1).after(bid(S2, 200), at=T0 + 2)
    outcome = scenario.when(revoke(S1), at=T0 + 3)
    outcome.then(revoked(S1, 3, at=T0 + 3))
    state = outcome.state
    assert ranking(state) == [("s2", 200)]
    assert "a1:3" not in state.bids and [b.bid_id for b in state.history()] == ["a1:3", "a1:4"]
    assert state.live["p1"] == {"s2": "a1:4"}


def test_example_8_totals_of_the_single_supplier_solutions() -> None:
    scenario = (
        open_auction(products=2)
        .after(bid(S1, {"p1": 200, "p2": 300}), at=T0 + 1)
        .after(bid(S2, {"p1": 250, "p2": 200}), at=T0 + 2)
        .after(TICK, at=CLOSES)
    )
    now = CLOSES + 1
    scenario.when(select(BUYER, "a1:5", "a1:6"), at=now).then(
        selected(BUYER, 5, 6, at=now, total=675_000)  # 6 750.00
    )
    scenario.when(select(BUYER, "a1:3", "a1:4"), at=now).then(
        selected(BUYER, 3, 4, at=now, total=750_000)  # 7 500.00
    )
    # A custom solution mixing suppliers (both allow a split): 2.00 S1 + 2.00 S2.
    scenario.when(select(BUYER, "a1:3", "a1:6"), at=now).then(
        selected(BUYER, 3, 6, at=now, total=600_000)
    )


def test_example_9_off_tick_amount_is_refused() -> None:
    open_auction().when(bid(S1, 295), at=OPEN_AT).then_refused(
        "invalid", "amount must be a multiple of 0.25"
    )
    open_auction().when(bid(S1, 300), at=OPEN_AT).then(placed(3, S1, 300, at=OPEN_AT))


def test_ties_are_broken_by_original_time_entered_not_by_supplier() -> None:
    state = (
        open_auction()
        .after(bid(S3, 200), at=T0 + 1)
        .after(bid(S1, 200), at=T0 + 2)
        .after(bid(S2, 200), at=T0 + 3)
        .state
    )
    assert state is not None
    assert ranking(state) == [("s3", 200), ("s1", 200), ("s2", 200)]


def test_re_entering_the_same_amount_loses_the_original_time() -> None:
    state = (
        open_auction()
        .after(bid(S1, 200), at=T0 + 1)
        .after(bid(S2, 200), at=T0 + 2)
        .after(bid(S1, 200), at=T0 + 3)
        .state
    )
    assert state is not None
    assert ranking(state) == [("s2", 200), ("s1", 200)]


def test_bids_in_the_same_instant_rank_in_the_order_received() -> None:
    state = open_auction().after(bid(S2, 200), at=OPEN_AT).after(bid(S1, 200), at=OPEN_AT).state
    assert state is not None
    assert ranking(state) == [("s2", 200), ("s1", 200)]


def test_a_supplier_may_raise_its_price_and_lose_the_lead() -> None:
    scenario = open_auction().after(bid(S1, 175), at=T0 + 1).after(bid(S2, 200), at=T0 + 2)
    outcome = scenario.when(bid(S1, 225), at=T0 + 3).then(placed(5, S1, 225, at=T0 + 3))
    assert ranking(outcome.state) == [("s2", 200), ("s1", 225)]
    assert outcome.state.leader("p1") == "s2"


def test_rankings_are_per_product() -> None:
    state = (
        open_auction(products=2)
        .after(bid(S1, {"p1": 200, "p2": 300}), at=T0 + 1)
        .after(bid(S2, {"p2": 275}), at=T0 + 2)
        .state
    )
    assert state is not None
    assert ranking(state, "p1") == [("s1", 200)]
    assert ranking(state, "p2") == [("s2", 275), ("s1", 300)]


# --- pending bids ---------------------------------------------------------------------------


def test_a_pending_bid_is_recorded_but_not_ranked_until_the_start() -> None:
    at = CREATED_AT + MINUTE
    outcome = given(pending()).when(bid(S1, 200), at=at)
    outcome.then(placed(2, S1, 200, at=at))  # no soft close while pending
    scenario = outcome.and_then().after(bid(S2, 175), at=at + 1).after(bid(S3, 175), at=at + 2)
    state = scenario.state
    assert state is not None and state.status == "pending"
    assert len(state.live_bids("p1")) == 3
    assert ranking(state) == []
    assert state.leader("p1") is None
    # At the start the pending bids are ranked by their original time entered.
    started = scenario.after(TICK, at=T0).state
    assert started is not None and started.status == "open"
    assert ranking(started) == [("s2", 175), ("s3", 175), ("s1", 200)]


def test_a_pending_bid_may_be_revoked_and_replaced() -> None:
    at = CREATED_AT + MINUTE
    scenario = given(pending()).after(bid(S1, 200), at=at)
    scenario.when(revoke(S1), at=at + 1).then(revoked(S1, 2, at=at + 1))
    state = scenario.after(bid(S1, 150), at=at + 1).after(TICK, at=T0).state
    assert state is not None
    assert ranking(state) == [("s1", 150)]


# --- history, ids, replay -------------------------------------------------------------------


def test_history_keeps_every_bid_in_order_with_its_status() -> None:
    state = (
        open_auction()
        .after(bid(S1, 300), at=T0 + 1)
        .after(bid(S1, 275), at=T0 + 2)
        .after(bid(S2, 250), at=T0 + 3)
        .after(revoke(S2), at=T0 + 4)
        .after(bid(S2, 225), at=T0 + 5)
        .state
    )
    assert state is not None
    history = [(b.bid_id, b.supplier_id, b.amount, state.is_live(b)) for b in state.history()]
    assert history == [
        ("a1:3", "s1", 300, False),
        ("a1:4", "s1", 275, True),
        ("a1:5", "s2", 250, False),
        ("a1:7", "s2", 225, True),
    ]
    assert ranking(state) == [("s2", 225), ("s1", 275)]
    assert state.bidders == {"s1": True, "s2": True}


def test_revoke_withdraws_only_that_product() -> None:
    scenario = open_auction(products=2).after(bid(S1, {"p1": 200, "p2": 300}), at=T0 + 1)
    outcome = scenario.when(revoke(S1, "p2"), at=T0 + 2)
    outcome.then(revoked(S1, 4, at=T0 + 2, product_id="p2"))
    assert isinstance(outcome.events and outcome.events[0], BidsRevoked)
    assert ranking(outcome.state, "p1") == [("s1", 200)]
    assert ranking(outcome.state, "p2") == []


def test_bid_ids_are_the_auction_and_the_seq_of_their_event() -> None:
    assert bid_id_for("a1", 7) == "a1:7"
    scenario = (
        open_auction(products=2)
        .after(bid(S1, 200), at=T0 + 1)
        .after(revoke(S1), at=T0 + 2)
        .after(bid(S2, {"p1": 225, "p2": 250}), at=T0 + 3)
    )
    state = scenario.state
    assert state is not None
    assert [b.bid_id for b in state.history()] == ["a1:3", "a1:5", "a1:6"]
    assert all(b.bid_id == f"a1:{b.seq}" for b in state.history())
    assert state.seq == len(scenario.events) == 6


def test_replay_gives_identical_ids_and_state() -> None:
    scenario = (
        open_auction(products=2)
        .after(bid(S1, {"p1": 200, "p2": 300}), at=T0 + 1)
        .after(bid(S2, 175), at=T0 + 2)
        .after(revoke(S1, "p2"), at=T0 + 3)
        .after(bid(S3, {"p2": 325}), at=T0 + 4)
    )
    live = scenario.state
    # Through the wire format and back, then folded from scratch.
    wire = msgspec.json.encode(scenario.events)
    decoded = msgspec.json.decode(wire, type=list[AnyEvent])
    assert decoded == scenario.events
    assert encode(fold_events(decoded)) == encode(live)
    # Deciding the same commands on a replayed state gives the same ids.
    replayed = Scenario(decoded)
    replayed.when(bid(S2, 150), at=T0 + 5).then(placed(8, S2, 150, at=T0 + 5))


@pytest.mark.parametrize(
    "stale",
    [
        revoked(S1, 3, at=T0 + 3),  # replaced by a1:4
        revoked(S1, 9, at=T0 + 3),  # never placed
        revoked(S2, 4, at=T0 + 3),  # S1's
        triggered(5, S1, 200, replaces=3, at=T0 + 3),
    ],
)
def test_an_event_about_a_bid_that_is_not_live_cannot_be_applied(stale: AnyEvent) -> None:
    """Only a live bid can be revoked or re-entered: a stored event naming another one is
    damage (replay and `verify` name its seq), never a silent no-op."""
    history = [*opened(), placed(3, S1, 300, at=T0 + 1), placed(4, S1, 250, at=T0 + 2)]
    with pytest.raises(ReplayError, match="live"):
        fold_events([*history, stale])

"""PROTOCOL.md 1.1, "Bounds" in the domain (issue 9, items 1, 12 and 13): times, durations,
months, free text and list sizes, each refused ``invalid`` naming the field; decimal durations
exact and kept as sent; old stored events (integer durations) decode and replay as before."""

from __future__ import annotations

import msgspec
import pytest

from auctionactors.domain.bounds import MAX_INSTANT, MIN_INSTANT, is_blank
from auctionactors.domain.commands import DeleteComment, PostComment, SelectSolution, SubmitBarge
from auctionactors.domain.events import AnyEvent, Barge
from auctionactors.domain.parties import Party
from auctionactors.domain.terms import ProductSpec, Vessel
from auctionactors.domain.timestamps import SECOND, parse_instant, seconds
from tests.domain.scenario import (
    BUYER,
    CLOSES,
    CREATED_AT,
    DECISION_CLOSES,
    MINUTE,
    S1,
    T0,
    TICK,
    bid,
    create,
    created,
    draft,
    encode,
    fold_events,
    given,
    in_canceled,
    in_closed,
    in_decision,
    in_expired,
    make_terms,
    nothing,
    opened,
    spec,
    term_terms,
    update,
)

OPEN_AT = T0 + MINUTE
NOT_A_WINDOW = (
    "soft_close_s (the soft-close window) must be a number of seconds between 0 s and 1 day"
)


def refused(terms_overrides: dict[str, object], message: str) -> None:
    outcome = nothing().when(create(BUYER, make_terms(**terms_overrides)), at=CREATED_AT)
    outcome.then_refused("invalid", message)


# --- times ----------------------------------------------------------------------------------


def test_the_bounds_are_2000_inclusive_to_2100_exclusive() -> None:
    assert parse_instant("2000-01-01T00:00:00Z") == MIN_INSTANT
    assert parse_instant("2100-01-01T00:00:00Z") == MAX_INSTANT
    assert parse_instant("2099-12-31T23:00:00-01:00") == MAX_INSTANT


@pytest.mark.parametrize(
    ("field", "value"),
    [("scheduled_start", MAX_INSTANT), ("scheduled_start", 10**30)],
)
def test_a_start_out_of_bounds_is_refused(field: str, value: int) -> None:
    refused(
        {field: value}, f"{field} must be from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z"
    )


def test_eta_and_etd_out_of_bounds_are_refused() -> None:
    vessel = Vessel("V", "1")
    early = ProductSpec(vessel=vessel, fuel="MGO", quantity_mt=1, eta=MIN_INSTANT - 1)
    refused(
        {"products": (early,)},
        "product 1: eta must be from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z",
    )
    late = ProductSpec(vessel=vessel, fuel="MGO", quantity_mt=1, eta=T0, etd=MAX_INSTANT)
    refused(
        {"products": (late,)},
        "product 1: etd must be from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z",
    )
    edges = ProductSpec(
        vessel=vessel, fuel="MGO", quantity_mt=1, eta=MIN_INSTANT, etd=MAX_INSTANT - 1
    )
    terms = make_terms(products=(edges,), scheduled_start=None)
    assert nothing().when(create(BUYER, terms), at=CREATED_AT).error is None


def test_an_edit_is_bounded_too() -> None:
    given(draft()).when(update(BUYER, scheduled_start=-1), at=CREATED_AT).then_refused(
        "invalid",
        "scheduled_start must be from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z",
    )


# --- durations ------------------------------------------------------------------------------


def test_decimal_seconds_are_exact_microseconds() -> None:
    assert seconds(0.1) == 100_000
    assert seconds(90.125) == 90_125_000
    assert seconds(0.3) == 300_000  # 0.1 + 0.2 style float surprises do not reach instants
    assert seconds(2_592_000.999) == 2_592_000_999_000
    assert seconds(600) == 600 * SECOND
    with pytest.raises(ValueError):
        seconds(float("inf"))
    with pytest.raises(ValueError):
        seconds(1e-7)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration_s", 0, "duration_s (the bidding time) must be between 1 s and 30 days"),
        ("duration_s", 0.999, "duration_s (the bidding time) must be between 1 s and 30 days"),
        ("duration_s", 2_592_001, "duration_s (the bidding time) must be between 1 s and 30 days"),
        ("duration_s", 10**12, "duration_s (the bidding time) must be between 1 s and 30 days"),
        ("duration_s", 1.0005, "duration_s (the bidding time) may have at most 3 decimals (ms)"),
        (
            "decision_duration_s",
            2_592_000.001,
            "decision_duration_s (the decision time) must be between 1 s and 30 days",
        ),
        (
            "soft_close_s",
            86_400.5,
            "soft_close_s (the soft-close window) must be between 0 s and 1 day",
        ),
        (
            "soft_close_s",
            float("nan"),
            NOT_A_WINDOW,
        ),
        (
            "soft_close_s",
            True,
            NOT_A_WINDOW,
        ),
    ],
)
def test_durations_out_of_bounds_are_refused(field: str, value: object, message: str) -> None:
    refused({field: value}, message)


def test_a_decimal_duration_drives_the_deadlines_exactly() -> None:
    terms = make_terms(duration_s=1.1, decision_duration_s=0.001 + 1, soft_close_s=0.25)
    scenario = given(created(terms)).after(TICK, at=T0)
    state = scenario.state
    assert state is not None and state.closes_at == T0 + 1_100_000
    ended = scenario.after(TICK, at=T0 + 1_100_000).state
    assert ended is not None and ended.decision_closes_at == T0 + 1_100_000 + 1_001_000


def test_durations_round_trip_through_the_store_as_sent() -> None:
    """Integers stay integers (a protocol 1 client that sent 600 sees 600), decimals stay the
    same decimals, and replaying the stored events gives the same state."""
    for terms in (make_terms(), make_terms(duration_s=90.125, soft_close_s=0.5)):
        events = [created(terms)]
        stored = msgspec.json.encode(events)
        decoded = msgspec.json.decode(stored, type=list[AnyEvent])
        assert decoded == events
        replayed, live = fold_events(decoded), fold_events(events)
        assert replayed is not None and live is not None
        assert encode(replayed) == encode(live)
        assert type(replayed.terms.duration_s) is type(terms.duration_s)


def test_an_event_stored_before_decimal_durations_decodes_as_before() -> None:
    old = created(make_terms())
    data = msgspec.json.encode(old)
    assert b'"duration_s":600' in data and b'"soft_close_s":180' in data
    assert msgspec.json.decode(data, type=AnyEvent) == old


# --- months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "month", "message"),
    [
        ("start_month", "0000-01", "start_month must be a month from 2000-01 to 2099-12"),
        ("start_month", "1999-12", "start_month must be a month from 2000-01 to 2099-12"),
        ("end_month", "2100-01", "end_month must be a month from 2000-01 to 2099-12"),
        (
            "start_month",
            "\u0662\u0660\u0662\u0667-01",
            "start_month must be a month written YYYY-MM",
        ),
        ("end_month", "2027-03\n", "end_month must be a month written YYYY-MM"),
    ],
)
def test_months_out_of_bounds_are_refused(field: str, month: str, message: str) -> None:
    outcome = nothing().when(create(BUYER, term_terms(**{field: month})), at=CREATED_AT)
    outcome.then_refused("invalid", message)


# --- free text ------------------------------------------------------------------------------


def test_blank_means_nothing_visible() -> None:
    for text in (
        "",
        " ",
        "\t\n",
        "\u200b",
        "\u200d\ufeff",
        "\u00a0",
        "\u2028\u2029",
        "\u3000",
        "\x00",
    ):
        assert is_blank(text), repr(text)
    for text in ("a", " x ", "\u200bx", "é", "\u4e2d"):
        assert not is_blank(text), repr(text)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"port": "\u200b"}, "port must not be empty"),
        ({"port": "p" * 2001}, "port must be at most 2000 characters"),
        ({"po": ""}, "po (PO) must not be empty"),
        ({"buyer_reference": " \u200b "}, "buyer_reference (buyer reference) must not be empty"),
        (
            {"additional_information": "i" * 2001},
            "additional_information must be at most 2000 characters",
        ),
        ({"port_agent": "\ufeff"}, "port_agent must not be empty"),
        ({"products": (spec(1, fuel="\u2060"),)}, "product 1: fuel must not be empty"),
    ],
)
def test_free_text_in_the_terms_is_bounded(overrides: dict[str, object], message: str) -> None:
    refused(overrides, message)


def test_optional_text_may_be_absent_and_2000_characters_are_fine() -> None:
    terms = make_terms(port="p" * 2000, po=None, additional_information="i" * 2000)
    assert nothing().when(create(BUYER, terms), at=CREATED_AT).error is None


def test_term_fuel_and_index_are_bounded() -> None:
    for field in ("fuel", "fuel_index"):
        terms = term_terms("formula_related", **{field: "\u200b"})
        outcome = nothing().when(create(BUYER, terms), at=CREATED_AT)
        outcome.then_refused("invalid", f"{field} must not be empty")


def test_bid_comments_selection_text_barges_and_comments_are_bounded() -> None:
    given(opened()).when(bid(S1, 200, comment="c" * 60_000), at=OPEN_AT).then_refused(
        "invalid", "the comment of the bid on p1 must be at most 2000 characters"
    )
    given(opened()).when(bid(S1, 200, comment="\u200b"), at=OPEN_AT).then_refused(
        "invalid", "the comment of the bid on p1 must not be empty"
    )
    given(opened()).when(PostComment(by=S1, text="\u200b\u200b"), at=OPEN_AT).then_refused(
        "invalid", "text must not be empty"
    )
    barge = Barge("n" * 10_000, "9400001")
    given(opened()).when(SubmitBarge(by=S1, barge=barge), at=OPEN_AT).then_refused(
        "invalid", "barge name must be at most 2000 characters"
    )
    decision = given(in_decision()).after(TICK, at=CLOSES)
    for fields, message in (
        ({"comment": " "}, "comment must not be empty"),
        ({"port_agent": "a" * 2001}, "port_agent must be at most 2000 characters"),
    ):
        command = SelectSolution(by=BUYER, solution="best_overall", **fields)  # type: ignore[arg-type]
        decision.when(command, at=CLOSES + 1).then_refused("invalid", message)


# --- list sizes -----------------------------------------------------------------------------


def test_lists_are_bounded() -> None:
    refused({"products": tuple(spec(n) for n in range(1, 22))}, "at most 20 products per auction")
    many = tuple(Party(f"x{n}", f"X {n}") for n in range(101))
    refused({"suppliers": many}, "at most 100 suppliers per auction")
    ok = make_terms(products=tuple(spec(n) for n in range(1, 21)), suppliers=many[:100])
    assert nothing().when(create(BUYER, ok), at=CREATED_AT).error is None


def test_a_request_has_at_most_one_bid_per_product() -> None:
    given(opened()).when(bid(S1, {"p1": 200, "p9": 100}), at=OPEN_AT).then_refused(
        "invalid", "bids: at most one per product, 1 in this auction"
    )


# --- comments once final ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "status"),
    [(in_closed, "closed"), (in_canceled, "canceled"), (in_expired, "expired")],
)
def test_a_comment_cannot_be_deleted_once_the_auction_is_final(
    history: object, status: str
) -> None:
    posted = given(opened()).after(PostComment(by=S1, text="hello"), at=OPEN_AT)
    comment_id = f"a1:c{len(posted.events)}"
    events = [*posted.events]
    final = history()  # type: ignore[operator]
    events += final[2:]  # the final auction's events after created and started
    scenario = given(events)
    state = scenario.state
    assert state is not None and state.status == status
    scenario.when(DeleteComment(by=S1, comment_id=comment_id), at=DECISION_CLOSES + 1).then_refused(
        "wrong_status", f"comments cannot be deleted when the auction is {status}"
    )
